package perftest

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// E2EOptions are the arguments of end-to-end-latency. The positional ones
// mirror Kafka's EndToEndLatency tool: broker_list topic num_messages
// producer_acks message_size_bytes.
type E2EOptions struct {
	Brokers     []string
	Topic       string
	NumMessages int64
	// Acks is "1" or "all" (Kafka's tool accepts only these two).
	Acks        string
	MessageSize int
	// Throughput, when positive, switches to the rate-limited mode:
	// records are sent at this many records per second without waiting
	// for each to come back, and each record's latency is read from the
	// send time it carries. Zero is Kafka's mode: one record in flight.
	Throughput float64
	// Timeout bounds the wait for each record (sequential mode) or for
	// the last record (rate-limited mode).
	Timeout time.Duration
	// SummaryJSON, when set, names a file that receives the E2ESummary.
	SummaryJSON string
}

// E2EUsage is end-to-end-latency's help text.
const E2EUsage = `usage: gokafka end-to-end-latency BROKER_LIST TOPIC NUM_MESSAGES PRODUCER_ACKS MESSAGE_SIZE_BYTES
         [--throughput RECORDS_PER_SEC | --throughput-mb MB_PER_SEC] [--timeout DURATION]
         [--summary-json FILE]

Like Kafka's EndToEndLatency: a producer (acks 1 or all; all is idempotent)
sends each record to TOPIC (created with one partition when missing) and a
consumer on the same process receives it; the latency is send to receipt.
Without --throughput one record is in flight at a time, as in Kafka's tool.
With it, records are sent at that rate and each carries its send time, so
the figure is the latency under a steady load. MESSAGE_SIZE_BYTES must be
at least 16 (the send time and a run id live in the first 16 bytes).`

// e2eHeaderSize is the bytes each record value starts with: a run id, so
// that records of other runs on the same topic are ignored, and the send
// time in nanoseconds since the run started.
const e2eHeaderSize = 16

// e2eArgSpecs are end-to-end-latency's optional flags.
var e2eArgSpecs = []argSpec{
	{"throughput", argValue},
	{"throughput-mb", argValue},
	{"timeout", argValue},
	{"summary-json", argValue},
}

// ParseE2EArgs parses end-to-end-latency's command line: five positional
// arguments followed by optional flags.
func ParseE2EArgs(args []string) (E2EOptions, error) {
	var pos []string
	for len(args) > 0 && !strings.HasPrefix(args[0], "--") {
		pos, args = append(pos, args[0]), args[1:]
	}
	if len(pos) != 5 {
		return E2EOptions{}, fmt.Errorf("want 5 positional arguments (broker_list topic num_messages producer_acks message_size_bytes), got %d", len(pos))
	}
	p, err := parseArgs(args, e2eArgSpecs)
	if err != nil {
		return E2EOptions{}, err
	}
	o := E2EOptions{Topic: pos[1], Timeout: 60 * time.Second}
	for _, b := range strings.Split(pos[0], ",") {
		if b = strings.TrimSpace(b); b != "" {
			o.Brokers = append(o.Brokers, b)
		}
	}
	if len(o.Brokers) == 0 {
		return E2EOptions{}, fmt.Errorf("broker_list %q names no broker", pos[0])
	}
	if o.Topic == "" {
		return E2EOptions{}, fmt.Errorf("topic must not be empty")
	}
	if o.NumMessages, err = strconv.ParseInt(pos[2], 10, 64); err != nil || o.NumMessages <= 0 {
		return E2EOptions{}, fmt.Errorf("num_messages %q must be a positive integer", pos[2])
	}
	switch pos[3] {
	case "1":
		o.Acks = "1"
	case "all", "-1":
		o.Acks = "all"
	default:
		return E2EOptions{}, fmt.Errorf("latency testing requires synchronous acknowledgement: producer_acks must be 1 or all, got %q", pos[3])
	}
	if o.MessageSize, err = strconv.Atoi(pos[4]); err != nil || o.MessageSize < e2eHeaderSize {
		return E2EOptions{}, fmt.Errorf("message_size_bytes %q must be an integer >= %d", pos[4], e2eHeaderSize)
	}
	if v, ok := p.last("throughput"); ok {
		if o.Throughput, err = strconv.ParseFloat(v, 64); err != nil || o.Throughput <= 0 {
			return E2EOptions{}, fmt.Errorf("--throughput %q must be a positive number of records per second", v)
		}
	}
	if v, ok := p.last("throughput-mb"); ok {
		if p.has("throughput") {
			return E2EOptions{}, fmt.Errorf("give --throughput or --throughput-mb, not both")
		}
		mb, err := strconv.ParseFloat(v, 64)
		if err != nil || mb <= 0 {
			return E2EOptions{}, fmt.Errorf("--throughput-mb %q must be a positive number of MiB per second", v)
		}
		o.Throughput = mb * 1048576 / float64(o.MessageSize)
	}
	if v, ok := p.last("timeout"); ok {
		if o.Timeout, err = time.ParseDuration(v); err != nil || o.Timeout <= 0 {
			return E2EOptions{}, fmt.Errorf("--timeout %q must be a positive duration such as 30s", v)
		}
	}
	o.SummaryJSON, _ = p.last("summary-json")
	return o, nil
}

