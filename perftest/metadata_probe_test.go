package perftest

import (
	"context"
	"errors"
	"reflect"
	"sync/atomic"
	"testing"
	"time"
)

func TestSummarizeProbeLatencies(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // 100..1, unsorted
	}
	tests := []struct {
		name    string
		samples []time.Duration
		errors  int
		want    LatencySummary
	}{
		{name: "no samples", errors: 3, want: LatencySummary{Errors: 3}},
		{name: "one sample", samples: ms(7), want: LatencySummary{Count: 1, P50: 7 * time.Millisecond, P99: 7 * time.Millisecond, Max: 7 * time.Millisecond}},
		{name: "two samples: p50 is the lower", samples: ms(9, 1), want: LatencySummary{Count: 2, P50: 1 * time.Millisecond, P99: 9 * time.Millisecond, Max: 9 * time.Millisecond}},
		{name: "1..100 unsorted", samples: ms(hundred...), errors: 1,
			want: LatencySummary{Count: 100, Errors: 1, P50: 50 * time.Millisecond, P99: 99 * time.Millisecond, Max: 100 * time.Millisecond}},
		// With 101 samples, p99 is rank ceil(99.99) = 100: one outlier
		// above it stays out of p99 but shows as the max.
		{name: "one outlier in 101", samples: append(ms(hundred...), 5*time.Second),
			want: LatencySummary{Count: 101, P50: 51 * time.Millisecond, P99: 100 * time.Millisecond, Max: 5 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]time.Duration(nil), tt.samples...)
			got := summarizeProbeLatencies(tt.samples, tt.errors)
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			if !reflect.DeepEqual(in, tt.samples) {
				t.Fatalf("input reordered: %v", tt.samples)
			}
		})
	}
}

func TestLatencySummaryString(t *testing.T) {
	s := LatencySummary{Count: 3, Errors: 1, P50: 1500 * time.Microsecond, P99: 20 * time.Millisecond, Max: 20 * time.Millisecond}
	want := "count=3\nerrors=1\np50_ms=1.50\np99_ms=20.00\nmax_ms=20.00\n"
	if got := s.String(); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got := (LatencySummary{Errors: 2}).String(); got != "count=0\nerrors=2\n" {
		t.Fatalf("empty summary: got %q", got)
	}
}

func TestParseMetadataProbeArgs(t *testing.T) {
	defaults := MetadataProbeOptions{Bootstrap: "127.0.0.1:9092", Interval: 10 * time.Millisecond, RequestTimeout: 5 * time.Second}
	tests := []struct {
		name    string
		args    []string
		want    MetadataProbeOptions
		wantErr bool
	}{
		{name: "defaults", want: defaults},
		{name: "all flags", args: []string{"--bootstrap", "h:1", "--topic", "a, b", "--interval", "20ms", "--duration=1.5s", "--request-timeout", "2000"},
			want: MetadataProbeOptions{Bootstrap: "h:1", Topics: []string{"a", "b"}, Interval: 20 * time.Millisecond, Duration: 1500 * time.Millisecond, RequestTimeout: 2 * time.Second}},
		{name: "bare number is milliseconds", args: []string{"--interval", "5"},
			want: MetadataProbeOptions{Bootstrap: "127.0.0.1:9092", Interval: 5 * time.Millisecond, RequestTimeout: 5 * time.Second}},
		{name: "zero duration runs until stopped", args: []string{"--duration", "0"}, want: defaults},
		{name: "zero interval", args: []string{"--interval", "0"}, wantErr: true},
		{name: "negative interval", args: []string{"--interval", "-1ms"}, wantErr: true},
		{name: "negative duration", args: []string{"--duration=-5"}, wantErr: true},
		{name: "not a duration", args: []string{"--duration", "soon"}, wantErr: true},
		{name: "empty topic list", args: []string{"--topic", " , "}, wantErr: true},
		{name: "empty bootstrap", args: []string{"--bootstrap="}, wantErr: true},
		{name: "unknown flag", args: []string{"--count", "3"}, wantErr: true},
		{name: "missing value", args: []string{"--interval"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMetadataProbeArgs(tt.args)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestProbeLoop checks what the loop counts: answered requests are
// samples, failed ones errors, and the request that the stop cuts short is
// neither.
func TestProbeLoop(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls atomic.Int64
	const failEvery, stopAfter = 3, 10
	request := func(rctx context.Context) error {
		n := calls.Add(1)
		if n == stopAfter {
			// The stop arrives while this request is in flight.
			cancel()
			<-rctx.Done()
			return rctx.Err()
		}
		if n%failEvery == 0 {
			return errors.New("broker said no")
		}
		time.Sleep(time.Millisecond)
		return nil
	}
	done := make(chan LatencySummary, 1)
	go func() { done <- probeLoop(ctx, time.Millisecond, time.Second, request) }()
	var s LatencySummary
	select {
	case s = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("probe loop did not stop within 10s of its context ending")
	}
	// Calls 1..9 finished before the stop: 3, 6 and 9 failed.
	if s.Count != 6 || s.Errors != 3 {
		t.Fatalf("count=%d errors=%d, want 6 and 3", s.Count, s.Errors)
	}
	if s.P50 < time.Millisecond || s.Max < s.P99 || s.P99 < s.P50 {
		t.Fatalf("implausible latencies: %+v", s)
	}
	if got := calls.Load(); got != stopAfter {
		t.Fatalf("%d calls, want none after the stop (%d)", got, stopAfter)
	}
}

// TestProbeLoopTimeout checks that a request that outlives its timeout
// counts as an error and does not hold up the loop.
func TestProbeLoopTimeout(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls atomic.Int64
	request := func(rctx context.Context) error {
		if calls.Add(1) == 2 {
			cancel()
		}
		<-rctx.Done() // the broker never answers
		return rctx.Err()
	}
	s := probeLoop(ctx, time.Millisecond, 20*time.Millisecond, request)
	if s.Count != 0 || s.Errors != 1 {
		t.Fatalf("count=%d errors=%d, want 0 and 1", s.Count, s.Errors)
	}
}
