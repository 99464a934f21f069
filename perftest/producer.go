package perftest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ProducerOptions are the parsed flags of producer-perf-test, named after
// kafka-producer-perf-test.sh's.
type ProducerOptions struct {
	Topic      string
	NumRecords int64
	// Exactly one of RecordSize, PayloadFile and PayloadMonotonic chooses
	// the payloads, as in Kafka's tool.
	RecordSize       int
	PayloadFile      string
	PayloadDelimiter string
	PayloadMonotonic bool
	// Throughput is the target in records per second; negative is
	// unthrottled.
	Throughput float64
	// Props are the producer properties: --producer.config's file
	// overridden by --producer-props.
	Props        map[string]string
	PrintMetrics bool
	// SummaryJSON, when set, names a file that receives the run's
	// ProducerSummary as JSON (not a Kafka flag).
	SummaryJSON string
}

// producerArgSpecs are the flags producer-perf-test accepts.
var producerArgSpecs = []argSpec{
	{"topic", argValue},
	{"num-records", argValue},
	{"record-size", argValue},
	{"payload-file", argValue},
	{"payload-delimiter", argValue},
	{"payload-monotonic", argSwitch},
	{"throughput", argValue},
	{"producer-props", argList},
	{"producer.config", argValue},
	{"print-metrics", argSwitch},
	{"summary-json", argValue},
}

// ProducerUsage is producer-perf-test's help text.
const ProducerUsage = `usage: gokafka producer-perf-test --topic TOPIC --num-records N
         (--record-size SIZE | --payload-file FILE [--payload-delimiter D] | --payload-monotonic)
         --throughput RECORDS_PER_SEC (-1: unthrottled)
         (--producer-props k=v [k=v ...] | --producer.config FILE)
         [--print-metrics] [--summary-json FILE]

Producer properties understood: bootstrap.servers, client.id, acks,
enable.idempotence, max.in.flight.requests.per.connection, linger.ms,
batch.size, compression.type, compression.{gzip,lz4,zstd}.level,
buffer.memory, request.timeout.ms, delivery.timeout.ms, retries,
retry.backoff.ms. Unset properties take Kafka's producer defaults.`

// ParseProducerArgs parses producer-perf-test's command line, applying the
// checks Kafka's tool makes before it connects.
func ParseProducerArgs(args []string) (ProducerOptions, error) {
	p, err := parseArgs(args, producerArgSpecs)
	if err != nil {
		return ProducerOptions{}, err
	}
	var o ProducerOptions
	for _, req := range []string{"topic", "num-records", "throughput"} {
		if !p.has(req) {
			return ProducerOptions{}, fmt.Errorf("argument --%s is required", req)
		}
	}
	o.Topic, _ = p.last("topic")
	v, _ := p.last("num-records")
	if o.NumRecords, err = strconv.ParseInt(v, 10, 64); err != nil {
		return ProducerOptions{}, fmt.Errorf("argument --num-records: %q is not an integer", v)
	}
	if o.NumRecords <= 0 {
		return ProducerOptions{}, fmt.Errorf("--num-records should be greater than zero")
	}
	v, _ = p.last("throughput")
	if o.Throughput, err = strconv.ParseFloat(v, 64); err != nil {
		return ProducerOptions{}, fmt.Errorf("argument --throughput: %q is not a number", v)
	}

	payloadChoices := 0
	if v, ok := p.last("record-size"); ok {
		payloadChoices++
		if o.RecordSize, err = strconv.Atoi(v); err != nil {
			return ProducerOptions{}, fmt.Errorf("argument --record-size: %q is not an integer", v)
		}
		if o.RecordSize <= 0 {
			return ProducerOptions{}, fmt.Errorf("--record-size should be greater than zero")
		}
	}
	if v, ok := p.last("payload-file"); ok {
		payloadChoices++
		o.PayloadFile = v
	}
	if p.has("payload-monotonic") {
		payloadChoices++
		o.PayloadMonotonic = true
	}
	if payloadChoices != 1 {
		return ProducerOptions{}, fmt.Errorf("exactly one of --record-size, --payload-file or --payload-monotonic must be specified")
	}
	o.PayloadDelimiter = "\n"
	if v, ok := p.last("payload-delimiter"); ok && v != `\n` {
		o.PayloadDelimiter = v
	}

	if !p.has("producer-props") && !p.has("producer.config") {
		return ProducerOptions{}, fmt.Errorf("either --producer-props or --producer.config must be specified")
	}
	o.Props = map[string]string{}
	if file, ok := p.last("producer.config"); ok {
		fileProps, err := loadPropertiesFile(file)
		if err != nil {
			return ProducerOptions{}, err
		}
		for k, v := range fileProps {
			o.Props[k] = v
		}
	}
	cmdProps, err := parseAssignments(p["producer-props"])
	if err != nil {
		return ProducerOptions{}, err
	}
	for k, v := range cmdProps {
		o.Props[k] = v
	}
	o.PrintMetrics = p.has("print-metrics")
	o.SummaryJSON, _ = p.last("summary-json")
	return o, nil
}

