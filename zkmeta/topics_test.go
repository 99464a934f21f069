package zkmeta

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// elect makes c the controller of its chroot.
func elect(t *testing.T, c *Client) ControllerEpoch {
	t.Helper()
	ce, won, err := c.ElectController(testCtx(t), 0)
	if err != nil || !won {
		t.Fatalf("elect: won=%v err=%v", won, err)
	}
	return ce
}

func TestTopicLifecycle(t *testing.T) {
	chroot := testChroot(t)
	c := connect(t, chroot)
	raw := rawConn(t)
	ctx := testCtx(t)
	ce := elect(t, c)

	topics, changed, err := c.WatchTopics(ctx)
	if err != nil || len(topics) != 0 {
		t.Fatalf("WatchTopics = %v, %v", topics, err)
	}
	id := NewUUID()
	a := TopicAssignment{TopicID: id, Partitions: map[int32][]int32{0: {0}, 1: {0}, 2: {0}}}
	cfg := map[string]string{"cleanup.policy": "compact", "retention.ms": "1000"}
	if err := c.CreateTopic(ctx, "orders", a, cfg); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-time.After(20 * time.Second):
		t.Fatal("topic watch did not fire on creation")
	}

	// What zkCli would show.
	data, _ := rawGet(t, raw, chroot+"/brokers/topics/orders")
	jsonEqual(t, data, `{"version":3,"topic_id":"`+FormatUUID(id)+`","partitions":{"0":[0],"1":[0],"2":[0]},"adding_replicas":{},"removing_replicas":{}}`)
	data, _ = rawGet(t, raw, chroot+"/config/topics/orders")
	jsonEqual(t, data, `{"version":1,"config":{"cleanup.policy":"compact","retention.ms":"1000"}}`)

	// A second create fails and leaves the config alone.
	err = c.CreateTopic(ctx, "orders", a, map[string]string{"retention.ms": "5"})
	if !errors.Is(err, ErrTopicExists) {
		t.Fatalf("second CreateTopic: %v; want ErrTopicExists", err)
	}
	if got, err := c.TopicConfig(ctx, "orders"); err != nil || !reflect.DeepEqual(got, cfg) {
		t.Fatalf("TopicConfig = %v, %v; want %v", got, err, cfg)
	}
	if got, err := c.TopicConfig(ctx, "nope"); err != nil || len(got) != 0 {
		t.Fatalf("TopicConfig of a missing topic = %v, %v; want empty", got, err)
	}
	if names, err := c.Topics(ctx); err != nil || !reflect.DeepEqual(names, []string{"orders"}) {
		t.Fatalf("Topics = %v, %v", names, err)
	}
	got, err := c.Topic(ctx, "orders")
	if err != nil || got.TopicID != id || !reflect.DeepEqual(got.Partitions, a.Partitions) || got.ZkVersion != 0 {
		t.Fatalf("Topic = %+v, %v", got, err)
	}
	if _, err := c.Topic(ctx, "nope"); !errors.Is(err, ErrNoNode) {
		t.Fatalf("Topic(missing): %v; want ErrNoNode", err)
	}

	// Partition states: created once, later creates keep what is there.
	states := map[int32]LeaderAndIsr{}
	for p := int32(0); p < 3; p++ {
		states[p] = LeaderAndIsr{Leader: 0, ISR: []int32{0}, ControllerEpoch: ce.Epoch}
	}
	if err := c.CreatePartitionStates(ctx, ce, "orders", states); err != nil {
		t.Fatal(err)
	}
	data, _ = rawGet(t, raw, chroot+"/brokers/topics/orders/partitions/1/state")
	jsonEqual(t, data, fmt.Sprintf(`{"controller_epoch":%d,"leader":0,"version":1,"leader_epoch":0,"isr":[0]}`, ce.Epoch))
	if err := c.CreatePartitionStates(ctx, ce, "orders", map[int32]LeaderAndIsr{1: {Leader: 7, ISR: []int32{7}}, 3: {Leader: 0, ISR: []int32{0}}}); err != nil {
		t.Fatalf("creating states again: %v", err)
	}
	s1, err := c.PartitionState(ctx, "orders", 1)
	if err != nil || s1.Leader != 0 || s1.ZkVersion != 0 {
		t.Fatalf("state 1 = %+v, %v; want the original, leader 0", s1, err)
	}
	if s3, err := c.PartitionState(ctx, "orders", 3); err != nil || s3.Leader != 0 {
		t.Fatalf("state 3 = %+v, %v; want it created", s3, err)
	}
	if _, err := c.PartitionState(ctx, "orders", 9); !errors.Is(err, ErrNoNode) {
		t.Fatalf("PartitionState(missing): %v; want ErrNoNode", err)
	}

	// Conditional updates: the read version works once; a stale one fails.
	s1.LeaderEpoch, s1.ISR = 1, []int32{0, 1}
	v, err := c.UpdatePartitionState(ctx, ce, "orders", 1, s1)
	if err != nil || v != 1 {
		t.Fatalf("UpdatePartitionState = %d, %v; want version 1", v, err)
	}
	if _, err := c.UpdatePartitionState(ctx, ce, "orders", 1, s1); !errors.Is(err, ErrBadVersion) {
		t.Fatalf("update with a stale version: %v; want ErrBadVersion", err)
	}
	if got, _ := c.PartitionState(ctx, "orders", 1); got.LeaderEpoch != 1 || !reflect.DeepEqual(got.ISR, []int32{0, 1}) || got.ZkVersion != 1 {
		t.Fatalf("state after update = %+v", got)
	}

	// Growing the topic: conditional on the assignment's version.
	grown := TopicAssignment{TopicID: id, Partitions: map[int32][]int32{0: {0}, 1: {0}, 2: {0}, 3: {0}}, ZkVersion: 0}
	if err := c.SetTopic(ctx, ce, "orders", grown); err != nil {
		t.Fatal(err)
	}
	if err := c.SetTopic(ctx, ce, "orders", grown); !errors.Is(err, ErrBadVersion) {
		t.Fatalf("SetTopic with a stale version: %v; want ErrBadVersion", err)
	}
	if a2, err := c.Topic(ctx, "orders"); err != nil || len(a2.Partitions) != 4 || a2.ZkVersion != 1 || a2.TopicID != id {
		t.Fatalf("after SetTopic: %+v, %v", a2, err)
	}

	// Deletion: marked, seen by the watch, then everything goes.
	marked, delChanged, err := c.WatchTopicDeletions(ctx)
	if err != nil || len(marked) != 0 {
		t.Fatalf("WatchTopicDeletions = %v, %v", marked, err)
	}
	if err := c.MarkTopicForDeletion(ctx, "orders"); err != nil {
		t.Fatal(err)
	}
	if err := c.MarkTopicForDeletion(ctx, "orders"); err != nil {
		t.Fatalf("marking twice: %v", err)
	}
	select {
	case <-delChanged:
	case <-time.After(20 * time.Second):
		t.Fatal("deletion watch did not fire")
	}
	if marked, _, err := c.WatchTopicDeletions(ctx); err != nil || !reflect.DeepEqual(marked, []string{"orders"}) {
		t.Fatalf("marked = %v, %v", marked, err)
	}
	if err := c.DeleteTopic(ctx, ce, "orders"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/brokers/topics/orders", "/config/topics/orders", "/admin/delete_topics/orders"} {
		if rawExists(t, raw, chroot+p) {
			t.Errorf("%s still exists after DeleteTopic", p)
		}
	}
	if err := c.DeleteTopic(ctx, ce, "orders"); err != nil {
		t.Fatalf("deleting a deleted topic: %v", err)
	}
	// The name can be used again.
	if err := c.CreateTopic(ctx, "orders", TopicAssignment{Partitions: map[int32][]int32{0: {0}}}, nil); err != nil {
		t.Fatalf("re-create after delete: %v", err)
	}
}

