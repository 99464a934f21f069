package broker

import (
	"encoding/binary"
	"hash/crc32"
)

// testRecord is one record for testBatch.
type testRecord struct {
	key, value []byte
	tsDelta    int64
	headers    [][2]string // key, value
}

// testBatchOpts are the header fields of a test batch.
type testBatchOpts struct {
	producerID    int64
	producerEpoch int16
	baseSequence  int32
	baseTimestamp int64
	attributes    int16
	// compress, when set, compresses the records section; attributes must
	// name the codec.
	compress func([]byte) []byte
}

// plainBatch is a non-idempotent batch of n records with values "v0".."vn".
func plainBatch(n int, baseTS int64) []byte {
	rs := make([]testRecord, n)
	for i := range rs {
		rs[i] = testRecord{value: []byte{'v', byte('0' + i%10)}, tsDelta: int64(i)}
	}
	return testBatch(testBatchOpts{producerID: -1, producerEpoch: -1, baseSequence: -1, baseTimestamp: baseTS}, rs)
}

// idempotentBatch is a batch of n records from producer pid/epoch starting
// at sequence seq.
func idempotentBatch(pid int64, epoch int16, seq int32, n int, baseTS int64) []byte {
	rs := make([]testRecord, n)
	for i := range rs {
		rs[i] = testRecord{value: []byte("x"), tsDelta: int64(i)}
	}
	return testBatch(testBatchOpts{producerID: pid, producerEpoch: epoch, baseSequence: seq, baseTimestamp: baseTS}, rs)
}

// testBatch encodes an uncompressed magic-v2 record batch with a valid
// CRC-32C, the way a producer sends it (base offset 0).
func testBatch(o testBatchOpts, rs []testRecord) []byte {
	var recs []byte
	maxTS := o.baseTimestamp
	for i, r := range rs {
		var body []byte
		body = append(body, 0) // attributes
		body = binary.AppendVarint(body, r.tsDelta)
		body = binary.AppendVarint(body, int64(i))
		if r.key == nil {
			body = binary.AppendVarint(body, -1)
		} else {
			body = binary.AppendVarint(body, int64(len(r.key)))
			body = append(body, r.key...)
		}
		body = binary.AppendVarint(body, int64(len(r.value)))
		body = append(body, r.value...)
		body = binary.AppendVarint(body, int64(len(r.headers)))
		for _, h := range r.headers {
			for _, f := range h {
				body = binary.AppendVarint(body, int64(len(f)))
				body = append(body, f...)
			}
		}
		recs = binary.AppendVarint(recs, int64(len(body)))
		recs = append(recs, body...)
		maxTS = max(maxTS, o.baseTimestamp+r.tsDelta)
	}
	if o.compress != nil {
		recs = o.compress(recs)
	}
	b := make([]byte, 61, 61+len(recs))
	be := binary.BigEndian
	be.PutUint64(b[0:], 0)
	be.PutUint32(b[8:], uint32(61-12+len(recs)))
	be.PutUint32(b[12:], 0xffffffff) // partition leader epoch -1
	b[16] = 2
	be.PutUint16(b[21:], uint16(o.attributes))
	be.PutUint32(b[23:], uint32(len(rs)-1))
	be.PutUint64(b[27:], uint64(o.baseTimestamp))
	be.PutUint64(b[35:], uint64(maxTS))
	be.PutUint64(b[43:], uint64(o.producerID))
	be.PutUint16(b[51:], uint16(o.producerEpoch))
	be.PutUint32(b[53:], uint32(o.baseSequence))
	be.PutUint32(b[57:], uint32(len(rs)))
	b = append(b, recs...)
	be.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}
