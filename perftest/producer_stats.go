package perftest

import (
	"fmt"
	"io"
	"slices"
	"sync"
	"time"
)

const (
	// maxLatencySamples bounds the latency samples kept for percentiles:
	// like Kafka's tool, every k-th latency is kept so that at most this
	// many are, whatever --num-records is.
	maxLatencySamples = 500000
	// producerReportInterval is how often a window line is printed,
	// Kafka's fixed five seconds.
	producerReportInterval = 5 * time.Second
)

// producerStats accumulates per-record send latencies and sizes, prints
// Kafka's window line every reporting interval and computes the final
// totals. It is safe for concurrent use: franz-go may finish records of
// different partitions on different goroutines.
type producerStats struct {
	mu       sync.Mutex
	out      io.Writer
	interval time.Duration

	start       time.Time
	windowStart time.Time

	sampling  int64
	samples   []int32 // microseconds
	iteration int64

	count      int64
	bytes      int64
	totalLatUs int64
	maxLatUs   int64

	windowCount      int64
	windowBytes      int64
	windowTotalLatUs int64
	windowMaxLatUs   int64
}

// newProducerStats prepares statistics for a run of numRecords records that
// starts at start; window lines go to out.
func newProducerStats(numRecords int64, start time.Time, out io.Writer) *producerStats {
	if numRecords < 1 {
		numRecords = 1
	}
	sampling := numRecords / min(numRecords, maxLatencySamples)
	return &producerStats{
		out:         out,
		interval:    producerReportInterval,
		start:       start,
		windowStart: start,
		sampling:    sampling,
		samples:     make([]int32, 0, numRecords/sampling+1),
	}
}

// record notes one acknowledged record that took latency from send to
// acknowledgement, carrying bytes of payload, acknowledged at now.
func (s *producerStats) record(latency time.Duration, bytes int, now time.Time) {
	us := latency.Microseconds()
	if us < 0 {
		us = 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.count++
	s.bytes += int64(bytes)
	s.totalLatUs += us
	s.maxLatUs = max(s.maxLatUs, us)
	s.windowCount++
	s.windowBytes += int64(bytes)
	s.windowTotalLatUs += us
	s.windowMaxLatUs = max(s.windowMaxLatUs, us)
	if s.iteration%s.sampling == 0 && len(s.samples) < cap(s.samples) {
		s.samples = append(s.samples, int32(min(us, 1<<31-1)))
	}
	s.iteration++
	if now.Sub(s.windowStart) >= s.interval {
		fmt.Fprintln(s.out, formatProducerWindow(s.windowCount, s.windowBytes, s.windowTotalLatUs, s.windowMaxLatUs, now.Sub(s.windowStart)))
		s.windowStart = now
		s.windowCount, s.windowBytes, s.windowTotalLatUs, s.windowMaxLatUs = 0, 0, 0, 0
	}
}

// ProducerSummary is the outcome of a producer run, as printed in Kafka's
// final line and written by --summary-json.
type ProducerSummary struct {
	Records       int64   `json:"records"`
	Bytes         int64   `json:"bytes"`
	Failed        int64   `json:"failed"`
	ElapsedSec    float64 `json:"elapsed_sec"`
	RecordsPerSec float64 `json:"records_per_sec"`
	MBPerSec      float64 `json:"mb_per_sec"`
	AvgLatencyMs  float64 `json:"avg_latency_ms"`
	MaxLatencyMs  float64 `json:"max_latency_ms"`
	P50Ms         float64 `json:"p50_ms"`
	P95Ms         float64 `json:"p95_ms"`
	P99Ms         float64 `json:"p99_ms"`
	P999Ms        float64 `json:"p999_ms"`
}

// summary computes the run's totals as of now.
func (s *producerStats) summary(now time.Time) ProducerSummary {
	s.mu.Lock()
	defer s.mu.Unlock()
	elapsed := now.Sub(s.start)
	p := percentilesUs(s.samples, 0.5, 0.95, 0.99, 0.999)
	sec := secondsAtLeastMicro(elapsed)
	return ProducerSummary{
		Records:       s.count,
		Bytes:         s.bytes,
		ElapsedSec:    elapsed.Seconds(),
		RecordsPerSec: float64(s.count) / sec,
		MBPerSec:      float64(s.bytes) / sec / (1024 * 1024),
		AvgLatencyMs:  float64(s.totalLatUs) / float64(s.count) / 1000,
		MaxLatencyMs:  float64(s.maxLatUs) / 1000,
		P50Ms:         float64(p[0]) / 1000,
		P95Ms:         float64(p[1]) / 1000,
		P99Ms:         float64(p[2]) / 1000,
		P999Ms:        float64(p[3]) / 1000,
	}
}

// formatProducerWindow renders Kafka's periodic line:
// "N records sent, X records/sec (Y MB/sec), Z ms avg latency, W ms max latency."
func formatProducerWindow(count, bytes, totalLatUs, maxLatUs int64, elapsed time.Duration) string {
	sec := secondsAtLeastMicro(elapsed)
	return fmt.Sprintf("%d records sent, %.1f records/sec (%.2f MB/sec), %.1f ms avg latency, %.1f ms max latency.",
		count,
		float64(count)/sec,
		float64(bytes)/sec/(1024*1024),
		float64(totalLatUs)/float64(count)/1000,
		float64(maxLatUs)/1000)
}

// formatProducerTotal renders Kafka's final line. Percentiles are whole
// milliseconds (truncated), as Kafka prints them.
func formatProducerTotal(s ProducerSummary) string {
	return fmt.Sprintf("%d records sent, %f records/sec (%.2f MB/sec), %.2f ms avg latency, %.2f ms max latency, %d ms 50th, %d ms 95th, %d ms 99th, %d ms 99.9th.",
		s.Records,
		s.RecordsPerSec,
		s.MBPerSec,
		s.AvgLatencyMs,
		s.MaxLatencyMs,
		int64(s.P50Ms), int64(s.P95Ms), int64(s.P99Ms), int64(s.P999Ms))
}

// percentilesUs returns, for each fraction p, the sample at index
// floor(p*n) of the sorted samples (Kafka's rule: no interpolation), or 0
// when there are no samples. The input is not modified.
func percentilesUs(samples []int32, ps ...float64) []int64 {
	out := make([]int64, len(ps))
	if len(samples) == 0 {
		return out
	}
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	for i, p := range ps {
		idx := int(p * float64(len(sorted)))
		idx = min(max(idx, 0), len(sorted)-1)
		out[i] = int64(sorted[idx])
	}
	return out
}

// secondsAtLeastMicro returns d in seconds, but never less than one
// microsecond, so rates over an empty interval stay finite.
func secondsAtLeastMicro(d time.Duration) float64 {
	return max(d, time.Microsecond).Seconds()
}
