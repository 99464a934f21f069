package perftest

import (
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// clientMetrics collects, through franz-go hooks, the client-side figures
// that --print-metrics shows. franz-go has no metrics registry like the Java
// client's, so only the metrics computable from its hooks are printed, under
// the Java client's group and metric names.
type clientMetrics struct {
	mu sync.Mutex

	produceRequests int64
	produceLatency  time.Duration
	produceLatMax   time.Duration
	fetchRequests   int64
	fetchLatency    time.Duration
	fetchLatMax     time.Duration
	bytesOut        int64
	bytesIn         int64
	batches         int64
	batchRecords    int64
	batchBytes      int64 // compressed, as sent
	batchRawBytes   int64 // uncompressed
	batchMax        int64
	fetchBatches    int64
	fetchRecords    int64
	fetchBatchBytes int64
	throttleTotal   time.Duration
}

var (
	_ kgo.HookBrokerE2E           = (*clientMetrics)(nil)
	_ kgo.HookProduceBatchWritten = (*clientMetrics)(nil)
	_ kgo.HookFetchBatchRead      = (*clientMetrics)(nil)
	_ kgo.HookBrokerThrottle      = (*clientMetrics)(nil)
)

// OnBrokerE2E counts requests, their round-trip latency and bytes moved.
func (m *clientMetrics) OnBrokerE2E(_ kgo.BrokerMetadata, key int16, e2e kgo.BrokerE2E) {
	d := e2e.DurationE2E()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.bytesOut += int64(e2e.BytesWritten)
	m.bytesIn += int64(e2e.BytesRead)
	switch kmsg.Key(key) {
	case kmsg.Produce:
		m.produceRequests++
		m.produceLatency += d
		m.produceLatMax = max(m.produceLatMax, d)
	case kmsg.Fetch:
		m.fetchRequests++
		m.fetchLatency += d
		m.fetchLatMax = max(m.fetchLatMax, d)
	}
}

// OnProduceBatchWritten counts produced batches, their records and sizes.
func (m *clientMetrics) OnProduceBatchWritten(_ kgo.BrokerMetadata, _ string, _ int32, b kgo.ProduceBatchMetrics) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.batches++
	m.batchRecords += int64(b.NumRecords)
	m.batchBytes += int64(b.CompressedBytes)
	m.batchRawBytes += int64(b.UncompressedBytes)
	m.batchMax = max(m.batchMax, int64(b.CompressedBytes))
}

// OnFetchBatchRead counts fetched batches, their records and sizes.
func (m *clientMetrics) OnFetchBatchRead(_ kgo.BrokerMetadata, _ string, _ int32, b kgo.FetchBatchMetrics) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fetchBatches++
	m.fetchRecords += int64(b.NumRecords)
	m.fetchBatchBytes += int64(b.CompressedBytes)
}

// OnBrokerThrottle sums the quota throttle time brokers asked for.
func (m *clientMetrics) OnBrokerThrottle(_ kgo.BrokerMetadata, d time.Duration, _ bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.throttleTotal += d
}

// metricValues returns the metrics under their Java names, keyed as the Java
// tools print them: "group:name:{client-id=...}".
func (m *clientMetrics) metricValues(producer bool, clientID string) map[string]any {
	m.mu.Lock()
	defer m.mu.Unlock()
	tags := "{client-id=" + clientID + "}"
	avg := func(total, n int64) float64 {
		if n == 0 {
			return 0
		}
		return float64(total) / float64(n)
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	vals := map[string]any{}
	put := func(group, name string, v any) { vals[group+":"+name+":"+tags] = v }
	if producer {
		g := "producer-metrics"
		put(g, "batch-size-avg", avg(m.batchBytes, m.batches))
		put(g, "batch-size-max", float64(m.batchMax))
		put(g, "compression-rate-avg", ratio(m.batchBytes, m.batchRawBytes))
		put(g, "record-send-total", float64(m.batchRecords))
		put(g, "records-per-request-avg", avg(m.batchRecords, m.produceRequests))
		put(g, "produce-throttle-time-total", ms(m.throttleTotal))
		put(g, "request-latency-avg", ms(m.produceLatency)/max(float64(m.produceRequests), 1))
		put(g, "request-latency-max", ms(m.produceLatMax))
		put(g, "request-total", float64(m.produceRequests))
	} else {
		g := "consumer-fetch-manager-metrics"
		put(g, "fetch-latency-avg", ms(m.fetchLatency)/max(float64(m.fetchRequests), 1))
		put(g, "fetch-latency-max", ms(m.fetchLatMax))
		put(g, "fetch-total", float64(m.fetchRequests))
		put(g, "fetch-size-avg", avg(m.fetchBatchBytes, m.fetchRequests))
		put(g, "records-per-request-avg", avg(m.fetchRecords, m.fetchRequests))
		put(g, "records-consumed-total", float64(m.fetchRecords))
		put(g, "bytes-consumed-total", float64(m.fetchBatchBytes))
		put(g, "fetch-throttle-time-total", ms(m.throttleTotal))
	}
	g := map[bool]string{true: "producer-metrics", false: "consumer-metrics"}[producer]
	put(g, "outgoing-byte-total", float64(m.bytesOut))
	put(g, "incoming-byte-total", float64(m.bytesIn))
	return vals
}

// ratio returns num/den, or 1 when den is zero (nothing compressed).
func ratio(num, den int64) float64 {
	if den == 0 {
		return 1
	}
	return float64(num) / float64(den)
}

// printMetrics writes metrics the way Kafka's tools do: a blank line, a
// "Metric Name   Value" header, then one "name : value" line per metric in
// name order, names padded to the longest, floats with three decimals.
func printMetrics(out io.Writer, vals map[string]any) {
	if len(vals) == 0 {
		return
	}
	names := make([]string, 0, len(vals))
	width := 0
	for k := range vals {
		names = append(names, k)
		width = max(width, len(k))
	}
	sort.Strings(names)
	fmt.Fprintf(out, "\n%-*s   %s\n", width, "Metric Name", "Value")
	for _, k := range names {
		switch v := vals[k].(type) {
		case float64:
			fmt.Fprintf(out, "%-*s : %.3f\n", width, k, v)
		default:
			fmt.Fprintf(out, "%-*s : %v\n", width, k, v)
		}
	}
}
