package zkmeta

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// TestConsumerOffsetsLayout commits offsets and reads the znodes the way a
// ZooKeeper-era tool would: the offset is a bare decimal string, and the
// rest sits in the offsets-meta sibling tree.
func TestConsumerOffsetsLayout(t *testing.T) {
	chroot := testChroot(t)
	c := connect(t, chroot)
	ctx := testCtx(t)
	now := time.UnixMilli(1_700_000_000_123)
	offs := []ConsumerOffset{
		{Topic: "t", Partition: 0, Offset: 42, LeaderEpoch: 3, Metadata: "m0", CommitTime: now},
		{Topic: "t", Partition: 1, Offset: 0, LeaderEpoch: -1, CommitTime: now, ExpireTime: now.Add(time.Hour)},
		{Topic: "u", Partition: 7, Offset: 9000000000, LeaderEpoch: 1, CommitTime: now},
	}
	if err := c.CommitConsumerOffsets(ctx, "g", offs); err != nil {
		t.Fatal(err)
	}
	raw := rawConn(t)
	for _, tc := range []struct {
		path, want string
	}{
		{"/consumers/g/offsets/t/0", "42"},
		{"/consumers/g/offsets/t/1", "0"},
		{"/consumers/g/offsets/u/7", "9000000000"},
	} {
		data, _ := rawGet(t, raw, chroot+tc.path)
		if string(data) != tc.want {
			t.Errorf("%s = %q, want %q", tc.path, data, tc.want)
		}
	}
	data, _ := rawGet(t, raw, chroot+"/consumers/g/offsets-meta/t/0")
	jsonEqual(t, data, `{"version":1,"offset":42,"leader_epoch":3,"metadata":"m0","commit_timestamp":1700000000123,"expire_timestamp":-1}`)

	got, err := c.ConsumerOffsets(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, offs) {
		t.Fatalf("read back\n got %+v\nwant %+v", got, offs)
	}

	// A second commit overwrites in place (the set path) and may mix new
	// and existing partitions (the create path).
	later := now.Add(time.Minute)
	next := []ConsumerOffset{
		{Topic: "t", Partition: 0, Offset: 50, LeaderEpoch: 4, Metadata: "m1", CommitTime: later},
		{Topic: "t", Partition: 2, Offset: 5, LeaderEpoch: -1, CommitTime: later},
	}
	if err := c.CommitConsumerOffsets(ctx, "g", next); err != nil {
		t.Fatal(err)
	}
	got, err = c.ConsumerOffsets(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	want := []ConsumerOffset{next[0], offs[1], next[1], offs[2]}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after second commit\n got %+v\nwant %+v", got, want)
	}
}

