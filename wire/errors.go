package wire

import (
	"errors"
	"fmt"
)

// Record-batch validation errors. The broker maps them to Kafka error codes:
// CORRUPT_MESSAGE, INVALID_RECORD, MESSAGE_TOO_LARGE,
// UNSUPPORTED_COMPRESSION_TYPE and INVALID_TIMESTAMP.
//
// The split follows Kafka: bytes that do not decode (bad CRC, lengths that do
// not add up, truncation, a payload that does not decompress or decompresses
// beyond the bound) are ErrCorruptMessage (CorruptRecordException), while a
// well-formed batch that breaks a produce rule (wrong magic, more than one
// batch, record count or offset deltas inconsistent, a control batch from a
// client) is ErrInvalidRecord (InvalidRecordException).
var (
	ErrCorruptMessage         = errors.New("corrupt record batch")
	ErrInvalidRecord          = errors.New("invalid record")
	ErrMessageTooLarge        = errors.New("record batch too large")
	ErrUnsupportedCompression = errors.New("unsupported compression type")
	// ErrInvalidTimestamp means a producer sent a batch whose timestamp
	// type is LogAppendTime, which only the broker may set.
	ErrInvalidTimestamp = errors.New("invalid timestamp")
)

// Framing and request errors.
var (
	// ErrMalformedRequest means the request bytes do not decode.
	ErrMalformedRequest = errors.New("malformed request")
	// ErrFrameTooLarge means a frame exceeds socket.request.max.bytes
	// (Kafka's InvalidReceiveException, "larger than" the limit).
	ErrFrameTooLarge = errors.New("request frame too large")
	// ErrFrameSizeNegative means a frame announces a negative size: not a
	// Kafka client (an HTTP or TLS client on the plaintext port, say).
	ErrFrameSizeNegative = errors.New("request frame size is negative")
)

// Connection limits (ConnConfig).
var (
	// ErrConnIdle means no request arrived for ConnConfig.IdleTimeout
	// (connections.max.idle.ms).
	ErrConnIdle = errors.New("connection idle")
	// ErrWriteStalled means a response made no progress for
	// ConnConfig.WriteTimeout: the client stopped reading.
	ErrWriteStalled = errors.New("response write stalled")
)

// UnsupportedError says a request names an API key or version this broker
// does not implement.
type UnsupportedError struct {
	APIKey, APIVersion int16
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("unsupported api key %d version %d", e.APIKey, e.APIVersion)
}