// E2ESummary is the outcome of an end-to-end-latency run, in milliseconds.
type E2ESummary struct {
	Records    int64   `json:"records"`
	Throughput float64 `json:"target_records_per_sec"`
	AvgMs      float64 `json:"avg_ms"`
	P50Ms      float64 `json:"p50_ms"`
	P99Ms      float64 `json:"p99_ms"`
	P999Ms     float64 `json:"p999_ms"`
	MaxMs      float64 `json:"max_ms"`
	// Ack is the producer's view in the rate-limited mode: send to
	// acknowledgement. It separates the produce half of the latency from
	// the fetch half when a tail needs explaining.
	Ack *E2ESummary `json:"ack,omitempty"`
}

// summarizeLatencies computes the summary of the latencies (sorted in
// place). Percentiles pick the sample at floor(n*q), as Kafka's tool does.
func summarizeLatencies(lat []time.Duration) E2ESummary {
	s := E2ESummary{Records: int64(len(lat))}
	if len(lat) == 0 {
		return s
	}
	slices.Sort(lat)
	var total time.Duration
	for _, d := range lat {
		total += d
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	at := func(q float64) float64 { return ms(lat[min(int(float64(len(lat))*q), len(lat)-1)]) }
	s.AvgMs = ms(total) / float64(len(lat))
	s.P50Ms, s.P99Ms, s.P999Ms = at(0.5), at(0.99), at(0.999)
	s.MaxMs = ms(lat[len(lat)-1])
	return s
}

// formatE2E returns Kafka's two report lines, with the percentiles in
// milliseconds to three decimals (Kafka prints whole milliseconds, too
// coarse for sub-millisecond brokers).
func formatE2E(s E2ESummary) string {
	return fmt.Sprintf("Avg latency: %.4f ms\nPercentiles: 50th = %.3f, 99th = %.3f, 99.9th = %.3f (ms; max %.3f; %d records)",
		s.AvgMs, s.P50Ms, s.P99Ms, s.P999Ms, s.MaxMs, s.Records)
}

// formatAck returns the extra line of the rate-limited mode: the
// producer's send-to-acknowledgement latency.
func formatAck(s E2ESummary) string {
	return fmt.Sprintf("Produce acknowledgement: avg %.4f ms, 50th = %.3f, 99th = %.3f, 99.9th = %.3f (ms; max %.3f; %d records)",
		s.AvgMs, s.P50Ms, s.P99Ms, s.P999Ms, s.MaxMs, s.Records)
}

// e2eStamp writes the run id and the send offset into the first
// e2eHeaderSize bytes of value.
func e2eStamp(value []byte, runID uint64, sent time.Duration) {
	binary.BigEndian.PutUint64(value[0:8], runID)
	binary.BigEndian.PutUint64(value[8:16], uint64(sent))
}

// e2eRead returns the send offset a value carries, and false when the value
// is not from run runID.
func e2eRead(value []byte, runID uint64) (time.Duration, bool) {
	if len(value) < e2eHeaderSize || binary.BigEndian.Uint64(value[0:8]) != runID {
		return 0, false
	}
	return time.Duration(binary.BigEndian.Uint64(value[8:16])), true
}

// e2eGCPercent is the tool's garbage-collection target unless GOGC says
// otherwise. The tool is the instrument, not the subject: with Go's default
// of 100 and a heap of a few MiB, the consumer's fetch buffers alone made it
// collect about 25 times a second, and those pauses (not the broker) set the
// p99 it reported. A JVM client, as Kafka's own EndToEndLatency is, would
// run with a far larger heap.
const e2eGCPercent = 400

// RunE2E runs end-to-end-latency and prints Kafka's report lines to out.
func RunE2E(ctx context.Context, o E2EOptions, out, errOut io.Writer) error {
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(e2eGCPercent))
	}
	var idBuf [8]byte
	if _, err := rand.Read(idBuf[:]); err != nil {
		return fmt.Errorf("run id: %w", err)
	}
	runID := binary.BigEndian.Uint64(idBuf[:])

	popts := []kgo.Opt{kgo.SeedBrokers(o.Brokers...), kgo.ProducerLinger(0), kgo.DefaultProduceTopic(o.Topic)}
	if o.Acks == "1" {
		popts = append(popts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	} else {
		popts = append(popts, kgo.RequiredAcks(kgo.AllISRAcks()))
	}
	producer, err := kgo.NewClient(popts...)
	if err != nil {
		return fmt.Errorf("create producer: %w", err)
	}
	defer producer.Close()

	// Start the consumer at the partitions' current ends, resolved before
	// the first send, so that no record of this run is missed and no old
	// one is read.
	adm := kadm.NewClient(producer)
	setupCtx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	if _, err := adm.CreateTopic(setupCtx, 1, -1, nil, o.Topic); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create topic %s: %w", o.Topic, err)
	}
	ends, err := adm.ListEndOffsets(setupCtx, o.Topic)
	if err != nil {
		return fmt.Errorf("list end offsets of %s: %w", o.Topic, err)
	}
	if err := ends.Error(); err != nil {
		return fmt.Errorf("list end offsets of %s: %w", o.Topic, err)
	}
	start := map[string]map[int32]kgo.Offset{o.Topic: {}}
	ends.Each(func(l kadm.ListedOffset) {
		start[o.Topic][l.Partition] = kgo.NewOffset().At(l.Offset)
	})
	consumer, err := kgo.NewClient(kgo.SeedBrokers(o.Brokers...), kgo.ConsumePartitions(start), kgo.FetchMaxWait(time.Second))
	if err != nil {
		return fmt.Errorf("create consumer: %w", err)
	}
	defer consumer.Close()

	var lat []time.Duration
	var acks []time.Duration
	if o.Throughput > 0 {
		lat, acks, err = runE2ERated(ctx, o, producer, consumer, runID)
	} else {
		lat, err = runE2ESequential(ctx, o, producer, consumer, runID)
	}
	sum := summarizeLatencies(lat)
	sum.Throughput = o.Throughput
	if len(acks) > 0 {
		a := summarizeLatencies(acks)
		sum.Ack = &a
	}
	if len(lat) > 0 {
		fmt.Fprintln(out, formatE2E(sum))
		if sum.Ack != nil {
			fmt.Fprintln(out, formatAck(*sum.Ack))
		}
		if o.SummaryJSON != "" {
			if werr := writeJSON(o.SummaryJSON, sum); werr != nil {
				return werr
			}
		}
	}
	return err
}

