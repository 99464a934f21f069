package wire

import (
	"math/bits"
	"sync"
)

// Frame buffers are shared by all connections through size-class pools
// instead of being kept per connection: a producer sending 1 MiB batches
// reuses one buffer for every request (without the pools a buffer above
// maxRetainedBuffer was dropped after each request and regrown, which was
// most of the broker's allocation and a tenth of its CPU), and an idle
// connection holds no buffer at all.
//
// The pools are a cache, not state: what a connection reads never depends
// on which buffer it gets.
const (
	minPooledFrame = 64 << 10 // class 0 holds buffers of at least 64 KiB
	framePoolSizes = 10       // ... up to class 9: 32 MiB and more
)

// framePools[c] holds *[]byte with capacity in [64 KiB << c, 64 KiB << (c+1)),
// the last class without an upper bound.
var framePools [framePoolSizes]sync.Pool

// poolClassFor is the smallest class whose buffers all hold n bytes, or -1
// when no class guarantees it.
func poolClassFor(n int) int {
	if n <= minPooledFrame {
		return 0
	}
	c := bits.Len(uint((n - 1) / minPooledFrame)) // 64K<<c >= n
	if c >= framePoolSizes {
		return -1
	}
	return c
}

// poolClassOf is the class a buffer of capacity c goes back to, or -1 when it
// is too small to pool.
func poolClassOf(c int) int {
	if c < minPooledFrame {
		return -1
	}
	return min(bits.Len(uint(c/minPooledFrame))-1, framePoolSizes-1)
}

// getFrameBuffer returns a pooled buffer with room for n bytes, or nil when
// none is pooled: the caller then grows one as the bytes arrive, so a peer
// announcing a huge frame cannot make the broker allocate it up front.
func getFrameBuffer(n int) []byte {
	c := poolClassFor(n)
	if c < 0 {
		return nil
	}
	// The class below (whose larger buffers may fit: a buffer grown for a
	// frame just over 1 MiB lands there), the class that always fits,
	// then the next one up; a small frame does not take the biggest
	// buffers.
	for c, end := max(c-1, 0), min(c+2, framePoolSizes); c < end; c++ {
		if p, _ := framePools[c].Get().(*[]byte); p != nil {
			if cap(*p) >= n {
				return (*p)[:0]
			}
			framePools[c].Put(p)
		}
	}
	return nil
}

// putFrameBuffer returns b to its pool.
func putFrameBuffer(b []byte) {
	if poisonReleasedFrames {
		poison(b)
	}
	if c := poolClassOf(cap(b)); c >= 0 {
		b = b[:0]
		framePools[c].Put(&b)
	}
}
