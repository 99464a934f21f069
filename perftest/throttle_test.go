package perftest

import (
	"context"
	"testing"
	"time"
)

func TestThrottleDelay(t *testing.T) {
	start := time.Unix(100, 0)
	tests := []struct {
		name   string
		target float64
		sent   int64
		at     time.Duration
		want   time.Duration
	}{
		{name: "unthrottled", target: -1, sent: 1e9, at: 0, want: 0},
		{name: "on schedule", target: 1000, sent: 1000, at: time.Second, want: 0},
		{name: "behind schedule", target: 1000, sent: 500, at: time.Second, want: 0},
		{name: "ahead of schedule", target: 1000, sent: 1500, at: time.Second, want: 500 * time.Millisecond},
		{name: "fractional rate", target: 0.5, sent: 1, at: 0, want: 2 * time.Second},
		{name: "zero waits forever", target: 0, sent: 1, at: 0, want: time.Duration(1<<63 - 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th := throttle{target: tt.target, start: start}
			if got := th.delay(tt.sent, start.Add(tt.at)); got != tt.want {
				t.Fatalf("delay = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestThrottleWaitHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	th := throttle{target: 0, start: time.Now()}
	if err := th.wait(ctx, 1, time.Now()); err == nil {
		t.Fatal("want the context's error")
	}
}
