package wire

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// RequestHeader is the decoded request header (v0, v1 or v2).
type RequestHeader struct {
	APIKey        int16
	APIVersion    int16
	CorrelationID int32
	// ClientID is nil when the client sent a null client id.
	ClientID *string
}

// ParseRequest decodes one frame body (without the size prefix) into its
// header and request. The header version (v1 or v2 with tagged fields) follows
// the flexibility of the API at that version. It returns an *UnsupportedError
// when versions does not contain the key and version (the header is still
// filled in so the caller can answer or log), and a decode error wrapping
// ErrMalformedRequest for bytes that do not parse.
func ParseRequest(frame []byte, versions Versions) (RequestHeader, kmsg.Request, error) {
	panic("wire.ParseRequest: not implemented")
}

// AppendResponse appends a complete response frame to dst: the int32 size,
// the response header (correlation id, plus an empty tagged-field section
// when the response is flexible, except for ApiVersions which always uses
// header v0), then the body encoded at resp's version.
func AppendResponse(dst []byte, correlationID int32, resp kmsg.Response) []byte {
	panic("wire.AppendResponse: not implemented")
}
