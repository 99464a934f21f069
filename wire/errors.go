package wire

import (
	"errors"
	"fmt"
)

// Record-batch validation errors. The broker maps them to Kafka error codes:
// CORRUPT_MESSAGE, INVALID_RECORD, MESSAGE_TOO_LARGE and
// UNSUPPORTED_COMPRESSION_TYPE.
var (
	ErrCorruptMessage         = errors.New("corrupt record batch")
	ErrInvalidRecord          = errors.New("invalid record")
	ErrMessageTooLarge        = errors.New("record batch too large")
	ErrUnsupportedCompression = errors.New("unsupported compression type")
)

// Framing and request errors.
var (
	// ErrMalformedRequest means the request bytes do not decode.
	ErrMalformedRequest = errors.New("malformed request")
	// ErrFrameTooLarge means a frame exceeds socket.request.max.bytes.
	ErrFrameTooLarge = errors.New("request frame too large")
)

// UnsupportedError says a request names an API key or version this broker
// does not implement.
type UnsupportedError struct {
	APIKey, APIVersion int16
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("unsupported api key %d version %d", e.APIKey, e.APIVersion)
}
