package clusterbench

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Rows of the old-client figures, after the transactional ones: for each
// phase, the modern client and then the old one.
const (
	orderOldProduceFranz = orderTxnReplicatedWrite + 1 + iota
	orderOldProduceSarama
	orderOldConsumeFranz
	orderOldConsumeSarama
)

// BenchmarkOldClients is issue 10's benchmark: BENCH_OLD_CLIENTS_MB MiB
// (default 64) of 1 KiB records produced and then consumed by sarama pinned
// to 0.10.2 (Produce v2 with format-v1 message sets, which the broker
// up-converts; Fetch v3, which it down-converts) and, in the same run on the
// same broker, by franz-go (v2 batches, stored and sent as they are). Both
// produce uncompressed, so the difference is the conversion itself. It
// reports the leader broker's CPU seconds per GiB for each phase and
// client; the machine's other load is logged, as the figures are only as
// steady as the shared machine. Each client and phase is a row of the
// results report: MiB/s of record values and the leader's CPU per GiB.
func BenchmarkOldClients(b *testing.B) {
	mb := envInt(b, "BENCH_OLD_CLIENTS_MB", 64)
	records := int64(mb) << 20 / recordSize
	gib := float64(records*recordSize) / (1 << 30)
	bc := startCluster(b)
	leader := bc.brokers[0]
	value := make([]byte, recordSize)

	type phase struct {
		name  string
		run   func(topic string) error
		order int
		row   string
	}
	clients := []struct {
		name   string
		phases []phase
	}{
		{"franz-go", []phase{
			{"produce", func(topic string) error { return franzProduce(bc.seeds, topic, records, value) },
				orderOldProduceFranz, "Old clients: produce, franz-go (v2 batches, stored as sent), MiB/s"},
			{"consume", func(topic string) error { return franzConsume(bc.seeds, topic, records) },
				orderOldConsumeFranz, "Old clients: consume, franz-go (v2 batches, sent as stored), MiB/s"},
		}},
		{"sarama-0.10.2", []phase{
			{"produce", func(topic string) error { return saramaProduce(bc.seeds, topic, records, value) },
				orderOldProduceSarama, "Old clients: produce, sarama 0.10.2 (Produce v2, format v1 up-converted), MiB/s"},
			{"consume", func(topic string) error { return saramaConsume(bc.seeds, topic, records) },
				orderOldConsumeSarama, "Old clients: consume, sarama 0.10.2 (Fetch v3, down-converted to format v1), MiB/s"},
		}},
	}
	log := benchLog{name: "BenchmarkOldClients"}
	mibs := map[int][]float64{}
	cpu := map[int][]float64{}
	benchStart := sampleCPU(bc)
	for i := range b.N {
		for _, cl := range clients {
			topic := fmt.Sprintf("old-clients-%s-%d", cl.name, i)
			bc.createTopic(b, topic, []int32{leader.ID}, nil)
			for _, ph := range cl.phases {
				start := sampleCPU(bc)
				if err := ph.run(topic); err != nil {
					b.Fatalf("%s %s: %v", cl.name, ph.name, err)
				}
				u := start.until(sampleCPU(bc))
				perGiB := u.byBroker[leader.ID] / gib
				rate := float64(mb) / max(u.wall, 1e-9)
				mibs[ph.order] = append(mibs[ph.order], rate)
				cpu[ph.order] = append(cpu[ph.order], perGiB)
				b.ReportMetric(perGiB, fmt.Sprintf("%s-%s-cpu-s/GiB", ph.name, cl.name))
				line := fmt.Sprintf("run %d, %s %s %d MiB: %.1f s wall, %.1f MiB/s, leader %.2f CPU-s (%.2f per GiB); others on the machine %.1f CPU-s, steal %.1f",
					i+1, cl.name, ph.name, mb, u.wall, rate, u.byBroker[leader.ID], perGiB, u.others, u.steal)
				log.lines = append(log.lines, line)
				b.Log(line)
			}
		}
	}
	log.load = benchStart.until(sampleCPU(bc))
	for _, cl := range clients {
		for _, ph := range cl.phases {
			report.addFigure(figure{order: ph.order, name: ph.row, value: spreadOf(mibs[ph.order]), prec: 1,
				cpu: spreadOf(cpu[ph.order])})
		}
	}
	report.addBench(log)
}

// franzProduce writes records copies of value to partition 0 of topic,
// uncompressed, and waits for every acknowledgement.
func franzProduce(seeds []string, topic string, records int64, value []byte) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic),
		kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerBatchMaxBytes(1<<20),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	errc := make(chan error, 1)
	for range records {
		cl.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				select {
				case errc <- err:
				default:
				}
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// franzConsume reads records records of partition 0 of topic from the
// start.
func franzConsume(seeds []string, topic string, records int64) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	for got := int64(0); got < records; {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			return fmt.Errorf("after %d records: %w", got, err)
		}
		got += int64(fs.NumRecords())
	}
	return nil
}

// saramaConfig010 is sarama pinned to 0.10.2, uncompressed, batching up to
// 1 MiB per request.
func saramaConfig010() *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V0_10_2_0
	cfg.Producer.RequiredAcks = sarama.WaitForLocal
	cfg.Producer.Return.Successes = true
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Producer.Flush.Bytes = 1 << 20
	cfg.Producer.Flush.Frequency = time.Millisecond
	cfg.Producer.MaxMessageBytes = 1 << 20
	cfg.Consumer.Return.Errors = true
	cfg.Consumer.Fetch.Default = 1 << 20
	return cfg
}

// saramaProduce writes records copies of value with sarama's async
// producer and waits for every acknowledgement.
func saramaProduce(seeds []string, topic string, records int64, value []byte) error {
	p, err := sarama.NewAsyncProducer(seeds, saramaConfig010())
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() {
		var firstErr error
		for n := int64(0); n < records; n++ {
			select {
			case <-p.Successes():
			case perr := <-p.Errors():
				if firstErr == nil {
					firstErr = perr
				}
			}
		}
		done <- firstErr
	}()
	for range records {
		p.Input() <- &sarama.ProducerMessage{Topic: topic, Partition: 0, Value: sarama.ByteEncoder(value)}
	}
	select {
	case err = <-done:
	case <-time.After(waitTimeout):
		err = errors.New("acknowledgements did not come")
	}
	return errors.Join(err, p.Close())
}

// saramaConsume reads records messages of partition 0 of topic from the
// start with sarama's partition consumer.
func saramaConsume(seeds []string, topic string, records int64) error {
	c, err := sarama.NewConsumer(seeds, saramaConfig010())
	if err != nil {
		return err
	}
	defer c.Close()
	pc, err := c.ConsumePartition(topic, 0, sarama.OffsetOldest)
	if err != nil {
		return err
	}
	defer pc.Close()
	deadline := time.After(waitTimeout)
	for got := int64(0); got < records; got++ {
		select {
		case <-pc.Messages():
		case err := <-pc.Errors():
			return fmt.Errorf("after %d messages: %w", got, err)
		case <-deadline:
			return fmt.Errorf("%d of %d messages before the deadline", got, records)
		}
	}
	return nil
}
