package broker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gokafka/gokafka/storage"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// alterDir asks the broker (kadm, as kafka-reassign-partitions.sh with
// log_dirs does) to move topic-partition to dir and returns the
// partition's error.
func alterDir(t *testing.T, adm *kadm.Client, dir, topic string, part int32) error {
	t.Helper()
	var req kadm.AlterReplicaLogDirsReq
	req.Add(dir, kadm.TopicsSet{topic: {part: {}}})
	resps, err := adm.AlterBrokerReplicaLogDirs(adminCtx(t), 0, req)
	if err != nil {
		t.Fatalf("AlterReplicaLogDirs: %v", err)
	}
	r, ok := resps[topic][part]
	if !ok {
		t.Fatalf("no answer for %s-%d: %+v", topic, part, resps)
	}
	return r.Err
}

// describePartition returns where DescribeLogDirs places topic-partition:
// dir -> the partition's entry there.
func describePartition(t *testing.T, adm *kadm.Client, topic string, part int32) map[string]kadm.DescribedLogDirPartition {
	t.Helper()
	dirs, err := adm.DescribeBrokerLogDirs(adminCtx(t), 0, kadm.TopicsSet{topic: {part: {}}})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]kadm.DescribedLogDirPartition{}
	for dir, d := range dirs {
		if dp, ok := d.Topics[topic][part]; ok {
			out[dir] = dp
		}
	}
	return out
}

// ackedProducer produces numbered records to a partition until stopped,
// remembering which were acknowledged.
type ackedProducer struct {
	mu    sync.Mutex
	acked map[string]bool
	errs  []error
	stop  context.CancelFunc
	done  chan struct{}
}

func startProducer(t *testing.T, addr, topic string) *ackedProducer {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ap := &ackedProducer{acked: map[string]bool{}, stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(ap.done)
		defer cl.Close()
		for i := 0; ctx.Err() == nil; i++ {
			v := fmt.Sprintf("%08d-%s", i, strings.Repeat("x", 200))
			cl.Produce(ctx, &kgo.Record{Value: []byte(v)}, func(r *kgo.Record, err error) {
				ap.mu.Lock()
				defer ap.mu.Unlock()
				switch {
				case err == nil:
					ap.acked[string(r.Value)] = true
				case !errors.Is(err, context.Canceled):
					ap.errs = append(ap.errs, err)
				}
			})
			if i%50 == 49 {
				_ = cl.Flush(ctx)
			}
		}
		_ = cl.Flush(context.Background())
	}()
	return ap
}

func (ap *ackedProducer) finish(t *testing.T) map[string]bool {
	t.Helper()
	ap.stop()
	<-ap.done
	ap.mu.Lock()
	defer ap.mu.Unlock()
	if len(ap.errs) > 0 {
		t.Errorf("produce errors during the move: %v", ap.errs[:min(len(ap.errs), 5)])
	}
	return ap.acked
}

