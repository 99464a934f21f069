package zkmeta

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
)

// Kafka prints a UUID (topic ids, cluster ids) as its 16 bytes in URL-safe
// base64 without padding: 22 characters (org.apache.kafka.common.Uuid).

// FormatUUID encodes id as Kafka's Uuid.toString does.
func FormatUUID(id [16]byte) string {
	return base64.RawURLEncoding.EncodeToString(id[:])
}

// ParseUUID decodes a 22-character base64url UUID (Uuid.fromString).
func ParseUUID(s string) ([16]byte, error) {
	var id [16]byte
	if len(s) != 22 {
		// Also rules out the line breaks Go's decoder would skip.
		return id, fmt.Errorf("uuid %q: %d characters, want 22", s, len(s))
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return id, fmt.Errorf("uuid %q: %w", s, err)
	}
	if len(b) != 16 {
		return id, fmt.Errorf("uuid %q: %d bytes, want 16", s, len(b))
	}
	copy(id[:], b)
	return id, nil
}

// NewUUID returns a random version-4 UUID that Kafka would also generate:
// never the zero id (Uuid.ZERO_UUID, "no id"), never the reserved metadata
// topic id (...0001), and never one whose string starts with '-', which
// command-line tools would take for a flag (Uuid.randomUuid's rules). It is
// the one UUID generator of gokafka: topic ids, cluster ids and group
// member ids all come from it.
func NewUUID() [16]byte {
	return newUUID(func(b []byte) {
		if _, err := rand.Read(b); err != nil {
			// crypto/rand does not fail on supported platforms.
			panic(fmt.Sprintf("crypto/rand: %v", err))
		}
	})
}

// newUUID is NewUUID with its source of random bytes given, for tests.
func newUUID(read func([]byte)) [16]byte {
	for {
		var id [16]byte
		read(id[:])
		id[6] = id[6]&0x0f | 0x40 // version 4
		id[8] = id[8]&0x3f | 0x80 // IETF variant
		if !reservedUUID(id) {
			return id
		}
	}
}

// reservedUUID reports whether Uuid.randomUuid would draw again on id: the
// zero id, the metadata topic id, or an id whose string starts with '-'.
// The version bits already rule out the first two; Kafka checks them all
// the same, and so do we.
func reservedUUID(id [16]byte) bool {
	return id == ([16]byte{}) || id == metadataTopicID || FormatUUID(id)[0] == '-'
}

// metadataTopicID is Uuid.METADATA_TOPIC_ID (0, 1), reserved by Kafka.
var metadataTopicID = [16]byte{15: 1}

// NewClusterID returns a fresh cluster id for ClusterID, as Kafka's
// CoreUtils.generateUuidAsBase64.
func NewClusterID() string { return FormatUUID(NewUUID()) }
