package compattests

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gokafka/gokafka/internal/testcluster"
)

// compactTopicConfigs are a compacted topic's configs for these tests:
// small segments that roll often and a ratio low enough that every pass
// finds work.
func compactTopicConfigs() map[string]*string {
	s := func(v string) *string { return &v }
	return map[string]*string{
		"cleanup.policy":            s("compact"),
		"segment.bytes":             s("2048"),
		"min.cleanable.dirty.ratio": s("0.01"),
	}
}

// produceUpdates produces rounds of updates to keys key-00..key-(keys-1),
// every seventh update of a key a tombstone, and ends with a value for
// every key so that the last offset holds a value. It returns each key's
// latest value ("" for a tombstone) and the last offset produced.
func produceUpdates(t *testing.T, cl *kgo.Client, keys, rounds int) (map[string]string, int64) {
	t.Helper()
	latest := map[string]string{}
	last := int64(-1)
	for r := range rounds {
		var recs []*kgo.Record
		for k := range keys {
			key := fmt.Sprintf("key-%02d", k)
			rec := &kgo.Record{Key: []byte(key)}
			if (r+k)%7 != 3 || r == rounds-1 {
				rec.Value = []byte(fmt.Sprintf("%s-round-%d", key, r))
			}
			latest[key] = string(rec.Value)
			recs = append(recs, rec)
		}
		// One round a request: batches of about a segment's size.
		res := cl.ProduceSync(testCtx(t), recs...)
		if err := res.FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
		for _, r := range res {
			last = max(last, r.Record.Offset)
		}
	}
	return latest, last
}

// cleanerCheckpoint returns the offset cleaner-offset-checkpoint records
// for topic-p in b's first log dir, -1 when none.
func cleanerCheckpoint(b *testcluster.Broker, topic string, p int32) int64 {
	return cleanerCheckpointIn(b.LogDirs()[0], topic, p)
}

// cleanerCheckpointIn returns the offset the cleaner-offset-checkpoint of
// the log dir dir records for topic-p, -1 when none.
func cleanerCheckpointIn(dir, topic string, p int32) int64 {
	data, err := os.ReadFile(filepath.Join(dir, "cleaner-offset-checkpoint"))
	if err != nil {
		return -1
	}
	lines := strings.Split(string(data), "\n")
	if len(lines) < 2 || lines[0] != "0" {
		return -1
	}
	for _, l := range lines[2:] {
		f := strings.Fields(l)
		if len(f) == 3 && f[0] == topic && f[1] == strconv.Itoa(int(p)) {
			o, _ := strconv.ParseInt(f[2], 10, 64)
			return o
		}
	}
	return -1
}

// readUpTo consumes topic-0 from the earliest offset through offset last.
func readUpTo(t *testing.T, b *testcluster.Broker, topic string, last int64) []*kgo.Record {
	t.Helper()
	cl := newClient(t, b, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}), kgo.FetchMaxWait(500*time.Millisecond))
	ctx := testCtx(t)
	var out []*kgo.Record
	for len(out) == 0 || out[len(out)-1].Offset < last {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %s up to %d: got to %d records: %v", topic, last, len(out), ctx.Err())
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Logf("fetch error: %v", err) })
		out = append(out, fs.Records()...)
	}
	return out
}

// checkCompactedRead checks a read of a compacted partition from its start:
// offsets only grow, no key appears twice below cleanedTo, and each key's
// last record read is its latest value (or, for a deleted key, a tombstone
// or nothing).
func checkCompactedRead(t *testing.T, recs []*kgo.Record, latest map[string]string, cleanedTo int64) {
	t.Helper()
	last := map[string]*kgo.Record{}
	below := map[string]bool{}
	prev := int64(-1)
	for _, r := range recs {
		if r.Offset <= prev {
			t.Fatalf("offset %d after %d", r.Offset, prev)
		}
		prev = r.Offset
		k := string(r.Key)
		if r.Offset < cleanedTo {
			if below[k] {
				t.Fatalf("key %s twice below the cleaner checkpoint %d", k, cleanedTo)
			}
			below[k] = true
		}
		last[k] = r
	}
	for k, v := range latest {
		r, ok := last[k]
		switch {
		case v == "" && (!ok || r.Value == nil):
		case !ok || string(r.Value) != v:
			t.Fatalf("key %s: want %q, read %+v", k, v, r)
		}
	}
}

