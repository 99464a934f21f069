package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Fetch versions the file-region encoder knows; others are encoded by kmsg
// after the record sets are read into memory.
const (
	minFileFetchVersion = 4
	maxFileFetchVersion = 17
	firstFlexibleFetch  = 12
	firstTopicIDFetch   = 13
)

// FileRecords is a partition's record set still in a file: Length bytes of
// File from Offset. Release is called once when the bytes have been sent or
// the response is dropped; it may be nil.
type FileRecords struct {
	File    *os.File
	Offset  int64
	Length  int64
	Release func()
}

// fileSlot places a FileRecords at a partition of the response.
type fileSlot struct {
	topic, partition int
	rec              FileRecords
}

// FetchResponse is a Fetch response whose record sets may stay in segment
// files until they are written: on a TCP connection ServeConn writes the
// response header and partition headers from a buffer and each file region
// with sendfile, so record bytes go from the page cache to the socket
// without a copy through the heap. On any other connection (and for
// AppendTo) the regions are read into memory first.
//
// It embeds the kmsg response, so it is a kmsg.Response; a partition that
// has FileRecords ignores its RecordBatches.
type FetchResponse struct {
	*kmsg.FetchResponse
	files []fileSlot
}

// NewFetchResponse wraps resp.
func NewFetchResponse(resp *kmsg.FetchResponse) *FetchResponse {
	return &FetchResponse{FetchResponse: resp}
}

// SetFileRecords makes rec the record set of Topics[topic].Partitions[partition].
// Calls should follow the order of the partitions in the response, which is
// what the encoder walks; the response takes over rec's release.
func (r *FetchResponse) SetFileRecords(topic, partition int, rec FileRecords) {
	r.files = append(r.files, fileSlot{topic: topic, partition: partition, rec: rec})
}

// FileBytes is the number of record bytes held in files.
func (r *FetchResponse) FileBytes() int64 {
	var n int64
	for _, f := range r.files {
		n += f.rec.Length
	}
	return n
}

// EachFileRecords calls fn with the response position and length of every
// record set held in a file, in response order.
func (r *FetchResponse) EachFileRecords(fn func(topic, partition int, length int64)) {
	for _, f := range r.files {
		fn(f.topic, f.partition, f.rec.Length)
	}
}

// ReleaseFiles releases every file region and forgets them (before the
// response is rebuilt, or once it has been written).
func (r *FetchResponse) ReleaseFiles() {
	for i := range r.files {
		if rel := r.files[i].rec.Release; rel != nil {
			rel()
		}
	}
	clear(r.files)
	r.files = r.files[:0]
}

// Materialize reads every file region into its partition's RecordBatches
// and releases it. A region that cannot be read whole (its file was
// truncated under it) turns its partition into KAFKA_STORAGE_ERROR with no
// records; the errors are returned joined.
func (r *FetchResponse) Materialize() error {
	var errs []error
	for _, f := range r.files {
		p := &r.Topics[f.topic].Partitions[f.partition]
		buf := make([]byte, f.rec.Length)
		if _, err := f.rec.File.ReadAt(buf, f.rec.Offset); err != nil {
			errs = append(errs, fmt.Errorf("read %d bytes at %d of %s: %w", f.rec.Length, f.rec.Offset, f.rec.File.Name(), err))
			p.ErrorCode = kerr.KafkaStorageError.Code
			p.HighWatermark, p.LastStableOffset, p.LogStartOffset = -1, -1, -1
			buf = []byte{}
		}
		p.RecordBatches = buf
	}
	r.ReleaseFiles()
	return errors.Join(errs...)
}

// AppendTo encodes the response with every record set in memory: file
// regions are read first (see Materialize).
func (r *FetchResponse) AppendTo(dst []byte) []byte {
	_ = r.Materialize()
	return r.FetchResponse.AppendTo(dst)
}

// splice is a file region to be sent at position at of the encoded buffer.
type splice struct {
	at  int
	rec FileRecords
}

// canEncodeWithFiles reports whether appendFetchBody knows r's version.
func (r *FetchResponse) canEncodeWithFiles() bool {
	v := r.GetVersion()
	return v >= minFileFetchVersion && v <= maxFileFetchVersion
}

