package wire

import (
	"encoding/binary"
	"math"
	"testing"
)

// TestCursorVarints checks the inline one- and two-byte varint paths and the
// general one against encoding/binary, at every length boundary, and that a
// varint cut by the end of the payload is an error rather than a value.
func TestCursorVarints(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 63, -64, 64, -65, 8191, -8192, 8192, -8193, 1 << 20, math.MaxInt32, math.MinInt32} {
		enc := binary.AppendVarint(nil, v)
		c := sliceCursor(enc)
		got, err := c.varint()
		if err != nil || int64(got) != v || c.pos != len(enc) {
			t.Errorf("varint(%x) = %d, %v, consumed %d; want %d, %d bytes", enc, got, err, c.pos, v, len(enc))
		}
		c = sliceCursor(enc)
		got64, err := c.varlong()
		if err != nil || got64 != v || c.pos != len(enc) {
			t.Errorf("varlong(%x) = %d, %v; want %d", enc, got64, err, v)
		}
		if len(enc) > 1 {
			c = sliceCursor(enc[:len(enc)-1])
			if _, err := c.varint(); err == nil {
				t.Errorf("varint of %x cut to %d bytes decoded", enc, len(enc)-1)
			}
		}
	}
	c := sliceCursor(binary.AppendVarint(nil, math.MaxInt32+1))
	if _, err := c.varint(); err == nil {
		t.Error("varint beyond int32 accepted")
	}
}