// TestCompactionLatestValuePerKey runs the real broker's log cleaner over a
// compacted topic with small segments: once cleaner-offset-checkpoint
// records a clean, a franz-go consumer from the earliest offset reads each
// key's latest value once below the checkpoint, with offsets increasing;
// and a record without a key is refused with INVALID_RECORD.
func TestCompactionLatestValuePerKey(t *testing.T) {
	_, b := startBroker(t, map[string]string{"log.cleaner.backoff.ms": "100"})
	adm := newAdmin(t, b)
	createTopic(t, adm, "compacted", 1, compactTopicConfigs())
	cl := newClient(t, b, kgo.DefaultProduceTopic("compacted"), kgo.ProducerLinger(0))
	latest, last := produceUpdates(t, cl, 30, 20)

	err := cl.ProduceSync(testCtx(t), &kgo.Record{Value: []byte("no key")}).FirstErr()
	if !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("keyless record to a compacted topic: %v, want INVALID_RECORD", err)
	}

	var cleaned int64
	waitUntil(t, time.Minute, "cleaner-offset-checkpoint to cover most of the log", func() bool {
		cleaned = cleanerCheckpoint(b, "compacted", 0)
		return cleaned > last/2
	})
	recs := readUpTo(t, b, "compacted", last)
	if len(recs) >= int(last+1) {
		t.Fatalf("read %d records of %d produced: nothing removed", len(recs), last+1)
	}
	checkCompactedRead(t, recs, latest, cleaned)
}

// TestCompactionReplicated compacts an RF 3 topic: every replica cleans
// its own log (each broker's cleaner-offset-checkpoint records the
// partition), and after the leader stops, a consumer of the new leader
// reads each key's latest value.
func TestCompactionReplicated(t *testing.T) {
	c := testcluster.New(t)
	bs := c.StartBrokers(t, 3, map[string]string{"log.cleaner.backoff.ms": "100"})
	z := c.ZKClient(t)
	ctx := testCtx(t)
	createReplicated(ctx, t, newClient(t, bs[0]), z, "compacted-rf3", 1, compactTopicConfigs())
	cl := newClient(t, bs[0], kgo.DefaultProduceTopic("compacted-rf3"), kgo.ProducerLinger(0), kgo.RequiredAcks(kgo.AllISRAcks()))
	latest, last := produceUpdates(t, cl, 25, 20)
	for _, b := range bs {
		waitUntil(t, time.Minute, fmt.Sprintf("broker %d to clean its replica", b.ID), func() bool {
			return cleanerCheckpoint(b, "compacted-rf3", 0) > last/2
		})
	}
	st, ok := readState(t, z, "compacted-rf3", 0)
	if !ok {
		t.Fatal("no partition state")
	}
	var leader *testcluster.Broker
	var rest []*testcluster.Broker
	for _, b := range bs {
		if b.ID == st.Leader {
			leader = b
		} else {
			rest = append(rest, b)
		}
	}
	if leader == nil {
		t.Fatalf("leader %d is none of the brokers", st.Leader)
	}
	leader.Stop()
	waitUntil(t, time.Minute, "a new leader", func() bool {
		s, ok := readState(t, z, "compacted-rf3", 0)
		return ok && s.Leader >= 0 && s.Leader != st.Leader
	})
	cleaned := min(cleanerCheckpoint(rest[0], "compacted-rf3", 0), cleanerCheckpoint(rest[1], "compacted-rf3", 0))
	recs := readUpTo(t, rest[0], "compacted-rf3", last)
	checkCompactedRead(t, recs, latest, cleaned)
	// New writes on the new leader still compact and read back.
	cl2 := newClient(t, rest[0], kgo.DefaultProduceTopic("compacted-rf3"), kgo.ProducerLinger(0))
	latest2, last2 := produceUpdates(t, cl2, 25, 4)
	for k, v := range latest2 {
		latest[k] = v
	}
	recs = readUpTo(t, rest[1], "compacted-rf3", last2)
	checkCompactedRead(t, recs, latest, cleaned)
}

