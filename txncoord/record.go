package txncoord

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// ErrCorruptRecord marks a __transaction_state record whose bytes do not
// follow the TransactionLog format: the disk (or a peer) lied, as opposed to
// a caller mistake.
var ErrCorruptRecord = errors.New("corrupt transaction log record")

// Record versions of Kafka's TransactionLog schemas. The key has one
// version (0: int16 version, then the transactional id as an int16-length
// string). The value has two: 0 with classic int16/int32 lengths, and 1,
// the first flexible version (compact lengths and tagged fields). Kafka 3.9
// writes version 1 only when the transaction.version feature is above 0,
// which never holds in ZooKeeper mode, so gokafka writes version 0 and
// reads both.
const (
	keyVersion        = 0
	valueVersion0     = 0
	valueVersionFlex  = 1
	writeValueVersion = valueVersion0
)

// Tags newer Kafka versions put in a version-1 value (PreviousProducerId,
// NextProducerId, ClientTransactionVersion); Kafka 3.9 writes none of
// them, but a log written by a newer broker may hold them.
const (
	tagPreviousProducerID = 0
	tagNextProducerID     = 1
	tagClientTxnVersion   = 2
)

// EncodeKey is the record key of transactional id in __transaction_state.
func EncodeKey(transactionalID string) []byte {
	b := make([]byte, 0, 4+len(transactionalID))
	b = binary.BigEndian.AppendUint16(b, keyVersion)
	b = binary.BigEndian.AppendUint16(b, uint16(len(transactionalID)))
	return append(b, transactionalID...)
}

// DecodeKey returns the transactional id of a record key. Keys of other
// versions are ErrCorruptRecord: Kafka's TransactionLog only ever wrote
// version 0.
func DecodeKey(b []byte) (string, error) {
	r := reader{b: b}
	v := r.int16()
	if r.err == nil && v != keyVersion {
		return "", fmt.Errorf("%w: key version %d", ErrCorruptRecord, v)
	}
	id := r.string16()
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return "", fmt.Errorf("%w: key: %v", ErrCorruptRecord, r.err)
	}
	return id, nil
}

// EncodeValue is the record value of m in the version Kafka 3.9 writes in
// ZooKeeper mode.
// A Dead transactional id is a tombstone (nil value), which compaction
// eventually removes.
func EncodeValue(m Metadata) []byte {
	if m.State == Dead {
		return nil
	}
	return encodeValue(m, writeValueVersion)
}

func encodeValue(m Metadata, version int16) []byte {
	flex := version >= valueVersionFlex
	b := make([]byte, 0, 64)
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint64(b, uint64(m.ProducerID))
	b = binary.BigEndian.AppendUint16(b, uint16(m.ProducerEpoch))
	b = binary.BigEndian.AppendUint32(b, uint32(m.TimeoutMs))
	b = append(b, byte(m.State))
	topics := GroupByTopic(m.Partitions)
	switch {
	case m.State == Empty && len(topics) == 0:
		// Kafka writes a null partition list for an Empty id.
		if flex {
			b = binary.AppendUvarint(b, 0)
		} else {
			b = binary.BigEndian.AppendUint32(b, 0xffffffff)
		}
	default:
		b = appendLen(b, len(topics), flex)
		for _, t := range topics {
			b = appendString(b, t.Topic, flex)
			b = appendLen(b, len(t.Partitions), flex)
			for _, p := range t.Partitions {
				b = binary.BigEndian.AppendUint32(b, uint32(p))
			}
			if flex {
				b = append(b, 0) // no tagged fields
			}
		}
	}
	b = binary.BigEndian.AppendUint64(b, uint64(m.LastUpdateMs))
	b = binary.BigEndian.AppendUint64(b, uint64(m.StartMs))
	if flex {
		b = append(b, 0) // no tagged fields
	}
	return b
}

// appendLen writes an array length: uvarint length+1 when flexible, else
// int32.
func appendLen(b []byte, n int, flex bool) []byte {
	if flex {
		return binary.AppendUvarint(b, uint64(n)+1)
	}
	return binary.BigEndian.AppendUint32(b, uint32(n))
}

// appendString writes a non-null string: uvarint length+1 when flexible,
// else int16 length.
func appendString(b []byte, s string, flex bool) []byte {
	if flex {
		b = binary.AppendUvarint(b, uint64(len(s))+1)
	} else {
		b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	}
	return append(b, s...)
}

// TopicPartitions is one topic's partitions.
type TopicPartitions struct {
	Topic      string
	Partitions []int32
}

// GroupByTopic groups partitions by topic, topics and partitions sorted
// and without duplicates: a record value's bytes depend only on the set,
// and requests list each topic once.
func GroupByTopic(tps []TopicPartition) []TopicPartitions {
	by := map[string][]int32{}
	for _, tp := range tps {
		by[tp.Topic] = append(by[tp.Topic], tp.Partition)
	}
	out := make([]TopicPartitions, 0, len(by))
	for t, ps := range by {
		slices.Sort(ps)
		out = append(out, TopicPartitions{t, slices.Compact(ps)})
	}
	slices.SortFunc(out, func(a, b TopicPartitions) int { return strings.Compare(a.Topic, b.Topic) })
	return out
}

