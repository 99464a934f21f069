package recordbatch

import (
	"encoding/binary"
	"testing"
)

// encode lays h out by hand, field after field, so that the test does not
// share the offsets it checks.
func encode(h Header, body []byte) []byte {
	be := binary.BigEndian
	b := be.AppendUint64(nil, uint64(h.BaseOffset))
	b = be.AppendUint32(b, uint32(h.BatchLength))
	b = be.AppendUint32(b, uint32(h.PartitionLeaderEpoch))
	b = append(b, byte(h.Magic))
	b = be.AppendUint32(b, h.CRC)
	b = be.AppendUint16(b, uint16(h.Attributes))
	b = be.AppendUint32(b, uint32(h.LastOffsetDelta))
	b = be.AppendUint64(b, uint64(h.BaseTimestamp))
	b = be.AppendUint64(b, uint64(h.MaxTimestamp))
	b = be.AppendUint64(b, uint64(h.ProducerID))
	b = be.AppendUint16(b, uint16(h.ProducerEpoch))
	b = be.AppendUint32(b, uint32(h.BaseSequence))
	b = be.AppendUint32(b, uint32(h.RecordCount))
	return append(b, body...)
}

func TestReadHeader(t *testing.T) {
	body := []byte("some records")
	want := Header{
		BaseOffset: 1 << 40, BatchLength: HeaderSize - LogOverhead + int32(len(body)),
		PartitionLeaderEpoch: 7, Magic: MagicV2, CRC: 0xdeadbeef, Attributes: AttrControl | 3,
		LastOffsetDelta: 4, BaseTimestamp: 1_700_000_000_000, MaxTimestamp: 1_700_000_000_999,
		ProducerID: 1 << 50, ProducerEpoch: 3, BaseSequence: 1 << 30, RecordCount: 5,
	}
	b := encode(want, body)
	if len(b)-len(body) != HeaderSize {
		t.Fatalf("hand-encoded header is %d bytes, HeaderSize %d", len(b)-len(body), HeaderSize)
	}
	got, ok := ReadHeader(b)
	if !ok || got != want {
		t.Fatalf("ReadHeader = %+v, %v; want %+v", got, ok, want)
	}
	if got.Size() != len(b) || got.LastOffset() != 1<<40+4 || got.Compression() != 3 || !got.IsControl() || got.IsTransactional() || got.IsLogAppendTime() {
		t.Fatalf("derived fields of %+v: size %d, last offset %d, codec %d", got, got.Size(), got.LastOffset(), got.Compression())
	}
	if _, ok := ReadHeader(b[:HeaderSize-1]); ok {
		t.Fatal("ReadHeader accepted a short header")
	}
}

func TestLastSequence(t *testing.T) {
	for _, tc := range []struct {
		base, delta, want int32
	}{
		{NoSequence, 4, NoSequence},
		{0, 0, 0},
		{0, 4, 4},
		{1<<31 - 5, 4, 1<<31 - 1},
		{1<<31 - 2, 3, 1}, // wraps past MaxInt32 to 0
	} {
		if got := (Header{BaseSequence: tc.base, LastOffsetDelta: tc.delta}).LastSequence(); got != tc.want {
			t.Errorf("base %d delta %d: LastSequence %d, want %d", tc.base, tc.delta, got, tc.want)
		}
	}
}

func TestCRC(t *testing.T) {
	body := make([]byte, 1000)
	for i := range body {
		body[i] = byte(i * 7)
	}
	b := encode(Header{BatchLength: HeaderSize - LogOverhead + int32(len(body)), Magic: MagicV2}, body)
	if CRCValid(b) {
		t.Fatal("a zero CRC field is valid")
	}
	SetCRC(b)
	if !CRCValid(b) {
		t.Fatal("invalid after SetCRC")
	}
	// Kafka's check value of CRC-32C for "123456789" is 0xe3069283; the
	// covered bytes start at the attributes.
	check := encode(Header{}, nil)[:CRCStart]
	check = append(check, "123456789"...)
	if got := Checksum(check); got != 0xe3069283 {
		t.Fatalf("Checksum of the check string = %#08x, want 0xe3069283", got)
	}
	// In pieces, as recovery reads a large batch.
	var crc uint32
	for p := CRCStart; p < len(b); p += 100 {
		crc = UpdateChecksum(crc, b[p:min(p+100, len(b))])
	}
	if crc != Checksum(b) {
		t.Fatalf("UpdateChecksum in pieces = %#08x, Checksum %#08x", crc, Checksum(b))
	}
	// Every byte the CRC covers matters; the base offset, length, epoch and
	// magic do not (the leader stamps offsets and epochs in place).
	for _, i := range []int{AttributesOffset, RecordCountOffset, len(b) - 1} {
		c := append([]byte(nil), b...)
		c[i] ^= 1
		if CRCValid(c) {
			t.Errorf("flipping byte %d kept the CRC valid", i)
		}
	}
	for _, i := range []int{BaseOffsetOffset, PartitionLeaderEpochOffset} {
		c := append([]byte(nil), b...)
		c[i] ^= 1
		if !CRCValid(c) {
			t.Errorf("flipping byte %d (outside the CRC) made it invalid", i)
		}
	}
}
