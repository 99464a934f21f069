package broker

import (
	"context"
	"testing"
	"time"
)

// TestBackgroundProducerExpiry checks the wiring of producer.id.expiration.ms:
// the replica manager's loop drops a producer whose last batch is older
// than the expiration and keeps a recent one.
func TestBackgroundProducerExpiry(t *testing.T) {
	rm, _ := newTestReplicaManager(t)
	defer rm.close()
	rm.producerExpiryEvery = 10 * time.Millisecond
	tp := topicPartition{"idem", 0}
	if err := rm.makeLeader(tp, testTopicID, 0, testTopicConfig()); err != nil {
		t.Fatalf("makeLeader: %v", err)
	}
	p, _ := rm.get(tp)
	// Producer 7's only batch is from 1970, past the default day; producer
	// 8 writes now.
	if _, err := appendBatch(t, p, idempotentBatch(7, 0, 0, 1, 1000)); err != nil {
		t.Fatalf("append: %v", err)
	}
	if _, err := appendBatch(t, p, idempotentBatch(8, 0, 0, 1, time.Now().UnixMilli())); err != nil {
		t.Fatalf("append: %v", err)
	}
	known := func(pid int64) bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		_, ok := p.log.Producers().LastBatch(pid)
		return ok
	}
	if !known(7) || !known(8) {
		t.Fatal("producers not recorded by the appends")
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); rm.run(ctx, time.Hour) }()
	defer func() { cancel(); <-done }()
	waitUntil(t, "the idle producer to expire", func() bool { return !known(7) })
	if !known(8) {
		t.Fatal("the producer that wrote just now was expired too")
	}
}
