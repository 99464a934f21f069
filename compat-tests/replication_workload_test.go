package compattests

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// workload is what the replication robustness tests run against a cluster
// while they break it (etcd's robustness tests are the model): an
// idempotent acks=all producer writing numbered records round-robin over
// the partitions without pause, recording every acknowledgement, and a
// consumer reading along that records any offset going backwards. check
// then reads everything back with a fresh consumer.
type workload struct {
	t          *testing.T
	topic      string
	partitions int32

	mu        sync.Mutex
	acks      []acked
	err       error
	backwards []string

	stopProducing context.CancelFunc
	stopReading   context.CancelFunc
	done          sync.WaitGroup
}

// startWorkload starts the producer and the reader on topic.
func startWorkload(ctx context.Context, t *testing.T, seeds []string, topic string, partitions int32) *workload {
	t.Helper()
	w := &workload{t: t, topic: topic, partitions: partitions}
	prod, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond }))
	if err != nil {
		t.Fatal(err)
	}
	starts := map[int32]kgo.Offset{}
	for p := int32(0); p < partitions; p++ {
		starts[p] = kgo.NewOffset().AtStart()
	}
	reader, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: starts}))
	if err != nil {
		t.Fatal(err)
	}
	pctx, stopP := context.WithCancel(ctx)
	rctx, stopR := context.WithCancel(ctx)
	w.stopProducing, w.stopReading = stopP, stopR
	w.done.Add(2)
	go func() {
		defer w.done.Done()
		defer prod.Close()
		for i := 0; pctx.Err() == nil; i++ {
			p := int32(i) % partitions
			r := &kgo.Record{Partition: p, Value: []byte(fmt.Sprintf("p%d-%d", p, i))}
			octx, cancel := context.WithTimeout(pctx, 2*time.Minute)
			err := prod.ProduceSync(octx, r).FirstErr()
			cancel()
			if pctx.Err() != nil {
				return // stopped while in flight: neither acknowledged nor failed
			}
			w.mu.Lock()
			if err != nil {
				w.err = fmt.Errorf("record %d: %w", i, err)
				w.mu.Unlock()
				return
			}
			w.acks = append(w.acks, acked{partition: r.Partition, offset: r.Offset, value: string(r.Value)})
			w.mu.Unlock()
		}
	}()
	go func() {
		defer w.done.Done()
		defer reader.Close()
		seen := map[int32]int64{}
		for p := int32(0); p < partitions; p++ {
			seen[p] = -1
		}
		for rctx.Err() == nil {
			reader.PollFetches(rctx).EachRecord(func(r *kgo.Record) {
				if r.Offset <= seen[r.Partition] {
					w.mu.Lock()
					w.backwards = append(w.backwards, fmt.Sprintf("partition %d: offset %d after %d", r.Partition, r.Offset, seen[r.Partition]))
					w.mu.Unlock()
				}
				seen[r.Partition] = r.Offset
			})
		}
	}()
	return w
}

// acked returns how many records were acknowledged so far.
func (w *workload) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acks)
}

// progress waits until n more records than now are acknowledged (or the
// producer failed).
func (w *workload) progress(n int) {
	w.t.Helper()
	target := w.count() + n
	waitUntil(w.t, 2*time.Minute, fmt.Sprintf("%d acknowledged records", target), func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return len(w.acks) >= target || w.err != nil
	})
}

// stop ends the producer and the reader and fails the test if the producer
// gave up (clients must keep working through retriable errors) or the
// reader saw an offset go backwards.
func (w *workload) stop() {
	w.t.Helper()
	w.stopProducing()
	w.stopReading()
	w.done.Wait()
	if w.err != nil {
		w.t.Fatalf("the producer failed instead of retrying: %v", w.err)
	}
	if len(w.backwards) > 0 {
		w.t.Errorf("the consumer saw offsets go backwards: %v", w.backwards)
	}
}

// check reads every partition from the start with a fresh consumer and
// fails the test unless each acknowledged record is there exactly once, at
// its acknowledged offset, in order.
func (w *workload) check(ctx context.Context, seeds []string) {
	t := w.t
	t.Helper()
	t.Logf("%d records acknowledged", len(w.acks))
	want := map[int32][]acked{}
	for _, a := range w.acks {
		want[a.partition] = append(want[a.partition], a)
	}
	starts := map[int32]kgo.Offset{}
	for p := int32(0); p < w.partitions; p++ {
		starts[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{w.topic: starts}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// Read until every partition is past its last acknowledged offset
	// (a count of records would stop early on a partition that held
	// records before the workload began).
	last := map[int32]int64{}
	for _, a := range w.acks {
		last[a.partition] = max(last[a.partition], a.offset)
	}
	got := map[int32][]acked{}
	read := map[int32]int64{}
	behind := func() int {
		n := 0
		for p, off := range last {
			if r, ok := read[p]; !ok || r < off {
				n++
			}
		}
		return n
	}
	for behind() > 0 {
		fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		fs := cl.PollFetches(fctx)
		timedOut := fctx.Err() != nil
		cancel()
		for _, e := range fs.Errors() {
			t.Logf("final consumer: %s-%d: %v", e.Topic, e.Partition, e.Err)
		}
		if timedOut {
			t.Errorf("final consumer: %d partitions not read up to their last acknowledged offset (read up to %v, acknowledged up to %v)", behind(), read, last)
			break
		}
		fs.EachRecord(func(r *kgo.Record) {
			got[r.Partition] = append(got[r.Partition], acked{r.Partition, r.Offset, string(r.Value)})
			read[r.Partition] = r.Offset
		})
	}
	for p := int32(0); p < w.partitions; p++ {
		values := map[string]bool{}
		byOffset := map[int64]string{}
		for _, r := range got[p] {
			if values[r.value] {
				t.Errorf("partition %d: %q appears twice", p, r.value)
			}
			values[r.value] = true
			byOffset[r.offset] = r.value
		}
		for i, a := range want[p] {
			if v, ok := byOffset[a.offset]; !ok || v != a.value {
				t.Errorf("partition %d: acknowledged %q at offset %d, log has %q (present %v)", p, a.value, a.offset, v, ok)
			}
			if i > 0 && a.offset <= want[p][i-1].offset {
				t.Errorf("partition %d: acknowledged offsets not increasing: %d then %d", p, want[p][i-1].offset, a.offset)
			}
		}
	}
}