// consumeAll reads topic-partition from the start to its high watermark.
func consumeAll(t *testing.T, addr, topic string, part int32) []string {
	t.Helper()
	adm, _ := newAdmin(t, addr)
	ends, err := adm.ListEndOffsets(adminCtx(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	end, _ := ends.Lookup(topic, part)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {part: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []string
	ctx := adminCtx(t)
	for int64(len(out)) < end.Offset {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d: %v", len(out), end.Offset, err)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, string(r.Value)) })
	}
	return out
}

// TestAlterReplicaLogDirsMovesWhileProducing moves a partition between the
// broker's two log dirs while a producer writes to it at acks=all: the
// answer is immediate, DescribeLogDirs shows the future replica in the
// target dir while it lags (the mover is held back to observe it), the
// partition's files end in the target dir and the source dir holds
// nothing of it, no produce fails, and every acknowledged record reads
// back once, in order.
func TestAlterReplicaLogDirsMovesWhileProducing(t *testing.T) {
	d1, d2 := t.TempDir(), t.TempDir()
	s, addr := startTestServer(t, "log.dirs="+d1+","+d2)
	adm, _ := newAdmin(t, addr)
	if _, err := adm.CreateTopic(adminCtx(t), 1, 1, nil, "mv"); err != nil {
		t.Fatal(err)
	}
	produceN(t, []string{addr}, "mv", 200)
	p, ok := s.replicas.get(topicPartition{"mv", 0})
	if !ok {
		t.Fatal("mv-0 not hosted")
	}
	src := filepath.Dir(p.log.Dir())
	dst := d1
	if src == d1 {
		dst = d2
	}
	dstAbs, _ := filepath.Abs(dst)

	prod := startProducer(t, addr, "mv")
	waitFor(t, 10*time.Second, "records acknowledged", func() bool {
		prod.mu.Lock()
		defer prod.mu.Unlock()
		return len(prod.acked) > 100
	})
	// Hold the mover back at its first copy so that the future replica
	// is seen lagging.
	started := make(chan *logMove, 1)
	s.replicas.onMoveStart = func(lm *logMove) { lm.mu.Lock(); started <- lm }
	if err := alterDir(t, adm, dstAbs, "mv", 0); err != nil {
		t.Fatalf("AlterReplicaLogDirs: %v", err)
	}
	var m *logMove
	select {
	case m = <-started:
	default:
	}
	if m == nil || p.move.Load() != m {
		t.Fatal("no move in progress after AlterReplicaLogDirs")
	}
	seen := describePartition(t, adm, "mv", 0)
	fut, ok := seen[dstAbs]
	if !ok || !fut.IsFuture || fut.OffsetLag <= 0 {
		m.mu.Unlock()
		t.Fatalf("DescribeLogDirs during the move: %+v, want a lagging future replica in %s", seen, dstAbs)
	}
	m.mu.Unlock()
	// A second request for the same target changes nothing (kadm path).
	if err := alterDir(t, adm, dstAbs, "mv", 0); err != nil {
		t.Fatalf("AlterReplicaLogDirs again: %v", err)
	}
	waitFor(t, 30*time.Second, "the move to finish", func() bool {
		return p.move.Load() == nil && filepath.Dir(p.log.Dir()) == dst
	})
	time.Sleep(200 * time.Millisecond) // produce on in the new dir for a moment
	acked := prod.finish(t)

	if _, err := os.Stat(filepath.Join(src, "mv-0")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("mv-0 still in the source dir: %v", err)
	}
	// The mover removes the old dir (renamed -delete) after the swap,
	// once it has written the checkpoints.
	var left []string
	waitFor(t, 30*time.Second, "nothing of mv-0 left in the source dir", func() bool {
		left = left[:0]
		ents, _ := os.ReadDir(src)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), "mv-0") {
				left = append(left, e.Name())
			}
		}
		return len(left) == 0
	})
	after := describePartition(t, adm, "mv", 0)
	if dp, ok := after[dstAbs]; len(after) != 1 || !ok || dp.IsFuture || dp.Size <= 0 {
		t.Errorf("DescribeLogDirs after the move: %+v", after)
	}
	got := consumeAll(t, addr, "mv", 0)
	seenVals := map[string]bool{}
	last := ""
	for _, v := range got {
		if len(v) < 9 || v[8] != '-' {
			continue // produceN's records before the producer started
		}
		if seenVals[v] {
			t.Fatalf("record %.8s read twice", v)
		}
		seenVals[v] = true
		if v[:8] < last {
			t.Fatalf("record %.8s after %.8s", v, last)
		}
		last = v[:8]
	}
	for v := range acked {
		if !seenVals[v] {
			t.Fatalf("acknowledged record %.8s lost (read %d records, %d acknowledged)", v, len(got), len(acked))
		}
	}
	if len(acked) < 150 {
		t.Errorf("only %d records acknowledged during the test", len(acked))
	}
}

