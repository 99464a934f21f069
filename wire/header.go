package wire

import (
	"encoding/binary"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// apiVersionsKey is ApiVersions, whose response always uses header v0
// (KIP-511) so a client can read it before it knows the broker's versions.
const apiVersionsKey = 18

// controlledShutdownKey is ControlledShutdown, whose v0 request uses header
// v0: no client id.
const controlledShutdownKey = 7

// RequestHeader is the decoded request header (v0, v1 or v2).
type RequestHeader struct {
	APIKey        int16
	APIVersion    int16
	CorrelationID int32
	// ClientID is nil when the client sent a null client id.
	ClientID *string
}

// clientID returns the client id for logs, "" when null.
func (h *RequestHeader) clientID() string {
	if h.ClientID == nil {
		return ""
	}
	return *h.ClientID
}

// ParseRequest decodes one frame body (without the size prefix) into its
// header and request. The header version (v1 or v2 with tagged fields) follows
// the flexibility of the API at that version. It returns an *UnsupportedError
// when versions does not contain the key and version (the header is still
// filled in so the caller can answer or log), and a decode error wrapping
// ErrMalformedRequest for bytes that do not parse.
//
// Byte-slice fields of the request (a Produce request's records) alias frame.
func ParseRequest(frame []byte, versions Versions) (RequestHeader, kmsg.Request, error) {
	var hdr RequestHeader
	if len(frame) < 8 {
		return hdr, nil, fmt.Errorf("%w: request header needs 8 bytes, frame has %d", ErrMalformedRequest, len(frame))
	}
	hdr.APIKey = int16(binary.BigEndian.Uint16(frame[0:]))
	hdr.APIVersion = int16(binary.BigEndian.Uint16(frame[2:]))
	hdr.CorrelationID = int32(binary.BigEndian.Uint32(frame[4:]))
	rest := frame[8:]

	if hdr.APIKey != controlledShutdownKey || hdr.APIVersion != 0 {
		if len(rest) < 2 {
			return hdr, nil, fmt.Errorf("%w: truncated client id", ErrMalformedRequest)
		}
		n := int(int16(binary.BigEndian.Uint16(rest)))
		rest = rest[2:]
		switch {
		case n == -1:
		case n < -1 || n > len(rest):
			return hdr, nil, fmt.Errorf("%w: client id length %d with %d bytes left", ErrMalformedRequest, n, len(rest))
		default:
			id := string(rest[:n])
			hdr.ClientID = &id
			rest = rest[n:]
		}
	}

	req := kmsg.RequestForKey(hdr.APIKey)
	if req == nil || hdr.APIVersion < 0 || hdr.APIVersion > req.MaxVersion() || !versions.Supports(hdr.APIKey, hdr.APIVersion) {
		return hdr, nil, &UnsupportedError{APIKey: hdr.APIKey, APIVersion: hdr.APIVersion}
	}
	req.SetVersion(hdr.APIVersion)
	if req.IsFlexible() {
		var err error
		if rest, err = skipTaggedFields(rest); err != nil {
			return hdr, nil, fmt.Errorf("%w: request header tagged fields: %v", ErrMalformedRequest, err)
		}
	}
	if err := req.ReadFrom(rest); err != nil {
		return hdr, nil, fmt.Errorf("%w: api key %d version %d: %v", ErrMalformedRequest, hdr.APIKey, hdr.APIVersion, err)
	}
	return hdr, req, nil
}

// skipTaggedFields skips a KIP-482 tagged-field section: a uvarint count,
// then for each field a uvarint tag, a uvarint size and size bytes. The
// broker knows no request-header tags, so all are skipped.
func skipTaggedFields(b []byte) ([]byte, error) {
	count, n := binary.Uvarint(b)
	if n <= 0 || count > 1<<31 {
		return nil, fmt.Errorf("bad tag count")
	}
	b = b[n:]
	for i := uint64(0); i < count; i++ {
		if _, n = binary.Uvarint(b); n <= 0 {
			return nil, fmt.Errorf("bad tag %d", i)
		}
		b = b[n:]
		size, n := binary.Uvarint(b)
		if n <= 0 || size > uint64(len(b)-n) {
			return nil, fmt.Errorf("bad size of tag %d", i)
		}
		b = b[n+int(size):]
	}
	return b, nil
}

// AppendResponse appends a complete response frame to dst: the int32 size,
// the response header (correlation id, plus an empty tagged-field section
// when the response is flexible, except for ApiVersions which always uses
// header v0), then the body encoded at resp's version.
func AppendResponse(dst []byte, correlationID int32, resp kmsg.Response) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(correlationID))
	if resp.IsFlexible() && resp.Key() != apiVersionsKey {
		dst = append(dst, 0)
	}
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}