// payloadSource hands out record values: a rotating set of random
// upper-case payloads (Kafka's tool fills each record with random letters
// A-Z; a precomputed set costs the client no CPU per record yet keeps
// compression ratios realistic), lines of a payload file, or the record
// number as text.
type payloadSource struct {
	payloads  [][]byte
	monotonic bool
}

// payloadCycleBytes is roughly how many distinct random payload bytes are
// prepared, so that no batch repeats a payload.
const payloadCycleBytes = 1 << 20

// newPayloadSource prepares the payloads the options ask for.
func newPayloadSource(o ProducerOptions) (payloadSource, error) {
	switch {
	case o.PayloadMonotonic:
		return payloadSource{monotonic: true}, nil
	case o.PayloadFile != "":
		data, err := os.ReadFile(o.PayloadFile)
		if err != nil {
			return payloadSource{}, fmt.Errorf("read payload file: %w", err)
		}
		var ps [][]byte
		for _, s := range strings.Split(string(data), o.PayloadDelimiter) {
			if s != "" {
				ps = append(ps, []byte(s))
			}
		}
		if len(ps) == 0 {
			return payloadSource{}, fmt.Errorf("payload file %s holds no payloads", o.PayloadFile)
		}
		return payloadSource{payloads: ps}, nil
	}
	n := min(max((payloadCycleBytes+o.RecordSize-1)/o.RecordSize, 1), 4096)
	n = int(min(int64(n), o.NumRecords))
	rng := rand.New(rand.NewPCG(0, 0))
	ps := make([][]byte, n)
	for i := range ps {
		b := make([]byte, o.RecordSize)
		for j := range b {
			b[j] = byte('A' + rng.IntN(26))
		}
		ps[i] = b
	}
	return payloadSource{payloads: ps}, nil
}

// value returns the payload of record i.
func (s payloadSource) value(i int64) []byte {
	if s.monotonic {
		return strconv.AppendInt(nil, i, 10)
	}
	return s.payloads[i%int64(len(s.payloads))]
}

// RunProducer runs producer-perf-test: it sends the records as fast as the
// throttle allows, prints a window line every five seconds and Kafka's final
// line when every record has been acknowledged (or ctx ends), to out.
// Warnings and record errors go to errOut. It returns an error when the run
// could not start or some records failed.
func RunProducer(ctx context.Context, o ProducerOptions, out, errOut io.Writer) error {
	cfg, err := resolveProducerProps(o.Props)
	if err != nil {
		return err
	}
	for _, w := range cfg.warnings {
		fmt.Fprintf(errOut, "WARN %s\n", w)
	}
	payloads, err := newPayloadSource(o)
	if err != nil {
		return err
	}
	opts := cfg.kgoOpts(o.RecordSize)
	metrics := &clientMetrics{}
	if o.PrintMetrics {
		opts = append(opts, kgo.WithHooks(metrics))
	}
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("create producer: %w", err)
	}
	defer client.Close()

	start := time.Now()
	stats := newProducerStats(o.NumRecords, start, out)
	var failed atomic.Int64
	var errMu sync.Mutex
	reported := 0
	// Records are recycled once their promise ran: franz-go no longer
	// touches them, and reuse keeps the client's allocation rate (and so
	// its share of the CPU the broker also needs) down.
	pool := sync.Pool{New: func() any { return new(kgo.Record) }}
	promise := func(r *kgo.Record, err error) {
		now := time.Now()
		if err == nil {
			stats.record(now.Sub(r.Timestamp), len(r.Value), now)
		} else {
			failed.Add(1)
			errMu.Lock()
			if reported < 10 {
				reported++
				fmt.Fprintf(errOut, "ERROR sending record to %s: %v\n", r.Topic, err)
			}
			errMu.Unlock()
		}
		*r = kgo.Record{}
		pool.Put(r)
	}

	thr := throttle{target: o.Throughput, start: start}
	for i := int64(0); i < o.NumRecords; i++ {
		if ctx.Err() != nil {
			break
		}
		sendStart := time.Now()
		r := pool.Get().(*kgo.Record)
		r.Topic = o.Topic
		r.Value = payloads.value(i)
		r.Timestamp = sendStart
		// r belongs to the client from here on: its promise may already
		// have recycled it by the time Produce returns.
		client.Produce(ctx, r, promise)
		if o.Throughput >= 0 {
			if thr.wait(ctx, i+1, sendStart) != nil {
				break
			}
		}
	}
	if err := client.Flush(ctx); err != nil && ctx.Err() == nil {
		return fmt.Errorf("flush producer: %w", err)
	}
	sum := stats.summary(time.Now())
	sum.Failed = failed.Load()
	fmt.Fprintln(out, formatProducerTotal(sum))
	if o.PrintMetrics {
		printMetrics(out, metrics.metricValues(true, cfg.clientID))
	}
	if o.SummaryJSON != "" {
		if err := writeJSON(o.SummaryJSON, sum); err != nil {
			return err
		}
	}
	if n := failed.Load(); n > 0 {
		return fmt.Errorf("%d of %d records failed", n, n+sum.Records)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: %w", context.Cause(ctx))
	}
	return nil
}

// writeJSON writes v as indented JSON to path.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode summary: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return nil
}