// TestCompactionAfterPolicyChange creates a topic with the delete policy,
// produces keyed updates, then switches cleanup.policy to compact through
// IncrementalAlterConfigs (kafka-configs.sh --alter): the running broker's
// cleaner picks the change up and compacts the topic without a restart.
func TestCompactionAfterPolicyChange(t *testing.T) {
	_, b := startBroker(t, map[string]string{"log.cleaner.backoff.ms": "100"})
	adm := newAdmin(t, b)
	cfgs := compactTopicConfigs()
	policy := "delete"
	cfgs["cleanup.policy"] = &policy
	createTopic(t, adm, "becomes-compacted", 1, cfgs)
	cl := newClient(t, b, kgo.DefaultProduceTopic("becomes-compacted"), kgo.ProducerLinger(0))
	latest, last := produceUpdates(t, cl, 20, 15)
	if o := cleanerCheckpoint(b, "becomes-compacted", 0); o >= 0 {
		t.Fatalf("a delete-policy topic was cleaned to %d", o)
	}
	compact := "compact"
	res, err := adm.AlterTopicConfigs(testCtx(t), []kadm.AlterConfig{{Name: "cleanup.policy", Value: &compact}}, "becomes-compacted")
	if err != nil || res[0].Err != nil {
		t.Fatalf("alter cleanup.policy: %v %+v", err, res)
	}
	var cleaned int64
	waitUntil(t, time.Minute, "the cleaner to pick up the new policy", func() bool {
		cleaned = cleanerCheckpoint(b, "becomes-compacted", 0)
		return cleaned > last/2
	})
	checkCompactedRead(t, readUpTo(t, b, "becomes-compacted", last), latest, cleaned)
}

// TestCompactionLaggingFollower stops a follower of an RF 3 compacted
// topic, produces and lets the leader compact, then starts the follower:
// it catches up by copying the leader's compacted log, gaps included
// (batches cleaned away whole), rejoins the ISR, and once it is the only
// broker left and so the leader, a consumer from the earliest offset reads
// each key's latest value.
func TestCompactionLaggingFollower(t *testing.T) {
	c := testcluster.New(t)
	bs := c.StartBrokers(t, 3, map[string]string{"log.cleaner.backoff.ms": "100", "replica.lag.time.max.ms": "1000"})
	z := c.ZKClient(t)
	ctx := testCtx(t)
	const topic = "compacted-lag"
	createReplicated(ctx, t, newClient(t, bs[0]), z, topic, 1, compactTopicConfigs())
	st, ok := readState(t, z, topic, 0)
	if !ok {
		t.Fatal("no partition state")
	}
	var leader, lagging *testcluster.Broker
	for _, b := range bs {
		switch {
		case b.ID == st.Leader:
			leader = b
		case lagging == nil:
			lagging = b
		}
	}
	lagging.Stop()
	cl := newClient(t, leader, kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0), kgo.RequiredAcks(kgo.AllISRAcks()))
	latest, last := produceUpdates(t, cl, 25, 20)
	waitUntil(t, time.Minute, "the leader to clean", func() bool { return cleanerCheckpoint(leader, topic, 0) > last/2 })
	if err := lagging.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, time.Minute, "the lagging follower back in the ISR", wholeISRs(t, z, topic, 1, 3))
	for {
		s, ok := readState(t, z, topic, 0)
		if ok && s.Leader == lagging.ID {
			break
		}
		for _, b := range bs {
			if ok && b.ID == s.Leader {
				b.Stop()
			}
		}
		waitUntil(t, time.Minute, "a new leader", func() bool {
			n, ok2 := readState(t, z, topic, 0)
			return ok2 && n.Leader >= 0 && n.Leader != s.Leader
		})
	}
	recs := readUpTo(t, lagging, topic, last)
	t.Logf("broker %d (stopped while %d led) leads; reads %d records of %d produced", lagging.ID, st.Leader, len(recs), last+1)
	if len(recs) >= int(last+1) {
		t.Fatalf("the follower holds %d records of %d: it did not copy a compacted log", len(recs), last+1)
	}
	checkCompactedRead(t, recs, latest, cleanerCheckpoint(lagging, topic, 0))
}