// DecodeValue parses a record value of version 0 or 1. A nil value is a
// tombstone: the id is Dead. Unknown tagged fields are skipped, as Kafka's
// generated readers do; versions above 1 are ErrCorruptRecord (KIP-915
// promises they will not be written).
func DecodeValue(b []byte) (Metadata, error) {
	if b == nil {
		return Metadata{State: Dead, ProducerID: -1, LastProducerID: -1, ProducerEpoch: -1, LastProducerEpoch: -1}, nil
	}
	r := reader{b: b}
	version := r.int16()
	if r.err == nil && (version < valueVersion0 || version > valueVersionFlex) {
		return Metadata{}, fmt.Errorf("%w: value version %d", ErrCorruptRecord, version)
	}
	flex := version >= valueVersionFlex
	m := Metadata{LastProducerID: -1, LastProducerEpoch: -1}
	m.ProducerID = r.int64()
	m.ProducerEpoch = r.int16()
	m.TimeoutMs = r.int32()
	st := r.int8()
	if r.err == nil && (st < int8(Empty) || st > int8(PrepareEpochFence)) {
		r.err = fmt.Errorf("unknown transaction state %d", st)
	}
	m.State = State(st)
	topics := r.arrayLen(flex, 2+4)
	for i := 0; i < topics && r.err == nil; i++ {
		var topic string
		if flex {
			topic = r.compactString()
		} else {
			topic = r.string16()
		}
		n := r.arrayLen(flex, 4)
		if n < 0 && r.err == nil {
			r.err = errors.New("null partition list")
		}
		for j := 0; j < n && r.err == nil; j++ {
			m.Partitions = append(m.Partitions, TopicPartition{Topic: topic, Partition: r.int32()})
		}
		if flex {
			r.skipTags(nil)
		}
	}
	m.LastUpdateMs = r.int64()
	m.StartMs = r.int64()
	if flex {
		r.skipTags(func(tag uint64, field []byte) error {
			fr := reader{b: field}
			switch tag {
			case tagPreviousProducerID:
				m.LastProducerID = fr.int64()
			case tagNextProducerID:
				fr.int64() // only meaningful to transactions v2
			case tagClientTxnVersion:
				fr.int16()
			default:
				return nil
			}
			return fr.err
		})
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return Metadata{}, fmt.Errorf("%w: value: %v", ErrCorruptRecord, r.err)
	}
	m.Partitions = normalize(m.Partitions)
	return m, nil
}

// reader reads big-endian fields, remembering the first error so that a
// decoder checks once at the end. It never allocates from a length it has
// not checked against the bytes left.
type reader struct {
	b   []byte
	err error
}

func (r *reader) need(n int) bool {
	if r.err != nil {
		return false
	}
	if n < 0 || len(r.b) < n {
		r.err = errors.New("truncated")
		return false
	}
	return true
}

func (r *reader) int8() int8 {
	if !r.need(1) {
		return 0
	}
	v := int8(r.b[0])
	r.b = r.b[1:]
	return v
}

func (r *reader) int16() int16 {
	if !r.need(2) {
		return 0
	}
	v := int16(binary.BigEndian.Uint16(r.b))
	r.b = r.b[2:]
	return v
}

func (r *reader) int32() int32 {
	if !r.need(4) {
		return 0
	}
	v := int32(binary.BigEndian.Uint32(r.b))
	r.b = r.b[4:]
	return v
}

func (r *reader) int64() int64 {
	if !r.need(8) {
		return 0
	}
	v := int64(binary.BigEndian.Uint64(r.b))
	r.b = r.b[8:]
	return v
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errors.New("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(n int) []byte {
	if !r.need(n) {
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) str(n int) string {
	v := r.bytes(n)
	if r.err == nil && !utf8.Valid(v) {
		r.err = errors.New("string is not UTF-8")
	}
	return string(v)
}

// string16 reads a non-null classic string (int16 length).
func (r *reader) string16() string {
	n := r.int16()
	if r.err == nil && n < 0 {
		r.err = errors.New("null string")
	}
	return r.str(int(n))
}

// compactString reads a non-null compact string (uvarint length + 1).
func (r *reader) compactString() string {
	n := r.uvarint()
	if r.err == nil && n == 0 {
		r.err = errors.New("null string")
	}
	if r.err != nil || n-1 > uint64(len(r.b)) {
		r.need(len(r.b) + 1)
		return ""
	}
	return r.str(int(n - 1))
}

// arrayLen reads an array length, -1 for null, checking that the bytes
// left can hold that many elements of at least minElem bytes each.
func (r *reader) arrayLen(flex bool, minElem int) int {
	var n int64
	if flex {
		u := r.uvarint()
		if u > uint64(len(r.b))+1 {
			r.need(len(r.b) + 1)
			return 0
		}
		n = int64(u) - 1
	} else {
		n = int64(r.int32())
	}
	if r.err != nil {
		return 0
	}
	if n < -1 || n*int64(minElem) > int64(len(r.b)) {
		r.err = fmt.Errorf("array of %d elements in %d bytes", n, len(r.b))
		return 0
	}
	return int(n)
}

// skipTags reads a tagged-field section, handing each field to fn (nil:
// ignore all).
func (r *reader) skipTags(fn func(tag uint64, field []byte) error) {
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)) {
		r.err = fmt.Errorf("%d tagged fields in %d bytes", n, len(r.b))
	}
	for i := uint64(0); i < n && r.err == nil; i++ {
		tag := r.uvarint()
		size := r.uvarint()
		if r.err == nil && size > uint64(len(r.b)) {
			r.err = errors.New("tagged field overruns the value")
			return
		}
		field := r.bytes(int(size))
		if r.err == nil && fn != nil {
			if err := fn(tag, field); err != nil {
				r.err = fmt.Errorf("tagged field %d: %w", tag, err)
			}
		}
	}
}
