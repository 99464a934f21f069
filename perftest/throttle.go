package perftest

import (
	"context"
	"time"
)

// throttle paces sends to about target records per second, like Kafka's
// ThroughputThrottler: a negative target never waits, zero waits until the
// context ends (Kafka's tool then sends nothing more), and a positive target
// sleeps whenever the sends so far are ahead of schedule.
type throttle struct {
	target float64
	start  time.Time
}

// delay returns how long to wait after sent records at now to stay at or
// below the target rate.
func (t throttle) delay(sent int64, now time.Time) time.Duration {
	if t.target < 0 || sent <= 0 {
		return 0
	}
	if t.target == 0 {
		return time.Duration(1<<63 - 1)
	}
	due := t.start.Add(time.Duration(float64(sent) / t.target * float64(time.Second)))
	if d := due.Sub(now); d > 0 {
		return d
	}
	return 0
}

// wait blocks for the delay, returning early with the context's error when
// it ends.
func (t throttle) wait(ctx context.Context, sent int64, now time.Time) error {
	d := t.delay(sent, now)
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