// TestAlterReplicaLogDirsErrors checks the per-partition errors Kafka
// answers and the preferred dir of a replica not hosted yet.
func TestAlterReplicaLogDirsErrors(t *testing.T) {
	d1, d2 := t.TempDir(), t.TempDir()
	s, addr := startTestServer(t, "log.dirs="+d1+","+d2)
	adm, _ := newAdmin(t, addr)
	if _, err := adm.CreateTopic(adminCtx(t), 2, 1, nil, "e"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "e hosted", func() bool { return len(s.replicas.all()) == 2 })
	p0, _ := s.replicas.get(topicPartition{"e", 0})
	here, _ := filepath.Abs(filepath.Dir(p0.log.Dir()))
	// A topic the metadata knows with a partition this broker lacks.
	s.meta.setTopic(&topicMeta{Name: "elsewhere", ID: [16]byte{9}, Partitions: map[int32]partitionMeta{0: {}}})

	for _, c := range []struct {
		name      string
		dir       string
		topic     string
		part      int32
		want      error
		preferred bool
	}{
		{"unknown dir", filepath.Join(t.TempDir(), "nope"), "e", 0, kerr.LogDirNotFound, false},
		{"relative dir", "relative/dir", "e", 0, kerr.LogDirNotFound, false},
		{"unknown topic", d2, "nosuch", 0, kerr.UnknownTopicOrPartition, false},
		{"unknown partition", d2, "e", 7, kerr.UnknownTopicOrPartition, false},
		{"not hosted here", d2, "elsewhere", 0, kerr.ReplicaNotAvailable, true},
		{"the dir it is in", here, "e", 0, nil, false},
		{"topic name too long", d2, strings.Repeat("t", 249), 0, kerr.InvalidTopicException, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := alterDir(t, adm, c.dir, c.topic, c.part)
			if !errors.Is(err, c.want) && (err != nil || c.want != nil) {
				t.Fatalf("error = %v, want %v", err, c.want)
			}
		})
	}
	if p0.move.Load() != nil {
		t.Error("moving to its own dir started a move")
	}
	// The replica not hosted was remembered: created, it goes to d2 even
	// where the fewest-partitions rule would pick another dir.
	for i := range 3 {
		if err := os.MkdirAll(filepath.Join(d2, fmt.Sprintf("filler-%d", i)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.dirs.PathFor("elsewhere", 0); got != filepath.Join(d2, "elsewhere-0") {
		t.Errorf("the replica not hosted is created in %s, want d2 as AlterReplicaLogDirs asked", got)
	}
	// An offline target dir.
	s.dirs.Fail(d2, errors.New("test: disk gone"))
	if err := alterDir(t, adm, d2, "e", 1); !errors.Is(err, kerr.KafkaStorageError) {
		t.Errorf("offline dir: %v, want KAFKA_STORAGE_ERROR", err)
	}
}

// TestLogDirMoveResumesAfterRestart stops the broker with a future log
// half copied on disk (as a crash mid-move leaves it) and restarts it: the
// move resumes and completes, and the partition holds every record.
func TestLogDirMoveResumesAfterRestart(t *testing.T) {
	d1, d2 := t.TempDir(), t.TempDir()
	cfg := testServerConfig(t, "log.dirs="+d1+","+d2)
	s1, addr, stop := runTestServer(t, cfg)
	adm, _ := newAdmin(t, addr)
	if _, err := adm.CreateTopic(adminCtx(t), 1, 1, nil, "rs"); err != nil {
		t.Fatal(err)
	}
	produceN(t, []string{addr}, "rs", 300)
	p, _ := s1.replicas.get(topicPartition{"rs", 0})
	cur := p.log.Dir()
	dst := d1
	if filepath.Dir(cur) == d1 {
		dst = d2
	}
	stop()

	// Half a copy, as a move cut short leaves it.
	lc := storage.DefaultConfig()
	src, err := storage.Open(cur, lc, storage.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	future, err := storage.Open(filepath.Join(dst, "rs-0.00112233445566778899aabbccddeeff-future"), lc, storage.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for future.EndOffset() < src.EndOffset()/2 {
		if _, err := future.CopyFrom(src, 2000); err != nil {
			t.Fatal(err)
		}
	}
	half := future.EndOffset()
	if err := errors.Join(future.Close(), src.Close()); err != nil {
		t.Fatal(err)
	}
	if half <= 0 || half >= 300 {
		t.Fatalf("half copy ends at %d", half)
	}

	s2, addr2, _ := runTestServer(t, cfg)
	p2, ok := s2.replicas.get(topicPartition{"rs", 0})
	if !ok {
		waitFor(t, 10*time.Second, "rs-0 hosted", func() bool { _, ok := s2.replicas.get(topicPartition{"rs", 0}); return ok })
		p2, _ = s2.replicas.get(topicPartition{"rs", 0})
	}
	waitFor(t, 30*time.Second, "the resumed move to finish", func() bool {
		return p2.move.Load() == nil && filepath.Dir(p2.log.Dir()) == dst
	})
	if _, err := os.Stat(cur); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the old dir %s is still there: %v", cur, err)
	}
	got := consumeAll(t, addr2, "rs", 0)
	if len(got) != 300 {
		t.Fatalf("read %d records after the resumed move, want 300", len(got))
	}
}
