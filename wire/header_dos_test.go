package wire

import (
	"encoding/binary"
	"errors"
	"runtime"
	"testing"
	"time"
)

// tagBombFrame is the 18-byte body (22 bytes with its size prefix) of an
// ApiVersions v3 request whose body declares 0xFFFFFFFF tagged fields and
// then ends. With kmsg v1.15.0 decoding it kept a core busy for over a minute
// counting the tags down after the input had run out.
func tagBombFrame() []byte {
	b := binary.BigEndian.AppendUint16(nil, apiVersionsKey) // api key
	b = binary.BigEndian.AppendUint16(b, 3)                 // version: flexible
	b = binary.BigEndian.AppendUint32(b, 1)                 // correlation id
	b = binary.BigEndian.AppendUint16(b, 0xffff)            // null client id
	b = append(b, 0)                                        // header: no tags
	b = append(b, 1, 1)                                     // two empty compact strings
	return binary.AppendUvarint(b, 0xFFFFFFFF)              // body tag count, and nothing after
}

// arrayBombFrame is a Produce v3 frame of size bytes whose topic array
// declares as many entries as the frame has bytes left. At 8 MiB, kmsg
// before v1.15.1 made the slice from the declared length (512 MiB of topic
// structs) before finding the input short.
func arrayBombFrame(size int) []byte {
	b := make([]byte, 0, size)
	b = binary.BigEndian.AppendUint16(b, 0)      // Produce
	b = binary.BigEndian.AppendUint16(b, 3)      // v3: not flexible
	b = binary.BigEndian.AppendUint32(b, 1)      // correlation id
	b = binary.BigEndian.AppendUint16(b, 0xffff) // null client id
	b = binary.BigEndian.AppendUint16(b, 0xffff) // null transactional id
	b = binary.BigEndian.AppendUint16(b, 1)      // acks
	b = binary.BigEndian.AppendUint32(b, 30000)  // timeout
	// The topic count is the number of bytes left, which passes a check
	// of one byte per element but not the six an empty topic takes.
	b = binary.BigEndian.AppendUint32(b, uint32(size-len(b)-4))
	return b[:size] // zeros: empty topic names, zero partitions
}

// TestParseRequestRejectsForgedCounts feeds the two frames from the
// hardening review (issue 13, item 1) to the request decoder. Each must be
// refused as malformed, the tag bomb without burning CPU (a deadline far
// above the microseconds it takes now and far below the minute it took
// before catches a regression) and the array bomb without allocating more
// than a small multiple of its own size.
func TestParseRequestRejectsForgedCounts(t *testing.T) {
	t.Run("tag count", func(t *testing.T) {
		frame := tagBombFrame()
		done := make(chan error, 1)
		go func() {
			_, _, err := ParseRequest(frame, testVersions)
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, ErrMalformedRequest) {
				t.Fatalf("ParseRequest = %v, want ErrMalformedRequest", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("ParseRequest still decoding an 18-byte frame after 10 s")
		}
	})
	t.Run("array length", func(t *testing.T) {
		frame := arrayBombFrame(8 << 20)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, _, err := ParseRequest(frame, testVersions)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrMalformedRequest) {
			t.Fatalf("ParseRequest = %v, want ErrMalformedRequest", err)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4*uint64(len(frame)) {
			t.Fatalf("decoding an %d-byte frame allocated %d bytes", len(frame), alloc)
		}
	})
}

// BenchmarkParseTagBomb times the rejection of the tag bomb.
func BenchmarkParseTagBomb(b *testing.B) {
	frame := tagBombFrame()
	for b.Loop() {
		if _, _, err := ParseRequest(frame, testVersions); err == nil {
			b.Fatal("tag bomb decoded")
		}
	}
}
