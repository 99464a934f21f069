package zkmeta

import (
	"reflect"
	"testing"
)

// /admin/reassign_partitions as Kafka 2.x's kafka-reassign-partitions.sh
// --zookeeper --execute writes it (ReassignPartitionsZNode), and what is
// refused.
func TestPartitionReassignmentsCodec(t *testing.T) {
	tests := []struct {
		name string
		data string
		want []PartitionReassignment
	}{
		{"kafka 2.x tool", `{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2,4]},{"topic":"u","partition":3,"replicas":[4]}]}`,
			[]PartitionReassignment{{"t", 0, []int32{1, 2, 4}}, {"u", 3, []int32{4}}}},
		{"log_dirs are ignored", `{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1],"log_dirs":["any"]}]}`,
			[]PartitionReassignment{{"t", 0, []int32{1}}}},
		{"a partition listed twice keeps its last entry", `{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1]},{"topic":"t","partition":0,"replicas":[2]}]}`,
			[]PartitionReassignment{{"t", 0, []int32{2}}}},
		{"no replicas", `{"version":1,"partitions":[{"topic":"t","partition":0}]}`,
			[]PartitionReassignment{{"t", 0, []int32{}}}},
		{"empty", `{"version":1,"partitions":[]}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodePartitionReassignments([]byte(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("decode = %+v, want %+v", got, tt.want)
			}
			again, err := DecodePartitionReassignments(EncodePartitionReassignments(got))
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Fatalf("round trip = %+v, %v; want %+v", again, err, got)
			}
		})
	}
	jsonEqual(t, EncodePartitionReassignments([]PartitionReassignment{{"t", 0, []int32{1, 2}}}),
		`{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2]}]}`)
	for _, bad := range []string{``, `{}`, `{"version":1}`, `{"version":1,"partitions":[{"topic":"","partition":0,"replicas":[1]}]}`,
		`{"version":1,"partitions":[{"topic":"a/b","partition":0,"replicas":[1]}]}`, `{"version":1,"partitions":[{"topic":"t","partition":-1,"replicas":[1]}]}`,
		`{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":["x"]}]}`, `[1]`} {
		if _, err := DecodePartitionReassignments([]byte(bad)); err == nil {
			t.Errorf("DecodePartitionReassignments(%s) succeeded", bad)
		}
	}
}

// FuzzPartitionReassignments feeds arbitrary bytes to the decoder: it
// never panics, and what it accepts encodes and decodes to itself.
func FuzzPartitionReassignments(f *testing.F) {
	f.Add([]byte(`{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2,4]}]}`))
	f.Add([]byte(`{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1]},{"topic":"t","partition":0,"replicas":[2]}]}`))
	f.Add([]byte(`{"partitions":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := DecodePartitionReassignments(b)
		if err != nil {
			return
		}
		again, err := DecodePartitionReassignments(EncodePartitionReassignments(rs))
		if err != nil || !reflect.DeepEqual(again, rs) {
			t.Fatalf("round trip of %q: %+v, %v; want %+v", b, again, err, rs)
		}
	})
}
