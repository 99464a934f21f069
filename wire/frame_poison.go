package wire

// poisonByte fills a request frame's buffer when it goes back to the pool
// in builds with poisonReleasedFrames: a handler that kept a slice of its
// request past its response (a record batch, a group's protocol metadata)
// then reads 0xDB bytes instead of another connection's request that
// happens to look valid, so the bug fails the test that exercises it.
const poisonByte = 0xDB

// poison overwrites the whole capacity of a released frame buffer.
func poison(b []byte) {
	b = b[:cap(b)]
	for i := range b {
		b[i] = poisonByte
	}
}