// appendFetchBody encodes r's body (no frame size, no response header) at
// r's version, which must be 4-17, exactly as kmsg does, except that a
// partition with FileRecords gets its record-set length prefix followed by
// no bytes; the region is appended to splices with the buffer position its
// bytes belong at.
func appendFetchBody(dst []byte, splices []splice, r *FetchResponse) ([]byte, []splice) {
	v := r.GetVersion()
	flexible := v >= firstFlexibleFetch
	dst = binary.BigEndian.AppendUint32(dst, uint32(r.ThrottleMillis))
	if v >= 7 {
		dst = binary.BigEndian.AppendUint16(dst, uint16(r.ErrorCode))
		dst = binary.BigEndian.AppendUint32(dst, uint32(r.SessionID))
	}
	next := 0 // the next file slot, in response order
	dst = appendArrayLen(dst, len(r.Topics), false, flexible)
	for ti := range r.Topics {
		t := &r.Topics[ti]
		if v < firstTopicIDFetch {
			dst = appendString(dst, t.Topic, flexible)
		} else {
			dst = append(dst, t.TopicID[:]...)
		}
		dst = appendArrayLen(dst, len(t.Partitions), false, flexible)
		for pi := range t.Partitions {
			p := &t.Partitions[pi]
			dst = binary.BigEndian.AppendUint32(dst, uint32(p.Partition))
			dst = binary.BigEndian.AppendUint16(dst, uint16(p.ErrorCode))
			dst = binary.BigEndian.AppendUint64(dst, uint64(p.HighWatermark))
			dst = binary.BigEndian.AppendUint64(dst, uint64(p.LastStableOffset))
			if v >= 5 {
				dst = binary.BigEndian.AppendUint64(dst, uint64(p.LogStartOffset))
			}
			dst = appendArrayLen(dst, len(p.AbortedTransactions), p.AbortedTransactions == nil, flexible)
			for i := range p.AbortedTransactions {
				a := &p.AbortedTransactions[i]
				dst = binary.BigEndian.AppendUint64(dst, uint64(a.ProducerID))
				dst = binary.BigEndian.AppendUint64(dst, uint64(a.FirstOffset))
				if flexible {
					dst = appendUnknownTags(dst, &a.UnknownTags, 0)
				}
			}
			if v >= 11 {
				dst = binary.BigEndian.AppendUint32(dst, uint32(p.PreferredReadReplica))
			}
			var rec *FileRecords
			if slot := r.slotAt(&next, ti, pi); slot != nil {
				rec = &slot.rec
			}
			switch {
			case rec != nil:
				dst = appendBytesLen(dst, int(rec.Length), false, flexible)
				splices = append(splices, splice{at: len(dst), rec: *rec})
			default:
				dst = appendBytesLen(dst, len(p.RecordBatches), p.RecordBatches == nil, flexible)
				dst = append(dst, p.RecordBatches...)
			}
			if flexible {
				dst = appendPartitionTags(dst, p)
			}
		}
		if flexible {
			dst = appendUnknownTags(dst, &t.UnknownTags, 0)
		}
	}
	if flexible {
		dst = appendResponseTags(dst, r.FetchResponse)
	}
	return dst, splices
}

// slotAt returns the file slot of partition (ti, pi), advancing *next past
// it; slots set in response order are found in constant time.
func (r *FetchResponse) slotAt(next *int, ti, pi int) *fileSlot {
	if *next < len(r.files) {
		if s := &r.files[*next]; s.topic == ti && s.partition == pi {
			*next++
			return s
		}
	}
	for i := range r.files {
		if s := &r.files[i]; s.topic == ti && s.partition == pi {
			return s
		}
	}
	return nil
}