// TestTopicFromOldTool reads a topic a 2.x tool wrote (version 1, no id)
// and deletes a topic with many partitions (several multis).
func TestTopicFromOldToolAndBigDelete(t *testing.T) {
	chroot := testChroot(t)
	c := connect(t, chroot)
	raw := rawConn(t)
	ctx := testCtx(t)
	ce := elect(t, c)

	if _, err := raw.Create(chroot+"/brokers/topics/legacy", []byte(`{"version":1,"partitions":{"0":[1,2],"1":[2,1]}}`), 0, openACL); err != nil {
		t.Fatal(err)
	}
	a, err := c.Topic(ctx, "legacy")
	if err != nil || a.TopicID != ([16]byte{}) || !reflect.DeepEqual(a.Partitions, map[int32][]int32{0: {1, 2}, 1: {2, 1}}) {
		t.Fatalf("legacy topic = %+v, %v", a, err)
	}
	// The controller adds a topic id, as Kafka's setTopicIds does.
	a.TopicID = NewUUID()
	if err := c.SetTopic(ctx, ce, "legacy", a); err != nil {
		t.Fatal(err)
	}
	if b, err := c.Topic(ctx, "legacy"); err != nil || b.TopicID != a.TopicID {
		t.Fatalf("after adding an id: %+v, %v", b, err)
	}

	const n = 300 // 600 znodes below the topic: more than one multi
	big := TopicAssignment{Partitions: map[int32][]int32{}}
	states := map[int32]LeaderAndIsr{}
	for p := int32(0); p < n; p++ {
		big.Partitions[p] = []int32{0}
		states[p] = LeaderAndIsr{ISR: []int32{0}}
	}
	if err := c.CreateTopic(ctx, "big", big, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.CreatePartitionStates(ctx, ce, "big", states); err != nil {
		t.Fatal(err)
	}
	if kids, _, err := raw.Children(chroot + "/brokers/topics/big/partitions"); err != nil || len(kids) != n {
		t.Fatalf("%d partition znodes, %v; want %d", len(kids), err, n)
	}
	if err := c.DeleteTopic(ctx, ce, "big"); err != nil {
		t.Fatal(err)
	}
	if rawExists(t, raw, chroot+"/brokers/topics/big") {
		t.Fatal("big topic still exists")
	}
}

func TestTopicNamesThatAreNotZnodes(t *testing.T) {
	c := connect(t, testChroot(t))
	ctx := testCtx(t)
	for _, name := range []string{"", ".", "..", "a/b"} {
		if err := c.CreateTopic(ctx, name, TopicAssignment{Partitions: map[int32][]int32{0: {0}}}, nil); err == nil {
			t.Errorf("CreateTopic(%q) succeeded", name)
		}
		if _, err := c.Topic(ctx, name); err == nil {
			t.Errorf("Topic(%q) succeeded", name)
		}
	}
}

// TestPartitionStatesConcurrentRead reads many state znodes at once, some
// missing: each present one comes back with its own leader and version,
// the missing ones are simply absent.
func TestPartitionStatesConcurrentRead(t *testing.T) {
	c := connect(t, testChroot(t))
	ctx := testCtx(t)
	ce := elect(t, c)
	const n = 150 // more than partitionStateReads in flight
	a := TopicAssignment{Partitions: map[int32][]int32{}}
	states := map[int32]LeaderAndIsr{}
	var all []int32
	for p := int32(0); p < n; p++ {
		a.Partitions[p] = []int32{0}
		all = append(all, p)
		if p%10 != 3 {
			states[p] = LeaderAndIsr{Leader: p % 7, LeaderEpoch: p, ISR: []int32{p % 7}}
		}
	}
	if err := c.CreateTopic(ctx, "many", a, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.CreatePartitionStates(ctx, ce, "many", states); err != nil {
		t.Fatal(err)
	}
	got, err := c.PartitionStates(ctx, "many", append(all, 999))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(states) {
		t.Fatalf("%d states read, want %d", len(got), len(states))
	}
	for p, want := range states {
		st, ok := got[p]
		if !ok || st.Leader != want.Leader || st.LeaderEpoch != want.LeaderEpoch || !reflect.DeepEqual(st.ISR, want.ISR) || st.ZkVersion != 0 {
			t.Fatalf("partition %d: %+v (present %v), want %+v", p, st, ok, want)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.PartitionStates(cancelled, "many", all); err == nil {
		t.Fatal("PartitionStates with a cancelled context succeeded")
	}
}
