package zkmeta

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
)

// The znode written by Kafka 2.x's kafka-preferred-replica-election.sh
// --zookeeper parses into its partitions (duplicates once); anything
// without a partitions array or with a partition lacking a valid topic or
// number is malformed.
func TestDecodePreferredElection(t *testing.T) {
	tests := []struct {
		data string
		want []PartitionName
		bad  bool
	}{
		{data: `{"version":1,"partitions":[{"topic":"t","partition":0},{"partition":2,"topic":"u"}]}`, want: []PartitionName{{"t", 0}, {"u", 2}}},
		{data: `{"partitions":[{"topic":"t","partition":1},{"topic":"t","partition":1}],"version":1}`, want: []PartitionName{{"t", 1}}},
		{data: `{"version":1,"partitions":[]}`},
		{data: `{"version":1}`, bad: true},
		{data: `{"version":1,"partitions":[{"topic":"t"}]}`, bad: true},
		{data: `{"version":1,"partitions":[{"topic":"","partition":0}]}`, bad: true},
		{data: `{"version":1,"partitions":[{"topic":"t","partition":-1}]}`, bad: true},
		{data: `not json`, bad: true},
	}
	for _, tc := range tests {
		got, err := DecodePreferredElection([]byte(tc.data))
		if tc.bad {
			if !errors.Is(err, ErrMalformedPreferredElection) {
				t.Errorf("%s: err %v, want ErrMalformedPreferredElection", tc.data, err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, %v; want %v", tc.data, got, err, tc.want)
		}
	}
}

// RequestPreferredElection writes what the controller reads back, and the
// controller's watch sees it; deleting it (as the controller does) fires
// the watch again.
func TestPreferredElectionZnode(t *testing.T) {
	chroot := testChroot(t)
	c := connect(t, chroot)
	ctx := testCtx(t)
	parts, exists, changed, err := c.WatchPreferredElection(ctx)
	if err != nil || exists || parts != nil {
		t.Fatalf("before any request: %v %v %v", parts, exists, err)
	}
	want := []PartitionName{{"a", 0}, {"b", 3}}
	if err := c.RequestPreferredElection(ctx, want); err != nil {
		t.Fatal(err)
	}
	<-changed
	parts, exists, changed, err = c.WatchPreferredElection(ctx)
	if err != nil || !exists || !slices.Equal(parts, want) {
		t.Fatalf("after the request: %v %v %v, want %v", parts, exists, err, want)
	}
	raw := rawConn(t)
	data, _ := rawGet(t, raw, chroot+preferredElectionPath)
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil || v["version"] != float64(1) {
		t.Fatalf("znode holds %s, want version 1", data)
	}
	if err := c.RequestPreferredElection(ctx, want); err == nil {
		t.Fatal("a second request while one is pending succeeded")
	}
	ce, won, err := c.ElectController(ctx, 1)
	if err != nil || !won {
		t.Fatalf("elect controller: %v %v", won, err)
	}
	if err := c.DeletePreferredElection(ctx, ce); err != nil {
		t.Fatal(err)
	}
	<-changed
	if _, exists, _, err := c.WatchPreferredElection(ctx); err != nil || exists {
		t.Fatalf("after the delete: exists %v, %v", exists, err)
	}
	if err := c.DeletePreferredElection(ctx, ce); err != nil {
		t.Fatalf("deleting an absent request: %v", err)
	}
}

// WatchLogDirEvents reads the notifications brokers write, names each
// broker once, and DeleteLogDirEvents removes them.
func TestWatchLogDirEvents(t *testing.T) {
	chroot := testChroot(t)
	c := connect(t, chroot)
	ctx := testCtx(t)
	for _, b := range []int32{3, 1, 3} {
		if err := c.NotifyLogDirFailure(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	names, brokers, _, err := c.WatchLogDirEvents(ctx)
	if err != nil || len(names) != 3 || !slices.Equal(brokers, []int32{3, 1}) {
		t.Fatalf("read %v naming brokers %v (%v), want 3 notifications naming [3 1]", names, brokers, err)
	}
	ce, won, err := c.ElectController(ctx, 1)
	if err != nil || !won {
		t.Fatalf("elect controller: %v %v", won, err)
	}
	if err := c.DeleteLogDirEvents(ctx, ce, names); err != nil {
		t.Fatal(err)
	}
	if names, _, _, err := c.WatchLogDirEvents(ctx); err != nil || len(names) != 0 {
		t.Fatalf("after the delete: %v, %v", names, err)
	}
}

// FuzzDecodePreferredElection feeds arbitrary znode data to the decoder:
// it never panics, and what it accepts holds only valid, distinct
// partitions.
func FuzzDecodePreferredElection(f *testing.F) {
	f.Add([]byte(`{"version":1,"partitions":[{"topic":"t","partition":0}]}`))
	f.Add([]byte(`{"version":1,"partitions":[{"topic":"t","partition":0},{"topic":"t","partition":0}]}`))
	f.Add([]byte(`{"partitions":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		parts, err := DecodePreferredElection(data)
		if err != nil {
			return
		}
		seen := map[PartitionName]bool{}
		for _, p := range parts {
			if p.Partition < 0 || validTopicName(p.Topic) != nil || seen[p] {
				t.Fatalf("accepted %v from %q", p, data)
			}
			seen[p] = true
		}
	})
}

// FuzzDecodeLogDirEvent: any notification data decodes to a broker id >= 0
// or to nothing, without panicking.
func FuzzDecodeLogDirEvent(f *testing.F) {
	f.Add([]byte(`{"version":1,"broker":3,"event":1}`))
	f.Add([]byte(`{"broker":-1}`))
	f.Add([]byte(`{"broker":"3"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if b, ok := decodeLogDirEvent(data); ok && b < 0 {
			t.Fatalf("decoded broker %d from %q", b, data)
		}
	})
}
