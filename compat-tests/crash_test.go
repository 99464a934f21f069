package compattests

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gokafka/gokafka/internal/testcluster"
)

// acked is one record the broker acknowledged.
type acked struct {
	partition int32
	offset    int64
	value     string
}

// TestCrashKeepsAcknowledgedRecords kills the broker with SIGKILL while an
// idempotent acks=all producer is writing, restarts it on the same dirs, and
// checks that every acknowledged record is there, exactly once, at the offset
// the broker acknowledged, in order per partition. It runs with the default
// flush policy (page cache) and with a flush after every message.
func TestCrashKeepsAcknowledgedRecords(t *testing.T) {
	for _, tc := range []struct {
		name      string
		overrides map[string]string
	}{
		{"page-cache", nil},
		{"flush-every-message", map[string]string{"log.flush.interval.messages": "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, b := startBroker(t, tc.overrides)
			const topic, partitions = "crash", 3
			createTopic(t, newAdmin(t, b), topic, partitions, nil)

			acks := produceUntilKilled(t, b, topic, 600)

			b.Restart()
			var total int
			perPartition := map[int32][]acked{}
			for _, a := range acks {
				perPartition[a.partition] = append(perPartition[a.partition], a)
			}
			// Everything in the log, acknowledged or not (an unacknowledged
			// record may or may not have made it).
			ends, err := newAdmin(t, b).ListEndOffsets(testCtx(t), topic)
			if err != nil {
				t.Fatalf("list end offsets after restart: %v", err)
			}
			for _, o := range offsetsOf(ends)[topic] {
				total += int(o)
			}
			if total < len(acks) {
				t.Fatalf("after restart the log holds %d records; %d were acknowledged", total, len(acks))
			}
			got := byPartition(consumeAll(t, b, topic, partitions, total))
			for p, want := range perPartition {
				at := map[int64]string{}
				seen := map[string]int{}
				for _, r := range got[p] {
					at[r.Offset] = string(r.Value)
					seen[string(r.Value)]++
				}
				var prev int64 = -1
				for _, a := range want {
					if v, ok := at[a.offset]; !ok || v != a.value {
						t.Errorf("partition %d offset %d: have %q (present %v), acknowledged %q", p, a.offset, v, ok, a.value)
					}
					if seen[a.value] != 1 {
						t.Errorf("partition %d: acknowledged %q appears %d times", p, a.value, seen[a.value])
					}
					if a.offset <= prev {
						t.Errorf("partition %d: acknowledged offsets out of order: %d after %d", p, a.offset, prev)
					}
					prev = a.offset
				}
			}
			t.Logf("%d records acknowledged before SIGKILL, %d in the log after restart", len(acks), total)

			// The restarted broker takes new writes after the recovered data.
			r := &kgo.Record{Topic: topic, Partition: 0, Value: []byte("after restart")}
			produceSync(t, newClient(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner())), r)
			if want := offsetsOf(ends)[topic][0]; r.Offset != want {
				t.Errorf("first record after restart at offset %d, want %d", r.Offset, want)
			}
		})
	}
}

// produceUntilKilled produces to topic from an idempotent acks=all producer
// and SIGKILLs the broker once minAcked records are acknowledged, while
// more are in flight. It returns the acknowledged records.
func produceUntilKilled(t *testing.T, b *testcluster.Broker, topic string, minAcked int) []acked {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(2*time.Millisecond), kgo.MaxBufferedRecords(200),
		kgo.RecordDeliveryTimeout(10*time.Second), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		acks   []acked
		killed = make(chan struct{})
		once   sync.Once
	)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			select {
			case <-killed:
				return
			default:
			}
			rec := &kgo.Record{Topic: topic, Value: []byte(fmt.Sprintf("record-%06d", i))}
			cl.Produce(ctx, rec, func(r *kgo.Record, err error) {
				if err != nil {
					return // not acknowledged: may or may not be in the log
				}
				mu.Lock()
				acks = append(acks, acked{r.Partition, r.Offset, string(r.Value)})
				n := len(acks)
				mu.Unlock()
				if n >= minAcked {
					once.Do(func() { b.Kill(); close(killed) })
				}
			})
		}
	}()
	select {
	case <-killed:
	case <-ctx.Done():
		mu.Lock()
		n := len(acks)
		mu.Unlock()
		t.Fatalf("only %d of %d records acknowledged before the deadline", n, minAcked)
	}
	wg.Wait()
	cl.Close() // fails whatever is still buffered: those were never acknowledged
	mu.Lock()
	defer mu.Unlock()
	return append([]acked(nil), acks...)
}

// TestRestartContinuity stops the broker cleanly, starts it again and checks
// that topics (with their ids and partition counts), data and offsets are
// all still there and new writes continue at the old log end.
func TestRestartContinuity(t *testing.T) {
	_, b := startBroker(t, nil)
	adm := newAdmin(t, b)
	ctx := testCtx(t)
	created := createTopic(t, adm, "durable", 2, nil)
	want := testRecords("durable", "before", 40, time.Now())
	for i, r := range want {
		r.Partition = int32(i % 2)
	}
	produceSync(t, newClient(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner())), want...)
	endsBefore, err := adm.ListEndOffsets(ctx, "durable")
	if err != nil {
		t.Fatal(err)
	}

	if code := b.Stop(); code != 0 {
		t.Fatalf("broker exited with status %d after SIGTERM, want 0", code)
	}
	b.Restart()

	adm = newAdmin(t, b)
	md, err := adm.ListTopics(ctx, "durable")
	if err != nil {
		t.Fatal(err)
	}
	if d := md["durable"]; d.ID != created.ID || len(d.Partitions) != 2 {
		t.Errorf("after restart: topic id %v with %d partitions; want %v with 2", d.ID, len(d.Partitions), created.ID)
	}
	endsAfter, err := adm.ListEndOffsets(ctx, "durable")
	if err != nil {
		t.Fatal(err)
	}
	if a, b := offsetsOf(endsAfter), offsetsOf(endsBefore); fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("end offsets after restart %v, before %v", a, b)
	}

	got := byPartition(consumeAll(t, b, "durable", 2, len(want)))
	for p := int32(0); p < 2; p++ {
		var exp []*kgo.Record
		for _, r := range want {
			if r.Partition == p {
				exp = append(exp, r)
			}
		}
		recordsEqual(t, got[p], exp)
	}

	more := testRecords("durable", "after", 4, time.Now())
	for i, r := range more {
		r.Partition = int32(i % 2)
	}
	produceSync(t, newClient(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner())), more...)
	for i, r := range more {
		wantOff := offsetsOf(endsBefore)["durable"][r.Partition] + int64(i/2)
		if r.Offset != wantOff {
			t.Errorf("new record %d on partition %d at offset %d, want %d", i, r.Partition, r.Offset, wantOff)
		}
	}
}
