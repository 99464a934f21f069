package clusterbench

import (
	"context"
	"fmt"
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
func txnProduceRun(seeds []string, topic, txnID string, records int) (rate float64, produce, commit time.Duration, err error) {
	opts := []kgo.Opt{kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic),
		kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerBatchMaxBytes(1 << 20),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks())}
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
func BenchmarkTransactionalProduce(b *testing.B) {
	records := envInt(b, "BENCH_TXN_RECORDS", 200_000)
	reps := envInt(b, "BENCH_CLUSTER_REPEAT", 3)
	bc := startCluster(b)
	log := benchLog{name: "BenchmarkTransactionalProduce"}
	start := sampleCPU(bc)
	orders := map[int][3]int{1: {orderTxnIdem1, orderTxn1, orderTxnRatio1}, 6: {orderTxnIdem6, orderTxn6, orderTxnRatio6}}
	for _, partitions := range []int{1, 6} {
		topic := fmt.Sprintf("bench-txn-p%d", partitions)
		bc.createSpreadTopic(b, topic, partitions)
		rate := map[bool][]float64{}
		var ratios []float64
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
				warmMemory(b, 3*int64(records)*recordSize)
				before := sampleCPU(bc)
				r, produce, commit, err := txnProduceRun(bc.seeds, topic, id, records)
				use := before.until(sampleCPU(bc))
				if err != nil {
					b.Fatalf("%d partitions, transactional=%v: %v", partitions, txn, err)
				}
				rate[txn] = append(rate[txn], r)
				batches := float64(max(1, records/txnPerTransaction))
				line := fmt.Sprintf("run %d, %d partitions, transactional=%v: %d records, %.0f records/s; per %d records %.1f ms producing, %.1f ms committing; brokers %.2f CPU-s (%s); others %.2f CPU-s over %.1f s",
					rep, partitions, txn, records, r, txnPerTransaction, float64(produce.Microseconds())/1000/batches, float64(commit.Microseconds())/1000/batches,
					use.brokers, byBroker(use), use.others, use.wall)
				log.lines = append(log.lines, line)
				b.Log(line)
			}
			ratios = append(ratios, rate[true][len(rate[true])-1]/rate[false][len(rate[false])-1])
		}
		idem, txn := spreadOf(rate[false]), spreadOf(rate[true])
		ratio := spreadOf(ratios)
		ratio.median = txn.median / idem.median
		o := orders[partitions]
		report.addFigure(figure{order: o[0], name: fmt.Sprintf("Produce idempotent, %d partition(s), 1 KiB records/s", partitions), value: idem})
		report.addFigure(figure{order: o[1], name: fmt.Sprintf("Produce transactional (100 per txn), %d partition(s), records/s", partitions), value: txn})
		report.addFigure(figure{order: o[2], name: fmt.Sprintf("transactional / idempotent, %d partition(s)", partitions), value: ratio, prec: 2, target: ">= 0.8x"})
		b.ReportMetric(ratio.median, fmt.Sprintf("txn/idem-p%d", partitions))
	}
	log.load = start.until(sampleCPU(bc))
	report.addBench(log)
	b.ReportMetric(0, "ns/op")
}
