package clusterbench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Rows of the transactional produce figures, after issue 8's.
const (
	orderTxnIdem1 = orderReassignP99 + 1 + iota
	orderTxn1
	orderTxnRatio1
	orderTxnIdem6
	orderTxn6
	orderTxnRatio6
	orderTxnConcIdem1
	orderTxnConc1
	orderTxnConcRatio1
	orderTxnConcIdem6
	orderTxnConc6
	orderTxnConcRatio6
	orderTxnAddPartitions
	orderTxnProduce
	orderTxnEnd
	orderTxnReplicatedWrite
)

// txnPerTransaction is issue 12's transaction size.
const txnPerTransaction = 100

// txnProduceRun writes records 1 KiB records to topic with franz-go,
// round robin over its partitions, idempotent; with txnID set, in
// transactions of txnPerTransaction records, each committed before the next
// begins (as a consume-transform-produce loop does). It returns records/s
// and where the time went: producing (for a transaction this includes
// AddPartitionsToTxn, which waits until the previous transaction's markers
// are written) and committing (EndTxn).
func txnProduceRun(seeds []string, topic, txnID string, records int, hooks ...kgo.Hook) (rate float64, produce, commit time.Duration, err error) {
	opts := []kgo.Opt{kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic),
		kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerBatchMaxBytes(1 << 20),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks())}
	if len(hooks) > 0 {
		opts = append(opts, kgo.WithHooks(hooks...))
	}
	if txnID != "" {
		opts = append(opts, kgo.TransactionalID(txnID), kgo.TransactionTimeout(time.Minute))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return 0, 0, 0, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	value := make([]byte, recordSize)
	errc := make(chan error, 1)
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			select {
			case errc <- err:
			default:
			}
		}
	}
	start := time.Now()
	for done := 0; done < records; {
		n := records - done
		if txnID != "" {
			n = min(n, txnPerTransaction)
			if err := cl.BeginTransaction(); err != nil {
				return 0, 0, 0, fmt.Errorf("begin: %w", err)
			}
		}
		t0 := time.Now()
		for range n {
			cl.Produce(ctx, &kgo.Record{Value: value}, promise)
		}
		if err := cl.Flush(ctx); err != nil {
			return 0, 0, 0, err
		}
		select {
		case err := <-errc:
			return 0, 0, 0, err
		default:
		}
		t1 := time.Now()
		produce += t1.Sub(t0)
		if txnID != "" {
			if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
				return 0, 0, 0, fmt.Errorf("commit after %d records: %w", done, err)
			}
			commit += time.Since(t1)
		}
		done += n
	}
	return float64(records) / time.Since(start).Seconds(), produce, commit, nil
}

// txnProduceConcurrent runs producers txnProduceRun loops at once, each a
// client of its own writing records/producers records (with a
// transactional id of its own when txnPrefix is set), as several
// applications or stream threads would, and returns their records/s
// together.
func txnProduceConcurrent(seeds []string, topic, txnPrefix string, producers, records int) (float64, error) {
	per := records / producers
	errs := make([]error, producers)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := ""
			if txnPrefix != "" {
				id = fmt.Sprintf("%s-%d", txnPrefix, i)
			}
			_, _, _, errs[i] = txnProduceRun(seeds, topic, id, per)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	return float64(per*producers) / time.Since(start).Seconds(), nil
}

// requestLatency collects franz-go's end-to-end time (request written to
// response read) per request key, to show where a transaction's time
// goes: each AddPartitionsToTxn, Produce and EndTxn is one or more
// replicated writes the producer waits for in turn.
type requestLatency struct {
	mu  sync.Mutex
	sum map[int16]time.Duration
	n   map[int16]int
}

func newRequestLatency() *requestLatency {
	return &requestLatency{sum: map[int16]time.Duration{}, n: map[int16]int{}}
}

// OnBrokerE2E implements kgo.HookBrokerE2E; failed requests are left out.
func (l *requestLatency) OnBrokerE2E(_ kgo.BrokerMetadata, key int16, e kgo.BrokerE2E) {
	if e.Err() != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sum[key] += e.DurationE2E()
	l.n[key]++
}

// meanMs is the mean time of the requests of key, in milliseconds.
func (l *requestLatency) meanMs(key kmsg.Key) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n[int16(key)] == 0 {
		return 0
	}
	return float64(l.sum[int16(key)].Microseconds()) / 1000 / float64(l.n[int16(key)])
}

// replicatedWriteMs is the median time, in milliseconds, of n one-record
// acks=all idempotent produces sent one after the other to partition 0 of
// topic: one replicated write with nothing to share it with, the unit a
// transaction pays several times in a row (the AddPartitionsToTxn state,
// the data, PrepareCommit, the markers, CompleteCommit).
func replicatedWriteMs(seeds []string, topic string, n int) (float64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	ms := make([]float64, 0, n)
	for range n {
		t0 := time.Now()
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
			return 0, err
		}
		ms = append(ms, float64(time.Since(t0).Microseconds())/1000)
	}
	slices.Sort(ms)
	return ms[len(ms)/2], nil
}

