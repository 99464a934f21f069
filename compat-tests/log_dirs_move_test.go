package compattests

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/gokafka/gokafka/internal/testcluster"
)

// concatSegments returns the bytes of the .log segments of dir, in offset
// order (zero-padded names sort as offsets), and their names.
func concatSegments(t *testing.T, dir string) ([]byte, []string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read %s: %v", dir, err)
	}
	var out []byte
	var names []string
	for _, e := range ents {
		if filepath.Ext(e.Name()) != ".log" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b...)
		names = append(names, e.Name())
	}
	return out, names
}

// TestLogDirMoveWhileProducing moves a replica between the two log dirs of
// one of three real brokers, as kafka-reassign-partitions.sh with log_dirs
// in its JSON does (AlterReplicaLogDirs from kadm pinned to Kafka 3.9's
// versions), while an acks=all producer writes to the RF 3 partition.
// The replica's files end in the target dir and nothing of it stays in
// the source dir; DescribeLogDirs (kafka-log-dirs.sh --describe) reports
// it in the source dir before and in the target dir after, not as a
// future replica; its .log segments are byte for byte the bytes of
// another replica's; no produce failed and every acknowledged record
// reads back once.
func TestLogDirMoveWhileProducing(t *testing.T) {
	testLogDirMove(t, 3000, nil)
}

// TestLogDirMoveSurvivesSIGKILL is TestLogDirMoveWhileProducing with the
// broker killed (SIGKILL) right after it accepted the move, with some
// megabytes still to copy, and started again: wherever the kill caught the
// move (copying, between the swap's renames, removing the old dir), the
// restarted broker finishes it, resuming the future log, and the same
// checks hold.
func TestLogDirMoveSurvivesSIGKILL(t *testing.T) {
	testLogDirMove(t, 30000, func(b *testcluster.Broker) {
		b.Kill()
		ctx, cancel := context.WithTimeout(context.Background(), testcluster.StartTimeout)
		defer cancel()
		if err := b.Start(ctx); err != nil {
			t.Fatalf("restart broker %d after SIGKILL: %v", b.ID, err)
		}
		t.Cleanup(func() { // where the kill caught the move, for the record
			for _, l := range strings.Split(b.Log(), "\n") {
				if strings.Contains(l, "log dir") {
					t.Logf("after the restart: %s", l)
				}
			}
		})
	})
}