// runE2ESequential is Kafka's mode: send one record, wait for its
// acknowledgement and for the consumer to receive it, then the next.
func runE2ESequential(ctx context.Context, o E2EOptions, producer, consumer *kgo.Client, runID uint64) ([]time.Duration, error) {
	lat := make([]time.Duration, 0, o.NumMessages)
	value := make([]byte, o.MessageSize)
	for i := range value[e2eHeaderSize:] {
		value[e2eHeaderSize+i] = byte('A' + i%26)
	}
	t0 := time.Now()
	for i := int64(0); i < o.NumMessages; i++ {
		sent := time.Since(t0)
		e2eStamp(value, runID, sent)
		rctx, cancel := context.WithTimeout(ctx, o.Timeout)
		if err := producer.ProduceSync(rctx, &kgo.Record{Value: value}).FirstErr(); err != nil {
			cancel()
			return lat, fmt.Errorf("produce record %d: %w", i, err)
		}
		got := false
		for !got {
			fs := consumer.PollFetches(rctx)
			if rctx.Err() != nil {
				cancel()
				return lat, fmt.Errorf("record %d not consumed within %v: %w", i, o.Timeout, rctx.Err())
			}
			if err := fs.Err0(); err != nil {
				cancel()
				return lat, fmt.Errorf("fetch: %w", err)
			}
			now := time.Since(t0)
			fs.EachRecord(func(r *kgo.Record) {
				if s, ok := e2eRead(r.Value, runID); ok && s == sent {
					lat = append(lat, now-sent)
					got = true
				}
			})
		}
		cancel()
	}
	return lat, nil
}

