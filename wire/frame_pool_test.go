package wire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"testing"
)

// TestFramePoolClasses checks the size-class arithmetic: a buffer taken
// from the class chosen for n always holds n bytes, and a buffer is never
// put in a class promising more than its capacity.
func TestFramePoolClasses(t *testing.T) {
	for _, n := range []int{0, 1, minPooledFrame - 1, minPooledFrame, minPooledFrame + 1, 1 << 20, 1<<20 + 1, 3 << 20, 32 << 20, 32<<20 + 1, 100 << 20} {
		if c := poolClassFor(n); c >= 0 && minPooledFrame<<c < n {
			t.Errorf("poolClassFor(%d) = %d, whose buffers hold only %d bytes", n, c, minPooledFrame<<c)
		}
		if c := poolClassOf(n); c >= 0 && minPooledFrame<<c > n {
			t.Errorf("poolClassOf(%d) = %d, which promises %d bytes", n, c, minPooledFrame<<c)
		} else if n >= minPooledFrame && c < 0 {
			t.Errorf("poolClassOf(%d) = -1 for a poolable size", n)
		}
	}
}

// TestFrameReaderReusesPooledBuffers reads frames of mixed sizes through one
// reader, so later frames land in pooled buffers larger than they are; each
// must come back with exactly its own bytes.
func TestFrameReaderReusesPooledBuffers(t *testing.T) {
	sizes := []int{10, 3 << 20, 100, 1 << 20, 70 << 10, 3<<20 - 5, 0, 5}
	var stream []byte
	for i, n := range sizes {
		stream = binary.BigEndian.AppendUint32(stream, uint32(n))
		stream = append(stream, bytes.Repeat([]byte{byte(i + 1)}, n)...)
	}
	fr := newFrameReader(bufio.NewReader(bytes.NewReader(stream)), 0)
	defer fr.release()
	for i, n := range sizes {
		f, err := fr.next()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !bytes.Equal(f, bytes.Repeat([]byte{byte(i + 1)}, n)) {
			t.Fatalf("frame %d: got %d bytes, want %d bytes of %d", i, len(f), n, i+1)
		}
	}
}

// TestFramePoolReusesGrownBuffer checks that a buffer grown for a frame just
// over a class boundary serves the next frame of that size (it lands in the
// class below the one that guarantees the size).
func TestFramePoolReusesGrownBuffer(t *testing.T) {
	n := 1<<20 + 100
	b := make([]byte, n, n+n/4)
	// sync.Pool may drop a Put (at random under the race detector, and at
	// a GC), so try a few times and require one hit.
	for range 10 {
		putFrameBuffer(b)
		if got := getFrameBuffer(n); got != nil {
			if cap(got) < n {
				t.Fatalf("got a buffer of %d bytes for a %d-byte frame", cap(got), n)
			}
			return
		}
	}
	t.Fatal("a pooled buffer big enough for the frame was never reused")
}