// TestConsumerOffsetsFromOldTools reads offsets that a ZooKeeper-era
// consumer (or KafkaZkClient.setOrCreateConsumerOffset) wrote: no meta, or
// meta that no longer matches because only the plain offset was rewritten.
func TestConsumerOffsetsFromOldTools(t *testing.T) {
	chroot := testChroot(t)
	c := connect(t, chroot)
	ctx := testCtx(t)
	raw := rawConn(t)
	for _, p := range []string{"/consumers/old", "/consumers/old/offsets", "/consumers/old/offsets/t", "/consumers/old/ids"} {
		if _, err := raw.Create(chroot+p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := raw.Create(chroot+"/consumers/old/offsets/t/0", []byte("17"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Create(chroot+"/consumers/old/offsets/t/1", []byte("not a number"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	got, err := c.ConsumerOffsets(ctx, "old")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Offset != 17 || got[0].LeaderEpoch != -1 || got[0].Metadata != "" || got[0].CommitTime.IsZero() || !got[0].ExpireTime.IsZero() {
		t.Fatalf("old-tool offsets = %+v, want t-0 at 17 with no meta", got)
	}

	// We commit (with meta), then an old tool rewrites only the offset.
	if err := c.CommitConsumerOffsets(ctx, "old", []ConsumerOffset{{Topic: "t", Partition: 0, Offset: 20, LeaderEpoch: 5, Metadata: "x", CommitTime: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Set(chroot+"/consumers/old/offsets/t/0", []byte("25"), -1); err != nil {
		t.Fatal(err)
	}
	got, err = c.ConsumerOffsets(ctx, "old")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Offset != 25 || got[0].LeaderEpoch != -1 || got[0].Metadata != "" {
		t.Fatalf("after old tool rewrite = %+v, want offset 25 without the stale meta", got)
	}
}

// TestConsumerOffsetsDeleteAndList covers partition deletion (empty topic
// znodes go too), whole-group deletion and the group listing.
func TestConsumerOffsetsDeleteAndList(t *testing.T) {
	chroot := testChroot(t)
	c := connect(t, chroot)
	ctx := testCtx(t)
	raw := rawConn(t)
	commit := func(group string, offs ...ConsumerOffset) {
		t.Helper()
		if err := c.CommitConsumerOffsets(ctx, group, offs); err != nil {
			t.Fatal(err)
		}
	}
	commit("a", ConsumerOffset{Topic: "t", Partition: 0, Offset: 1, LeaderEpoch: -1}, ConsumerOffset{Topic: "u", Partition: 0, Offset: 2, LeaderEpoch: -1})
	commit("b", ConsumerOffset{Topic: "t", Partition: 3, Offset: 3, LeaderEpoch: -1})
	// A group znode without offsets (an old consumer's ids only) is not a
	// group with offsets.
	if _, err := raw.Create(chroot+"/consumers/idle", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	groups, err := c.ConsumerGroups(ctx)
	if err != nil || !reflect.DeepEqual(groups, []string{"a", "b"}) {
		t.Fatalf("groups = %v, %v; want [a b]", groups, err)
	}

	if err := c.DeleteConsumerOffsets(ctx, "a", map[string][]int32{"u": {0, 5}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/consumers/a/offsets/u", "/consumers/a/offsets-meta/u"} {
		if rawExists(t, raw, chroot+p) {
			t.Errorf("%s still exists after its last partition was deleted", p)
		}
	}
	got, err := c.ConsumerOffsets(ctx, "a")
	if err != nil || len(got) != 1 || got[0].Topic != "t" {
		t.Fatalf("group a after delete = %+v, %v; want only t-0", got, err)
	}

	if err := c.DeleteConsumerGroup(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if rawExists(t, raw, chroot+"/consumers/b") {
		t.Error("/consumers/b survives DeleteConsumerGroup")
	}
	if err := c.DeleteConsumerGroup(ctx, "b"); err != nil {
		t.Errorf("deleting a deleted group: %v", err)
	}
	groups, err = c.ConsumerGroups(ctx)
	if err != nil || !reflect.DeepEqual(groups, []string{"a"}) {
		t.Fatalf("groups = %v, %v; want [a]", groups, err)
	}
	if got, err := c.ConsumerOffsets(ctx, "never"); err != nil || len(got) != 0 {
		t.Fatalf("unknown group = %+v, %v; want none", got, err)
	}
}

// TestConsumerOffsetsInvalidGroup: group ids that cannot be znode names are
// refused before anything is written.
func TestConsumerOffsetsInvalidGroup(t *testing.T) {
	c := connect(t, testChroot(t))
	ctx := testCtx(t)
	for _, g := range []string{"", ".", "..", "a/b", "nul\x00", "ctl\x01"} {
		err := c.CommitConsumerOffsets(ctx, g, []ConsumerOffset{{Topic: "t", Offset: 1}})
		if !errors.Is(err, ErrInvalidGroupID) {
			t.Errorf("commit for group %q: %v, want ErrInvalidGroupID", g, err)
		}
		if _, err := c.ConsumerOffsets(ctx, g); !errors.Is(err, ErrInvalidGroupID) {
			t.Errorf("read group %q: %v, want ErrInvalidGroupID", g, err)
		}
	}
	// Dots and dashes inside a name are fine (console-consumer-12345).
	if err := c.CommitConsumerOffsets(ctx, "console-consumer-1.x", []ConsumerOffset{{Topic: "t", Offset: 1}}); err != nil {
		t.Fatal(err)
	}
}

// TestConsumerOffsetsManyPartitions commits 200 partitions (two chunks) in
// one call and again, checking that every chunk is written and the
// parallel read finds them all.
func TestConsumerOffsetsManyPartitions(t *testing.T) {
	c := connect(t, testChroot(t))
	ctx := testCtx(t)
	for round := int64(0); round < 2; round++ {
		var offs []ConsumerOffset
		for p := int32(0); p < 200; p++ {
			offs = append(offs, ConsumerOffset{Topic: fmt.Sprintf("t%d", p%4), Partition: p, Offset: int64(p) + 1000*round, LeaderEpoch: -1})
		}
		if err := c.CommitConsumerOffsets(ctx, "g", offs); err != nil {
			t.Fatal(err)
		}
		got, err := c.ConsumerOffsets(ctx, "g")
		if err != nil || len(got) != 200 {
			t.Fatalf("round %d: read %d offsets, %v", round, len(got), err)
		}
		for _, o := range got {
			if o.Offset != int64(o.Partition)+1000*round {
				t.Fatalf("round %d: %s-%d at %d", round, o.Topic, o.Partition, o.Offset)
			}
		}
	}
}

// TestConsumerOffsetsCommitAtomic: a commit of one chunk that cannot be
// written as a whole writes nothing. A znode that is in the way (a topic path occupied
// by an ephemeral, which cannot have children) makes the create of one
// leaf fail; the other partition of the same commit must not appear.
func TestConsumerOffsetsCommitAtomic(t *testing.T) {
	chroot := testChroot(t)
	c := connect(t, chroot)
	ctx := testCtx(t)
	raw := rawConn(t)
	for _, p := range []string{"/consumers/g", "/consumers/g/offsets"} {
		if _, err := raw.Create(chroot+p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := raw.Create(chroot+"/consumers/g/offsets/bad", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	err := c.CommitConsumerOffsets(ctx, "g", []ConsumerOffset{
		{Topic: "good", Partition: 0, Offset: 1, LeaderEpoch: -1},
		{Topic: "bad", Partition: 0, Offset: 1, LeaderEpoch: -1},
	})
	if err == nil {
		t.Fatal("commit under an ephemeral parent succeeded")
	}
	if rawExists(t, raw, chroot+"/consumers/g/offsets/good/0") {
		t.Fatal("half a commit was written")
	}
}

// TestConsumerOffsetsTenThousandPartitions commits 10,000 partitions in one
// call, first creating every znode and then overwriting them, and reads
// them all back. As one multi this failed with "zk: buffer too small" on
// every retry (issue 13).
func TestConsumerOffsetsTenThousandPartitions(t *testing.T) {
	chroot := testChroot(t)
	c := connect(t, chroot)
	ctx := testCtx(t)
	const topics, perTopic = 10, 1000
	now := time.UnixMilli(1_700_000_000_000)
	for round := int64(0); round < 2; round++ {
		offs := make([]ConsumerOffset, 0, topics*perTopic)
		for tn := 0; tn < topics; tn++ {
			for p := int32(0); p < perTopic; p++ {
				offs = append(offs, ConsumerOffset{
					Topic: fmt.Sprintf("topic-%d", tn), Partition: p,
					Offset: int64(p) + 1_000_000*round, LeaderEpoch: int32(round),
					Metadata: fmt.Sprintf("r%d-%d-%d", round, tn, p), CommitTime: now,
				})
			}
		}
		if err := c.CommitConsumerOffsets(ctx, "big", offs); err != nil {
			t.Fatalf("round %d: commit %d partitions: %v", round, len(offs), err)
		}
		got, err := c.ConsumerOffsets(ctx, "big")
		if err != nil {
			t.Fatalf("round %d: read back: %v", round, err)
		}
		if len(got) != len(offs) {
			t.Fatalf("round %d: read %d offsets, want %d", round, len(got), len(offs))
		}
		// Both lists are sorted by topic, then partition.
		if !reflect.DeepEqual(got, offs) {
			for i := range got {
				if !reflect.DeepEqual(got[i], offs[i]) {
					t.Fatalf("round %d: offset %d read back as %+v, want %+v", round, i, got[i], offs[i])
				}
			}
		}
	}
	raw := rawConn(t)
	data, _ := rawGet(t, raw, chroot+"/consumers/big/offsets/topic-9/999")
	if string(data) != "1000999" {
		t.Fatalf("topic-9/999 = %q, want 1000999", data)
	}
}

// TestChunkOffsetWrites: commits are cut into chunks of whole partitions,
// in order, none over multiChunk operations or (unless one partition alone
// is larger) commitChunkBytes.
func TestChunkOffsetWrites(t *testing.T) {
	mk := func(n, metaLen int) []offsetWrite {
		ws := make([]offsetWrite, n)
		for i := range ws {
			ws[i] = offsetWrite{o: ConsumerOffset{Topic: "t", Partition: int32(i)}, meta: make([]byte, metaLen)}
		}
		return ws
	}
	for _, tc := range []struct {
		name       string
		writes     []offsetWrite
		wantChunks []int // partitions per chunk
	}{
		{"none", nil, nil},
		{"one", mk(1, 100), []int{1}},
		{"exactly one chunk", mk(multiChunk/2, 100), []int{100}},
		{"one over", mk(multiChunk/2+1, 100), []int{100, 1}},
		{"10,000 small", mk(10_000, 100), repeatInt(100, 100)},
		// 4 KiB metadata (offset.metadata.max.bytes) JSON-escaped to 24 KiB
		// each: ten fit the byte budget, not a hundred.
		{"large metadata", mk(25, 24<<10), []int{10, 10, 5}},
		{"one partition over the budget", mk(3, commitChunkBytes), []int{1, 1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chunks := chunkOffsetWrites("g", tc.writes)
			var sizes []int
			next := int32(0)
			for _, ch := range chunks {
				sizes = append(sizes, len(ch))
				if len(ch) == 0 || 2*len(ch) > multiChunk {
					t.Errorf("chunk of %d partitions", len(ch))
				}
				bytes := 0
				for _, w := range ch {
					if w.o.Partition != next {
						t.Fatalf("partition %d out of order, want %d", w.o.Partition, next)
					}
					next++
					bytes += len(w.meta)
				}
				if len(ch) > 1 && bytes > commitChunkBytes {
					t.Errorf("chunk of %d partitions carries %d bytes of meta", len(ch), bytes)
				}
			}
			if int(next) != len(tc.writes) {
				t.Fatalf("chunks hold %d partitions, want %d", next, len(tc.writes))
			}
			if !reflect.DeepEqual(sizes, tc.wantChunks) {
				t.Fatalf("chunk sizes %v, want %v", sizes, tc.wantChunks)
			}
		})
	}
}

func repeatInt(v, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = v
	}
	return out
}