// createSpreadTopic creates topic with partitions partitions of RF 3
// placed by the controller (leaders spread over the brokers) with
// rf3Configs, waits for full ISRs, and writes a first record round the
// partitions (retried: the leaders may not know yet that they lead).
func (bc *benchCluster) createSpreadTopic(b *testing.B, topic string, partitions int) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	configs := map[string]*string{}
	for k, v := range rf3Configs {
		configs[k] = kmsg.StringPtr(v)
	}
	res, err := kadm.NewClient(bc.admin).CreateTopics(ctx, int32(partitions), 3, configs, topic)
	if err == nil {
		err = res[topic].Err
	}
	if err != nil {
		b.Fatalf("create topic %s: %v", topic, err)
	}
	bc.waitFor(b, "full ISRs for "+topic, func() (bool, error) {
		for p := 0; p < partitions; p++ {
			st, err := bc.state(topic, int32(p))
			if err != nil || len(st.ISR) != 3 {
				return false, err
			}
		}
		return true, nil
	})
	bc.waitFor(b, "a first acknowledged record in each partition of "+topic, func() (bool, error) {
		_, _, _, err := txnProduceRun(bc.seeds, topic, "", partitions)
		return err == nil, err
	})
}

// BenchmarkTransactionalProduce is issue 12's benchmark: franz-go, 1 KiB
// records, transactions of 100 records committed one after the other,
// against the idempotent non-transactional producer, on a topic of one
// partition and of six (RF 3, min ISR 2, records round robin, so a
// transaction spans all six), runs interleaved. Target: the transactional
// rate >= 0.8x the idempotent one.
//
// One producer committing back to back measures the latency of the
// transaction protocol, so the benchmark also reports what that latency is
// made of: the mean AddPartitionsToTxn, Produce and EndTxn times of the
// one-partition transactional runs, and the median of a lone replicated
// write (one record, acks=all) on the same cluster. And it reports the
// same comparison with BENCH_TXN_PRODUCERS producers at once (default 8;
// 0 leaves it out), where the brokers' CPU per transaction, not one
// producer's wait, sets the rate.
func BenchmarkTransactionalProduce(b *testing.B) {
	records := envInt(b, "BENCH_TXN_RECORDS", 200_000)
	reps := envInt(b, "BENCH_CLUSTER_REPEAT", 3)
	producers := envCount(b, "BENCH_TXN_PRODUCERS", 8)
	bc := startCluster(b)
	log := benchLog{name: "BenchmarkTransactionalProduce"}
	start := sampleCPU(bc)
	orders := map[int][3]int{1: {orderTxnIdem1, orderTxn1, orderTxnRatio1}, 6: {orderTxnIdem6, orderTxn6, orderTxnRatio6}}
	concOrders := map[int][3]int{1: {orderTxnConcIdem1, orderTxnConc1, orderTxnConcRatio1}, 6: {orderTxnConcIdem6, orderTxnConc6, orderTxnConcRatio6}}
	var addMs, produceMs, endMs, writeMs []float64
	for _, partitions := range []int{1, 6} {
		topic := fmt.Sprintf("bench-txn-p%d", partitions)
		bc.createSpreadTopic(b, topic, partitions)
		rate := map[bool][]float64{}
		concRate := map[bool][]float64{}
		var ratios, concRatios []float64
		for rep := 1; rep <= reps; rep++ {
			order := []bool{false, true}
			if rep%2 == 0 {
				order = []bool{true, false}
			}
			for _, txn := range order {
				id := ""
				if txn {
					id = fmt.Sprintf("bench-txn-%d-%d", partitions, rep)
				}
				lat := newRequestLatency()
				warmMemory(b, 3*int64(records)*recordSize)
				before := sampleCPU(bc)
				r, produce, commit, err := txnProduceRun(bc.seeds, topic, id, records, lat)
				use := before.until(sampleCPU(bc))
				if err != nil {
					b.Fatalf("%d partitions, transactional=%v: %v", partitions, txn, err)
				}
				rate[txn] = append(rate[txn], r)
				batches := float64(max(1, records/txnPerTransaction))
				line := fmt.Sprintf("run %d, %d partitions, transactional=%v: %d records, %.0f records/s; per %d records %.1f ms producing, %.1f ms committing; brokers %.2f CPU-s (%s); others %.2f CPU-s over %.1f s",
					rep, partitions, txn, records, r, txnPerTransaction, float64(produce.Microseconds())/1000/batches, float64(commit.Microseconds())/1000/batches,
					use.brokers, byBroker(use), use.others, use.wall)
				if txn {
					line += fmt.Sprintf("; mean AddPartitionsToTxn %.2f ms, Produce %.2f ms, EndTxn %.2f ms",
						lat.meanMs(kmsg.AddPartitionsToTxn), lat.meanMs(kmsg.Produce), lat.meanMs(kmsg.EndTxn))
					if partitions == 1 {
						addMs = append(addMs, lat.meanMs(kmsg.AddPartitionsToTxn))
						produceMs = append(produceMs, lat.meanMs(kmsg.Produce))
						endMs = append(endMs, lat.meanMs(kmsg.EndTxn))
					}
				}
				log.lines = append(log.lines, line)
				b.Log(line)
			}
			ratios = append(ratios, rate[true][len(rate[true])-1]/rate[false][len(rate[false])-1])
			if partitions == 1 {
				ms, err := replicatedWriteMs(bc.seeds, topic, 1000)
				if err != nil {
					b.Fatalf("lone replicated writes: %v", err)
				}
				writeMs = append(writeMs, ms)
				log.lines = append(log.lines, fmt.Sprintf("run %d: one-record acks=all produce, median of 1000 in a row: %.3f ms", rep, ms))
			}
			if producers <= 0 {
				continue
			}
			for _, txn := range order {
				prefix := ""
				if txn {
					prefix = fmt.Sprintf("bench-txn-conc-%d-%d", partitions, rep)
				}
				warmMemory(b, 3*int64(records)*recordSize)
				before := sampleCPU(bc)
				r, err := txnProduceConcurrent(bc.seeds, topic, prefix, producers, records)
				use := before.until(sampleCPU(bc))
				if err != nil {
					b.Fatalf("%d producers, %d partitions, transactional=%v: %v", producers, partitions, txn, err)
				}
				concRate[txn] = append(concRate[txn], r)
				line := fmt.Sprintf("run %d, %d producers at once, %d partitions, transactional=%v: %d records, %.0f records/s; brokers %.2f CPU-s (%s); others %.2f CPU-s over %.1f s",
					rep, producers, partitions, txn, records/producers*producers, r, use.brokers, byBroker(use), use.others, use.wall)
				log.lines = append(log.lines, line)
				b.Log(line)
			}
			concRatios = append(concRatios, concRate[true][len(concRate[true])-1]/concRate[false][len(concRate[false])-1])
		}
		ratio := addRatioFigures(orders[partitions], fmt.Sprintf("%d partition(s)", partitions), rate, ratios)
		b.ReportMetric(ratio, fmt.Sprintf("txn/idem-p%d", partitions))
		if producers > 0 {
			addRatioFigures(concOrders[partitions], fmt.Sprintf("%d partition(s), %d producers at once", partitions, producers), concRate, concRatios)
		}
	}
	report.addFigure(figure{order: orderTxnAddPartitions, name: "1 partition, one producer: mean AddPartitionsToTxn, ms (waits for the previous commit's markers and CompleteCommit, then writes Ongoing)", value: spreadOf(addMs), prec: 2})
	report.addFigure(figure{order: orderTxnProduce, name: "1 partition, one producer: mean transactional Produce of 100 records, ms (KIP-890 verification, then the replicated write)", value: spreadOf(produceMs), prec: 2})
	report.addFigure(figure{order: orderTxnEnd, name: "1 partition, one producer: mean EndTxn, ms (PrepareCommit written)", value: spreadOf(endMs), prec: 2})
	report.addFigure(figure{order: orderTxnReplicatedWrite, name: "A lone replicated write: one-record acks=all produce, median ms", value: spreadOf(writeMs), prec: 3})
	log.load = start.until(sampleCPU(bc))
	report.addBench(log)
	b.ReportMetric(0, "ns/op")
}

// addRatioFigures adds the idempotent rate, the transactional rate and
// their ratio (of the medians; its range that of the interleaved pairs)
// at the three orders o, and returns the ratio.
func addRatioFigures(o [3]int, what string, rate map[bool][]float64, ratios []float64) float64 {
	idem, txn := spreadOf(rate[false]), spreadOf(rate[true])
	ratio := spreadOf(ratios)
	ratio.median = txn.median / idem.median
	report.addFigure(figure{order: o[0], name: fmt.Sprintf("Produce idempotent, %s, 1 KiB records/s", what), value: idem})
	report.addFigure(figure{order: o[1], name: fmt.Sprintf("Produce transactional (100 per txn), %s, records/s", what), value: txn})
	report.addFigure(figure{order: o[2], name: fmt.Sprintf("transactional / idempotent, %s", what), value: ratio, prec: 2, target: ">= 0.8x"})
	return ratio.median
}