// testLogDirMove runs the move once before records (of about 300 bytes)
// were acknowledged; afterAlter, when set, acts on the moving broker right
// after it answered AlterReplicaLogDirs.
func testLogDirMove(t *testing.T, before int, afterAlter func(*testcluster.Broker)) {
	c := testcluster.New(t)
	b0 := c.StartBroker(t, nil)
	b1 := c.StartBroker(t, nil)
	jbodDirs := []string{filepath.Join(t.TempDir(), "dir-a"), filepath.Join(t.TempDir(), "dir-b")}
	b2 := c.StartBroker(t, map[string]string{"log.dirs": strings.Join(jbodDirs, ",")})
	bs := []*testcluster.Broker{b0, b1, b2}
	z := c.ZKClient(t)
	ctx := testCtx(t)
	// kafka-reassign-partitions.sh / kafka-log-dirs.sh of Kafka 3.9.
	adm := kadm.NewClient(newClient(t, b0, kgo.MaxVersions(kversion.V3_9_0())))
	segBytes := "40000"
	createReplicated(ctx, t, newClient(t, b0), z, "jbod", 1, map[string]*string{"segment.bytes": &segBytes})

	src := ""
	for _, d := range jbodDirs {
		if _, err := os.Stat(filepath.Join(d, "jbod-0")); err == nil {
			src = d
		}
	}
	if src == "" {
		t.Fatalf("jbod-0 is in neither log dir of broker %d", b2.ID)
	}
	dst := jbodDirs[0]
	if src == dst {
		dst = jbodDirs[1]
	}

	// The producer, acks=all (franz-go's default), numbered records.
	var mu sync.Mutex
	acked := map[string]bool{}
	var produceErrs []error
	pctx, stopProducing := context.WithCancel(ctx)
	producer := newClient(t, b0, kgo.DefaultProduceTopic("jbod"), kgo.ProducerLinger(2*time.Millisecond))
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		for i := 0; pctx.Err() == nil; i++ {
			v := fmt.Sprintf("%08d-%s", i, strings.Repeat("r", 300))
			producer.Produce(pctx, &kgo.Record{Value: []byte(v)}, func(r *kgo.Record, err error) {
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					acked[string(r.Value)] = true
				case !errors.Is(err, context.Canceled):
					produceErrs = append(produceErrs, err)
				}
			})
			if i%100 == 99 {
				_ = producer.Flush(pctx)
			}
		}
	}()
	ackedCount := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	waitUntil(t, time.Minute, "records acknowledged before the move", func() bool { return ackedCount() >= before })

	where := func() (map[string]kadm.DescribedLogDirPartition, bool) {
		dirs, err := adm.DescribeBrokerLogDirs(ctx, b2.ID, kadm.TopicsSet{"jbod": {0: {}}})
		if err != nil {
			return nil, false
		}
		out := map[string]kadm.DescribedLogDirPartition{}
		dirs.Each(func(d kadm.DescribedLogDir) {
			d.Topics.Each(func(p kadm.DescribedLogDirPartition) { out[d.Dir] = p })
		})
		return out, true
	}
	if before, ok := where(); !ok || len(before) != 1 || before[src].Size <= 0 || before[src].IsFuture {
		t.Fatalf("before the move broker %d describes jbod-0 as %+v, want it in %s", b2.ID, before, src)
	}

	var req kadm.AlterReplicaLogDirsReq
	req.Add(dst, kadm.TopicsSet{"jbod": {0: {}}})
	resps, err := adm.AlterBrokerReplicaLogDirs(ctx, b2.ID, req)
	if err != nil {
		t.Fatalf("alter replica log dirs: %v", err)
	}
	if r := resps["jbod"][0]; r.Err != nil {
		t.Fatalf("alter replica log dirs: jbod-0: %v", r.Err)
	}
	if afterAlter != nil {
		afterAlter(b2)
	}
	waitUntil(t, time.Minute, "the replica to be in the target dir", func() bool {
		after, ok := where()
		if !ok {
			return false // restarting
		}
		p, ok := after[dst]
		return len(after) == 1 && ok && !p.IsFuture
	})
	// The producer goes on for a while against the moved replica.
	n := ackedCount()
	waitUntil(t, time.Minute, "records acknowledged after the move", func() bool { return ackedCount() >= n+1000 })
	stopProducing()
	<-produced
	// Records already sent are still acknowledged after the cancel: wait
	// for every answer before the logs are compared.
	if err := producer.Flush(ctx); err != nil {
		t.Fatalf("flush the producer: %v", err)
	}
	mu.Lock()
	if len(produceErrs) > 0 {
		t.Errorf("%d produce errors, first %v", len(produceErrs), produceErrs[0])
	}
	mu.Unlock()

	// The old dir, renamed -delete at the swap, is removed after it.
	var left []string
	waitUntil(t, time.Minute, "nothing of jbod-0 left in the source dir", func() bool {
		ents, err := os.ReadDir(src)
		if err != nil {
			t.Fatal(err)
		}
		left = left[:0]
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), "jbod-0") {
				left = append(left, e.Name())
			}
		}
		return len(left) == 0
	})

	// Every replica caught up: the moved one is the other replicas' log,
	// byte for byte.
	other := b0
	waitUntil(t, time.Minute, "every replica of jbod-0 caught up", func() bool {
		ends := map[int64]bool{}
		for _, b := range bs {
			dirs, err := adm.DescribeBrokerLogDirs(ctx, b.ID, kadm.TopicsSet{"jbod": {0: {}}})
			if err != nil {
				return false
			}
			size := int64(-1)
			dirs.Each(func(d kadm.DescribedLogDir) {
				d.Topics.Each(func(p kadm.DescribedLogDirPartition) {
					if p.OffsetLag == 0 {
						size = p.Size
					}
				})
			})
			ends[size] = true
		}
		return len(ends) == 1 && !ends[-1]
	})
	moved, movedNames := concatSegments(t, filepath.Join(dst, "jbod-0"))
	ref, _ := concatSegments(t, filepath.Join(other.LogDirs()[0], "jbod-0"))
	if len(moved) == 0 || !bytes.Equal(moved, ref) {
		t.Fatalf("the moved replica's segments (%d bytes, %v) differ from broker %d's (%d bytes)", len(moved), movedNames, other.ID, len(ref))
	}
	if len(movedNames) < 2 {
		t.Errorf("the moved replica has %d segments; the test wants several", len(movedNames))
	}

	mu.Lock()
	want := len(acked)
	mu.Unlock()
	cl := newClient(t, b2, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"jbod": {0: kgo.NewOffset().AtStart()}}))
	lo, err := adm.ListEndOffsets(ctx, "jbod")
	if err != nil {
		t.Fatal(err)
	}
	end, _ := lo.Lookup("jbod", 0)
	recs := pollN(t, cl, int(end.Offset))
	seen := map[string]bool{}
	var order []string
	for _, r := range recs {
		v := string(r.Value)
		if seen[v] {
			t.Fatalf("record %.8s read twice", v)
		}
		seen[v] = true
		order = append(order, v[:8])
	}
	if !slices.IsSorted(order) {
		t.Error("records read out of order")
	}
	var lost []string
	for v := range acked {
		if !seen[v] {
			lost = append(lost, v[:8])
		}
	}
	if len(lost) > 0 {
		slices.Sort(lost)
		t.Fatalf("%d of %d acknowledged records lost (%s..%s); read %d records up to the high watermark %d, the last %s",
			len(lost), want, lost[0], lost[len(lost)-1], len(recs), end.Offset, order[len(order)-1])
	}
}
