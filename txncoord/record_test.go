package txncoord

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// unhex builds bytes from a spaced hex string, field by field as Kafka's
// schema lays them out.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestKeyBytes(t *testing.T) {
	want := unhex(t, "0000 0003 747831") // version 0, "tx1"
	if got := EncodeKey("tx1"); !bytes.Equal(got, want) {
		t.Fatalf("EncodeKey = %x, want %x", got, want)
	}
	id, err := DecodeKey(want)
	if err != nil || id != "tx1" {
		t.Fatalf("DecodeKey = %q, %v", id, err)
	}
	for _, bad := range []string{"", "00", "0001 0003 747831", "0000 0004 747831", "0000 ffff", "0000 0003 74783100"} {
		if _, err := DecodeKey(unhex(t, bad)); !errors.Is(err, ErrCorruptRecord) {
			t.Errorf("DecodeKey(%s) = %v, want ErrCorruptRecord", bad, err)
		}
	}
}

// ongoingV1 is a version-1 value: producer 7 epoch 2, timeout 60000,
// Ongoing, partitions a-[1,0] b-[3], update 1000, start 900.
const ongoingV1 = `0001
	0000000000000007 0002 0000ea60 01
	03  02 61 03 00000000 00000001 00  02 62 02 00000003 00
	00000000000003e8 0000000000000384
	00`

// ongoingV0 is the same value in version 0, which Kafka 3.9 writes in
// ZooKeeper mode.
const ongoingV0 = `0000
	0000000000000007 0002 0000ea60 01
	00000002  0001 61 00000002 00000000 00000001  0001 62 00000001 00000003
	00000000000003e8 0000000000000384`

func TestValueBytes(t *testing.T) {
	ongoing := Metadata{ProducerID: 7, ProducerEpoch: 2, LastProducerID: -1, LastProducerEpoch: -1, TimeoutMs: 60000, State: Ongoing,
		Partitions: []TopicPartition{{"a", 0}, {"a", 1}, {"b", 3}}, LastUpdateMs: 1000, StartMs: 900}
	tests := []struct {
		name  string
		bytes string
		want  Metadata
	}{
		{"v1 ongoing", ongoingV1, ongoing},
		{"v0 ongoing", ongoingV0, ongoing},
		{"v1 empty null partitions", `0001 0000000000000009 0000 00002710 00 00 0000000000000001 ffffffffffffffff 00`,
			Metadata{ProducerID: 9, LastProducerID: -1, LastProducerEpoch: -1, TimeoutMs: 10000, State: Empty, LastUpdateMs: 1, StartMs: -1}},
		{"v0 empty null partitions", `0000 0000000000000009 0000 00002710 00 ffffffff 0000000000000001 ffffffffffffffff`,
			Metadata{ProducerID: 9, LastProducerID: -1, LastProducerEpoch: -1, TimeoutMs: 10000, State: Empty, LastUpdateMs: 1, StartMs: -1}},
		{"v1 newer tags: previous producer id, next producer id, client version, unknown", `0001
			0000000000000009 0005 00002710 04 01 0000000000000001 0000000000000000
			04  00 08 0000000000000008  01 08 ffffffffffffffff  02 02 0002  09 01 ff`,
			Metadata{ProducerID: 9, ProducerEpoch: 5, LastProducerID: 8, LastProducerEpoch: -1, TimeoutMs: 10000, State: CompleteCommit, LastUpdateMs: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeValue(unhex(t, tt.bytes))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("DecodeValue =\n%+v, want\n%+v", got, tt.want)
			}
		})
	}
	// Kafka 3.9 in ZooKeeper mode writes version 0 (version 1 needs the
	// transaction.version feature); the partitions come out sorted
	// whatever order they were added in.
	unsorted := ongoing.clone()
	unsorted.Partitions = []TopicPartition{{"b", 3}, {"a", 1}, {"a", 0}}
	if got, want := EncodeValue(unsorted), unhex(t, ongoingV0); !bytes.Equal(got, want) {
		t.Fatalf("EncodeValue = %x, want %x", got, want)
	}
	if got := EncodeValue(Metadata{State: Dead}); got != nil {
		t.Fatalf("EncodeValue(Dead) = %x, want a tombstone", got)
	}
	if m, err := DecodeValue(nil); err != nil || m.State != Dead {
		t.Fatalf("DecodeValue(nil) = %+v, %v; want Dead", m, err)
	}
}

