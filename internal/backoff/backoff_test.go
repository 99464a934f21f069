package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestExponentialNext(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name         string
		initial, max time.Duration
		want         []time.Duration
	}{
		{"doubles to the cap", 100 * ms, 2 * time.Second, []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms, 2000 * ms, 2000 * ms}},
		{"cap not a power of two of initial", 5 * ms, 12 * ms, []time.Duration{5 * ms, 10 * ms, 12 * ms, 12 * ms}},
		{"initial above the cap", time.Second, 50 * ms, []time.Duration{50 * ms, 50 * ms}},
		{"initial equals the cap", 50 * ms, 50 * ms, []time.Duration{50 * ms, 50 * ms}},
	} {
		b := Exponential{Initial: tc.initial, Max: tc.max}
		for i, want := range tc.want {
			if got := b.Next(); got != want {
				t.Errorf("%s: wait %d = %v, want %v", tc.name, i, got, want)
			}
		}
	}
}

func TestExponentialReset(t *testing.T) {
	b := Exponential{Initial: time.Millisecond, Max: time.Second}
	for range 5 {
		b.Next()
	}
	b.Reset()
	if got := b.Next(); got != time.Millisecond {
		t.Fatalf("after Reset: %v, want 1ms", got)
	}
}

func TestExponentialWait(t *testing.T) {
	b := Exponential{Initial: time.Nanosecond, Max: time.Nanosecond}
	if err := b.Wait(context.Background()); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	// A wait far longer than any test returns at once when ctx is done.
	b = Exponential{Initial: time.Hour, Max: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait on a cancelled context: %v, want context.Canceled", err)
	}
}