// appendPartitionTags writes a partition's tagged fields as kmsg does: tag 0
// DivergingEpoch, 1 CurrentLeader, 2 SnapshotID, each only when it differs
// from its default, then unknown tags.
func appendPartitionTags(dst []byte, p *kmsg.FetchResponseTopicPartition) []byte {
	div := p.DivergingEpoch.Epoch != -1 || p.DivergingEpoch.EndOffset != -1 || p.DivergingEpoch.UnknownTags.Len() > 0
	leader := p.CurrentLeader.LeaderID != -1 || p.CurrentLeader.LeaderEpoch != -1 || p.CurrentLeader.UnknownTags.Len() > 0
	snap := p.SnapshotID.EndOffset != -1 || p.SnapshotID.Epoch != -1 || p.SnapshotID.UnknownTags.Len() > 0
	n := p.UnknownTags.Len()
	for _, b := range []bool{div, leader, snap} {
		if b {
			n++
		}
	}
	dst = binary.AppendUvarint(dst, uint64(n))
	if div {
		var f [12]byte
		binary.BigEndian.PutUint32(f[0:], uint32(p.DivergingEpoch.Epoch))
		binary.BigEndian.PutUint64(f[4:], uint64(p.DivergingEpoch.EndOffset))
		dst = appendTaggedStruct(dst, 0, f[:], &p.DivergingEpoch.UnknownTags)
	}
	if leader {
		var f [8]byte
		binary.BigEndian.PutUint32(f[0:], uint32(p.CurrentLeader.LeaderID))
		binary.BigEndian.PutUint32(f[4:], uint32(p.CurrentLeader.LeaderEpoch))
		dst = appendTaggedStruct(dst, 1, f[:], &p.CurrentLeader.UnknownTags)
	}
	if snap {
		var f [12]byte
		binary.BigEndian.PutUint64(f[0:], uint64(p.SnapshotID.EndOffset))
		binary.BigEndian.PutUint32(f[8:], uint32(p.SnapshotID.Epoch))
		dst = appendTaggedStruct(dst, 2, f[:], &p.SnapshotID.UnknownTags)
	}
	return p.UnknownTags.AppendEach(dst)
}

// appendTaggedStruct writes tag, the struct's size, its fixed fields and its
// own (unknown) tagged fields.
func appendTaggedStruct(dst []byte, tag uint64, fields []byte, tags *kmsg.Tags) []byte {
	body := appendUnknownTags(append([]byte(nil), fields...), tags, 0)
	dst = binary.AppendUvarint(dst, tag)
	dst = binary.AppendUvarint(dst, uint64(len(body)))
	return append(dst, body...)
}

// appendResponseTags writes the response's tagged fields: tag 0
// NodeEndpoints when there are any, then unknown tags.
func appendResponseTags(dst []byte, r *kmsg.FetchResponse) []byte {
	n := r.UnknownTags.Len()
	if len(r.Brokers) > 0 {
		n++
	}
	dst = binary.AppendUvarint(dst, uint64(n))
	if len(r.Brokers) > 0 {
		body := appendArrayLen(nil, len(r.Brokers), false, true)
		for i := range r.Brokers {
			b := &r.Brokers[i]
			body = binary.BigEndian.AppendUint32(body, uint32(b.NodeID))
			body = appendString(body, b.Host, true)
			body = binary.BigEndian.AppendUint32(body, uint32(b.Port))
			if b.Rack == nil {
				body = append(body, 0)
			} else {
				body = appendString(body, *b.Rack, true)
			}
			body = appendUnknownTags(body, &b.UnknownTags, 0)
		}
		dst = binary.AppendUvarint(dst, 0)
		dst = binary.AppendUvarint(dst, uint64(len(body)))
		dst = append(dst, body...)
	}
	return r.UnknownTags.AppendEach(dst)
}

// appendUnknownTags writes a tagged-field section holding known extra tags
// plus the unknown ones.
func appendUnknownTags(dst []byte, tags *kmsg.Tags, known int) []byte {
	dst = binary.AppendUvarint(dst, uint64(known+tags.Len()))
	return tags.AppendEach(dst)
}

// appendArrayLen writes an array length: int32 (-1 for null) or, in
// flexible versions, uvarint length+1 (0 for null).
func appendArrayLen(dst []byte, n int, null, flexible bool) []byte {
	switch {
	case flexible && null:
		return append(dst, 0)
	case flexible:
		return binary.AppendUvarint(dst, uint64(n)+1)
	case null:
		return binary.BigEndian.AppendUint32(dst, ^uint32(0))
	}
	return binary.BigEndian.AppendUint32(dst, uint32(n))
}

// appendBytesLen writes the length prefix of nullable bytes, which has the
// same shape as an array length.
func appendBytesLen(dst []byte, n int, null, flexible bool) []byte {
	return appendArrayLen(dst, n, null, flexible)
}

// appendString writes a non-null string: int16 length or, in flexible
// versions, uvarint length+1.
func appendString(dst []byte, s string, flexible bool) []byte {
	if flexible {
		dst = binary.AppendUvarint(dst, uint64(len(s))+1)
	} else {
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
	}
	return append(dst, s...)
}
