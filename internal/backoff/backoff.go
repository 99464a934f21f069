// Package backoff holds the capped exponential wait that gokafka's retry
// loops share: re-registering after a new ZooKeeper session, retrying a
// ZooKeeper request after a lost connection, and accepting connections
// after an accept error. Each loop used to double its own wait by hand.
//
// Unlike Kafka's ExponentialBackoff it adds no jitter: the loops that use
// it retry one local resource (the ZooKeeper connection, a listener), not
// a server that many clients retry at once.
package backoff

import (
	"context"
	"time"
)

// Exponential is a wait that starts at Initial and doubles after every
// retry up to Max. The zero value of its state is ready to use once Initial
// and Max are set; it is not safe for concurrent use (one loop owns it).
type Exponential struct {
	Initial time.Duration
	Max     time.Duration

	next time.Duration
}

// Next returns the wait before the next retry and doubles the one after
// it, capped at Max.
func (b *Exponential) Next() time.Duration {
	if b.next == 0 {
		b.next = b.Initial
	}
	d := min(b.next, b.Max)
	b.next = min(2*b.next, b.Max)
	return d
}

// Reset starts the waits again from Initial, after a success.
func (b *Exponential) Reset() { b.next = 0 }

// Wait sleeps for Next, or until ctx ends, when it returns ctx.Err().
func (b *Exponential) Wait(ctx context.Context) error {
	t := time.NewTimer(b.Next())
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
