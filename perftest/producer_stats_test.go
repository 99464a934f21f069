package perftest

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestPercentilesUs(t *testing.T) {
	hundred := make([]int32, 100)
	for i := range hundred {
		hundred[i] = int32(100 - i) // reversed: 100..1
	}
	tests := []struct {
		name    string
		samples []int32
		want    []int64
	}{
		{name: "empty", samples: nil, want: []int64{0, 0, 0, 0}},
		{name: "single", samples: []int32{7}, want: []int64{7, 7, 7, 7}},
		// Kafka's rule: sorted[int(p*n)]; with 1..100 that is p*100+1.
		{name: "one to hundred", samples: hundred, want: []int64{51, 96, 100, 100}},
		{name: "ten", samples: []int32{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, want: []int64{6, 10, 10, 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := append([]int32(nil), tt.samples...)
			got := percentilesUs(tt.samples, 0.5, 0.95, 0.99, 0.999)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			if !reflect.DeepEqual(orig, tt.samples) && len(orig) > 0 {
				t.Fatal("input was modified")
			}
		})
	}
}

func TestFormatProducerWindow(t *testing.T) {
	got := formatProducerWindow(50000, 5000000, 50000*1500, 12345, 5*time.Second)
	want := "50000 records sent, 10000.0 records/sec (0.95 MB/sec), 1.5 ms avg latency, 12.3 ms max latency."
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

func TestFormatProducerTotal(t *testing.T) {
	s := ProducerSummary{
		Records: 1000000, RecordsPerSec: 751992.780869, MBPerSec: 71.7156,
		AvgLatencyMs: 7.004, MaxLatencyMs: 230, P50Ms: 4.9, P95Ms: 29.2, P99Ms: 53, P999Ms: 68.999,
	}
	got := formatProducerTotal(s)
	want := "1000000 records sent, 751992.780869 records/sec (71.72 MB/sec), 7.00 ms avg latency, 230.00 ms max latency, 4 ms 50th, 29 ms 95th, 53 ms 99th, 68 ms 99.9th."
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

func TestProducerStatsWindowsAndSummary(t *testing.T) {
	var out bytes.Buffer
	start := time.Unix(1000, 0)
	s := newProducerStats(10, start, &out)
	// Four records in the first five seconds, the fifth closes the window.
	for i := 1; i <= 4; i++ {
		s.record(time.Duration(i)*time.Millisecond, 100, start.Add(time.Duration(i)*time.Second))
	}
	if out.Len() != 0 {
		t.Fatalf("window printed early: %q", out.String())
	}
	s.record(5*time.Millisecond, 100, start.Add(5*time.Second))
	want := "5 records sent, 1.0 records/sec (0.00 MB/sec), 3.0 ms avg latency, 5.0 ms max latency.\n"
	if out.String() != want {
		t.Fatalf("window line %q, want %q", out.String(), want)
	}
	sum := s.summary(start.Add(10 * time.Second))
	if sum.Records != 5 || sum.Bytes != 500 || sum.RecordsPerSec != 0.5 || sum.AvgLatencyMs != 3 || sum.MaxLatencyMs != 5 || sum.P50Ms != 3 || sum.P999Ms != 5 {
		t.Fatalf("summary %+v", sum)
	}
}

// TestProducerStatsSamplingBound checks that a huge run keeps a bounded
// number of latency samples, as Kafka's tool does.
func TestProducerStatsSamplingBound(t *testing.T) {
	s := newProducerStats(5_000_000, time.Unix(0, 0), &bytes.Buffer{})
	if s.sampling != 10 || cap(s.samples) > maxLatencySamples+1 {
		t.Fatalf("sampling %d, capacity %d", s.sampling, cap(s.samples))
	}
	now := time.Unix(0, 0)
	for i := 0; i < 1_000_000; i++ {
		s.record(time.Millisecond, 1, now)
	}
	if len(s.samples) != 100_000 {
		t.Fatalf("kept %d samples, want 100000", len(s.samples))
	}
}

func TestProducerSummaryEmptyRun(t *testing.T) {
	s := newProducerStats(1, time.Unix(0, 0), &bytes.Buffer{})
	sum := s.summary(time.Unix(0, 0))
	if sum.Records != 0 || math.IsInf(sum.RecordsPerSec, 0) || !math.IsNaN(sum.AvgLatencyMs) {
		t.Fatalf("summary %+v", sum)
	}
	// Kafka prints NaN for the average of no records; so do we.
	if line := formatProducerTotal(sum); !strings.HasPrefix(line, "0 records sent, 0.000000 records/sec (0.00 MB/sec), NaN ms avg latency") {
		t.Fatalf("line %q", line)
	}
}