func TestValueRejects(t *testing.T) {
	for name, b := range map[string]string{
		"version 2":           `0002 0000000000000009 0000 00002710 00 00 0000000000000001 ffffffffffffffff 00`,
		"state 9":             `0001 0000000000000009 0000 00002710 09 00 0000000000000001 ffffffffffffffff 00`,
		"truncated":           `0001 0000000000000009 0000 00002710 00 00 0000000000000001 ffff`,
		"trailing":            `0001 0000000000000009 0000 00002710 00 00 0000000000000001 ffffffffffffffff 00 00`,
		"huge array":          `0000 0000000000000009 0000 00002710 01 7fffffff`,
		"huge compact array":  `0001 0000000000000009 0000 00002710 01 ffffffff0f`,
		"null topic":          `0001 0000000000000009 0000 00002710 01 02 00 01 00 0000000000000001 0000000000000001 00`,
		"bad tag length":      `0001 0000000000000009 0000 00002710 00 00 0000000000000001 ffffffffffffffff 01 00 7f`,
		"short previous pid":  `0001 0000000000000009 0000 00002710 00 00 0000000000000001 ffffffffffffffff 01 00 01 00`,
		"invalid utf-8 topic": `0000 0000000000000009 0000 00002710 01 00000001 0001 ff 00000000 0000000000000001 0000000000000001`,
	} {
		if _, err := DecodeValue(unhex(t, b)); !errors.Is(err, ErrCorruptRecord) {
			t.Errorf("%s: DecodeValue = %v, want ErrCorruptRecord", name, err)
		}
	}
}

func TestValueRoundTrip(t *testing.T) {
	for _, st := range []State{Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit, CompleteAbort, PrepareEpochFence} {
		m := Metadata{ProducerID: 1 << 40, ProducerEpoch: 32000, LastProducerID: -1, LastProducerEpoch: -1, TimeoutMs: 1, State: st,
			LastUpdateMs: 5, StartMs: -1}
		if st != Empty {
			m.Partitions = []TopicPartition{{"t", 0}, {"ü", 2147483647}}
		}
		for _, v := range []int16{0, 1} {
			got, err := DecodeValue(encodeValue(m, v))
			if err != nil || !reflect.DeepEqual(got, m) {
				t.Errorf("%v v%d: round trip = %+v, %v; want %+v", st, v, got, err, m)
			}
		}
	}
}

// FuzzDecodeValue: any bytes either decode to a value that re-encodes and
// decodes to itself, or fail with ErrCorruptRecord; never a panic.
func FuzzDecodeValue(f *testing.F) {
	f.Add(unhex(f, ongoingV1))
	f.Add(unhex(f, `0000 0000000000000009 0000 00002710 00 ffffffff 0000000000000001 ffffffffffffffff`))
	f.Add(unhex(f, `0001 0000000000000009 0005 00002710 04 01 0000000000000001 0000000000000000 01 00 08 0000000000000008`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeValue(b)
		if err != nil {
			if !errors.Is(err, ErrCorruptRecord) {
				t.Fatalf("error %v is not ErrCorruptRecord", err)
			}
			return
		}
		m2, err := DecodeValue(encodeValue(m, 1))
		if err != nil {
			t.Fatalf("re-decoding %+v: %v", m, err)
		}
		m.LastProducerID, m2.LastProducerID = 0, 0 // v1 as Kafka 3.9 writes it carries no previous id
		if m.State == Empty && len(m.Partitions) == 0 {
			m.Partitions = nil
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip %+v -> %+v", m, m2)
		}
	})
}

func FuzzDecodeKey(f *testing.F) {
	f.Add(EncodeKey("tx1"))
	f.Add([]byte{0, 0, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := DecodeKey(b)
		if err != nil {
			if !errors.Is(err, ErrCorruptRecord) {
				t.Fatalf("error %v is not ErrCorruptRecord", err)
			}
			return
		}
		if !bytes.Equal(EncodeKey(id), b) {
			t.Fatalf("key %x decodes to %q which encodes differently", b, id)
		}
	})
}

func TestPartitionFor(t *testing.T) {
	// "my-txn".hashCode() == -1061187895 (Java's formula
	// s[0]*31^(n-1) + ...); Utils.abs then % 50.
	tests := []struct {
		id   string
		hash int32
		want int32
	}{
		{"", 0, 0},
		{"a", 97, 47},
		{"my-txn", -1061187895, 45},
		{"polygenelubricants", -2147483648, 0}, // hashCode is Integer.MIN_VALUE: Utils.abs gives 0
	}
	for _, tt := range tests {
		if h := javaHashCode(tt.id); h != tt.hash {
			t.Errorf("javaHashCode(%q) = %d, want %d", tt.id, h, tt.hash)
		}
		if got := PartitionFor(tt.id, 50); got != tt.want {
			t.Errorf("PartitionFor(%q, 50) = %d, want %d", tt.id, got, tt.want)
		}
	}
}