// runE2ERated sends records at o.Throughput records per second while a
// goroutine consumes them; each latency is receipt time minus the send time
// the record carries. It also returns each record's send-to-acknowledgement
// latency.
func runE2ERated(ctx context.Context, o E2EOptions, producer, consumer *kgo.Client, runID uint64) ([]time.Duration, []time.Duration, error) {
	t0 := time.Now()
	var mu sync.Mutex
	lat := make([]time.Duration, 0, min(o.NumMessages, 10_000_000))
	acks := make([]time.Duration, 0, min(o.NumMessages, 10_000_000))
	done := make(chan error, 1)
	cctx, stopConsumer := context.WithCancel(ctx)
	defer stopConsumer()
	go func() {
		var n int64
		for n < o.NumMessages {
			fs := consumer.PollFetches(cctx)
			if cctx.Err() != nil {
				done <- cctx.Err()
				return
			}
			if err := fs.Err0(); err != nil {
				done <- fmt.Errorf("fetch: %w", err)
				return
			}
			now := time.Since(t0)
			mu.Lock()
			fs.EachRecord(func(r *kgo.Record) {
				if s, ok := e2eRead(r.Value, runID); ok {
					if len(lat) < cap(lat) {
						lat = append(lat, now-s)
					}
					n++
				}
			})
			mu.Unlock()
		}
		done <- nil
	}()

	var ackMu sync.Mutex
	snap := func() ([]time.Duration, []time.Duration) {
		mu.Lock()
		l := slices.Clone(lat)
		mu.Unlock()
		ackMu.Lock()
		defer ackMu.Unlock()
		return l, slices.Clone(acks)
	}
	var produceErr error
	var errOnce sync.Once
	pad := make([]byte, o.MessageSize-e2eHeaderSize)
	for i := range pad {
		pad[i] = byte('A' + i%26)
	}
	// Records and their values are reused once acknowledged. At 20 MiB/s
	// a fresh 1 KiB value per record made the tool's own garbage
	// collection the largest part of the measured p99 (about half of it,
	// seen by running the tool with GOGC=off), which is the client's
	// latency, not the broker's.
	free := make(chan *kgo.Record, 1<<14)
	record := func() *kgo.Record {
		select {
		case r := <-free:
			return r
		default:
			v := make([]byte, o.MessageSize)
			copy(v[e2eHeaderSize:], pad)
			return &kgo.Record{Value: v}
		}
	}
	promise := func(r *kgo.Record, err error) {
		if err != nil {
			errOnce.Do(func() { produceErr = err })
			return
		}
		if sent, ok := e2eRead(r.Value, runID); ok {
			d := time.Since(t0) - sent
			ackMu.Lock()
			if len(acks) < cap(acks) {
				acks = append(acks, d)
			}
			ackMu.Unlock()
		}
		*r = kgo.Record{Value: r.Value} // franz-go is done with it
		select {
		case free <- r:
		default:
		}
	}
	thr := throttle{target: o.Throughput, start: t0}
	for i := int64(0); i < o.NumMessages; i++ {
		if ctx.Err() != nil {
			break
		}
		r := record()
		now := time.Now()
		e2eStamp(r.Value, runID, now.Sub(t0))
		producer.Produce(ctx, r, promise)
		if thr.wait(ctx, i+1, now) != nil {
			break
		}
	}
	fctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	if err := producer.Flush(fctx); err != nil {
		l, a := snap()
		return l, a, fmt.Errorf("flush producer: %w", err)
	}
	if produceErr != nil {
		stopConsumer()
		<-done
		l, a := snap()
		return l, a, fmt.Errorf("produce: %w", produceErr)
	}
	select {
	case err := <-done:
		l, a := snap()
		return l, a, err
	case <-fctx.Done():
		stopConsumer()
		<-done
		l, a := snap()
		return l, a, fmt.Errorf("not every record was consumed within %v", o.Timeout)
	}
}
