package compattests

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	kafkago "github.com/segmentio/kafka-go"
)

// consumedLog collects "member|partition/offset" lines from several
// members' goroutines.
type consumedLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *consumedLog) add(member string, p int32, o int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf("%s|%d/%d", member, p, o))
}

// waitFor polls until n lines arrived.
func (l *consumedLog) waitFor(t *testing.T, n int) []string {
	t.Helper()
	eventually(t, fmt.Sprintf("%d records consumed", n), func() error {
		l.mu.Lock()
		defer l.mu.Unlock()
		if len(l.lines) < n {
			return fmt.Errorf("%d consumed", len(l.lines))
		}
		return nil
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// saramaHandler marks every message it consumes (auto-commit on).
type saramaHandler struct {
	name string
	log  *consumedLog
}

func (saramaHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (saramaHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h saramaHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for m := range claim.Messages() {
		h.log.add(h.name, m.Partition, m.Offset)
		sess.MarkMessage(m, "")
	}
	return nil
}

// TestSaramaConsumerGroup runs two members of sarama's ConsumerGroup
// (range strategy, Kafka 2.8 protocol versions) on a 4-partition topic:
// both own partitions and every record is consumed exactly once.
func TestSaramaConsumerGroup(t *testing.T) {
	_, b := startBroker(t, nil)
	adm := newAdmin(t, b)
	createTopic(t, adm, "sarama-group", 4, nil)
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel: defers run last-in first-out
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var log consumedLog
	for i := range 2 {
		cfg := sarama.NewConfig()
		cfg.Version = sarama.V2_8_0_0
		cfg.ClientID = fmt.Sprintf("sarama-%d", i)
		cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
		cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRange()}
		cfg.Consumer.Group.Session.Timeout = 10 * time.Second
		cfg.Consumer.Group.Heartbeat.Interval = 500 * time.Millisecond
		cfg.Consumer.Offsets.AutoCommit.Interval = 200 * time.Millisecond
		g, err := sarama.NewConsumerGroup([]string{b.Addr()}, "sarama-g", cfg)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer g.Close()
			h := saramaHandler{name: cfg.ClientID, log: &log}
			for ctx.Err() == nil {
				if err := g.Consume(ctx, []string{"sarama-group"}, h); err != nil && ctx.Err() == nil {
					t.Logf("sarama-%d: %v", i, err)
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	}
	waitGroupSplit(t, adm, "sarama-g", "sarama-group", 4, 2)
	produceRoundRobin(t, b, "sarama-group", groupRecords)
	checkExactlyOnce(t, log.waitFor(t, groupRecords), groupRecords, "sarama-0", "sarama-1")
}

// TestKafkaGoReaderGroup runs two segmentio/kafka-go Readers with a
// GroupID on a 4-partition topic: both own partitions and every record is
// consumed exactly once (ReadMessage commits as it goes).
func TestKafkaGoReaderGroup(t *testing.T) {
	_, b := startBroker(t, nil)
	adm := newAdmin(t, b)
	createTopic(t, adm, "kafkago-group", 4, nil)
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel: defers run last-in first-out
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var log consumedLog
	for i := range 2 {
		name := fmt.Sprintf("kafkago-%d", i)
		r := kafkago.NewReader(kafkago.ReaderConfig{
			Brokers:           []string{b.Addr()},
			GroupID:           "kafkago-g",
			Topic:             "kafkago-group",
			StartOffset:       kafkago.FirstOffset,
			HeartbeatInterval: 500 * time.Millisecond,
			SessionTimeout:    10 * time.Second,
			MaxWait:           200 * time.Millisecond,
			Dialer:            &kafkago.Dialer{ClientID: name, Timeout: 10 * time.Second},
		})
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.Close()
			for {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
						t.Logf("%s: %v", name, err)
					}
					return
				}
				log.add(name, int32(m.Partition), m.Offset)
			}
		}()
	}
	waitGroupSplit(t, adm, "kafkago-g", "kafkago-group", 4, 2)
	produceRoundRobin(t, b, "kafkago-group", groupRecords)
	checkExactlyOnce(t, log.waitFor(t, groupRecords), groupRecords, "kafkago-0", "kafkago-1")
}
