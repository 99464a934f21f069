package perftest

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/gokafka/tools/cmdline"
)

// The metadata latency probe is make bench's view of what every client
// sees while a broker is busy: Kafka clients refresh metadata periodically
// and on every leadership error, so a broker that answers Metadata slowly
// while it drains a backlog stalls producers and consumers alike (issue 4's
// backlog target: Metadata p99 <= 50 ms during the drain).

// MetadataProbeOptions are the flags of `gokafka bench-probe
// metadata-latency`.
type MetadataProbeOptions struct {
	Bootstrap string
	// Topics are the topics each request asks for; empty asks for all
	// topics, the largest answer the broker can be asked for.
	Topics []string
	// Interval is the time between the starts of two requests. Requests
	// never overlap: one that takes longer than Interval is followed at
	// once by the next, so a stall shows as one long sample, as a client
	// waiting on that answer would see it.
	Interval time.Duration
	// Duration bounds the run; zero runs until the context ends (the
	// command's SIGINT or SIGTERM), which is how make bench stops it.
	Duration time.Duration
	// RequestTimeout bounds one request; a request that times out counts
	// as an error, not as a sample.
	RequestTimeout time.Duration
}

// metadataProbeArgSpecs are the flags metadata-latency accepts.
var metadataProbeArgSpecs = []argSpec{
	{"bootstrap", argValue},
	{"topic", argValue},
	{"interval", argValue},
	{"duration", argValue},
	{"request-timeout", argValue},
}

// MetadataProbeUsage is the metadata-latency probe's help text.
const MetadataProbeUsage = `usage: gokafka bench-probe metadata-latency [--bootstrap HOST:PORT (127.0.0.1:9092)]
         [--topic T1,T2 (all topics)] [--interval D (10ms)] [--duration D (until SIGINT/SIGTERM)]
         [--request-timeout D (5s)]

Sends one Metadata request every interval until stopped and prints
count, errors, p50_ms, p99_ms and max_ms, one key=value per line.
Durations are Go durations (10ms, 1.5s) or whole milliseconds.`

// ParseMetadataProbeArgs parses the metadata-latency probe's command line.
func ParseMetadataProbeArgs(args []string) (MetadataProbeOptions, error) {
	p, err := parseArgs(args, metadataProbeArgSpecs)
	if err != nil {
		return MetadataProbeOptions{}, err
	}
	o := MetadataProbeOptions{
		Bootstrap:      "127.0.0.1:9092",
		Interval:       10 * time.Millisecond,
		RequestTimeout: 5 * time.Second,
	}
	if v, ok := p.last("bootstrap"); ok {
		if v == "" {
			return MetadataProbeOptions{}, fmt.Errorf("argument --bootstrap: empty address")
		}
		o.Bootstrap = v
	}
	if v, ok := p.last("topic"); ok {
		o.Topics = cmdline.SplitList(v)
		if len(o.Topics) == 0 {
			return MetadataProbeOptions{}, fmt.Errorf("argument --topic: no topic in %q", v)
		}
	}
	durations := []struct {
		name   string
		dst    *time.Duration
		zeroOK bool
	}{
		{"interval", &o.Interval, false},
		{"duration", &o.Duration, true},
		{"request-timeout", &o.RequestTimeout, false},
	}
	for _, d := range durations {
		v, ok := p.last(d.name)
		if !ok {
			continue
		}
		if *d.dst, err = parseProbeDuration(v); err != nil {
			return MetadataProbeOptions{}, fmt.Errorf("argument --%s: %w", d.name, err)
		}
		if *d.dst < 0 || (*d.dst == 0 && !d.zeroOK) {
			return MetadataProbeOptions{}, fmt.Errorf("argument --%s: %q must be greater than zero", d.name, v)
		}
	}
	return o, nil
}

// parseProbeDuration reads a Go duration ("10ms") or a bare number of
// milliseconds ("10"), the unit Kafka's tools use.
func parseProbeDuration(v string) (time.Duration, error) {
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		if ms > math.MaxInt64/int64(time.Millisecond) || ms < 0 {
			return 0, fmt.Errorf("%q is out of range", v)
		}
		return time.Duration(ms) * time.Millisecond, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%q is neither a duration nor milliseconds", v)
	}
	return d, nil
}

// LatencySummary is the outcome of a latency probe.
type LatencySummary struct {
	// Count is the number of requests that were answered (the samples);
	// Errors the number that failed or timed out.
	Count, Errors int
	// P50, P99 and Max are nearest-rank percentiles of the samples: the
	// smallest sample that at least that share of samples does not exceed.
	P50, P99, Max time.Duration
}

// summarizeProbeLatencies computes the summary of samples (in any order; it is
// not modified) and errors failed requests.
func summarizeProbeLatencies(samples []time.Duration, errors int) LatencySummary {
	s := LatencySummary{Count: len(samples), Errors: errors}
	if len(samples) == 0 {
		return s
	}
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	s.P50 = nearestRank(sorted, 50)
	s.P99 = nearestRank(sorted, 99)
	s.Max = sorted[len(sorted)-1]
	return s
}

// nearestRank returns the pct-th percentile of sorted by the nearest-rank
// method: the sample at rank ceil(pct/100 * n), counting from 1.
func nearestRank(sorted []time.Duration, pct int) time.Duration {
	rank := (pct*len(sorted) + 99) / 100
	return sorted[max(rank, 1)-1]
}

// String renders the summary as the key=value lines make bench reads.
func (s LatencySummary) String() string {
	ms := func(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 2, 64) }
	var b strings.Builder
	fmt.Fprintf(&b, "count=%d\nerrors=%d\n", s.Count, s.Errors)
	if s.Count > 0 {
		fmt.Fprintf(&b, "p50_ms=%s\np99_ms=%s\nmax_ms=%s\n", ms(s.P50), ms(s.P99), ms(s.Max))
	}
	return b.String()
}

// ProbeMetadata sends Metadata requests to the broker at o.Bootstrap every
// o.Interval until ctx ends or o.Duration has passed, and summarizes their
// latencies. The connection is opened before the first timed request, so
// dialing is not timed. It fails only when the client cannot be created or
// the broker does not answer the first ApiVersions request; failed
// Metadata requests are counted in the summary.
func ProbeMetadata(ctx context.Context, o MetadataProbeOptions) (LatencySummary, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(cmdline.SplitList(o.Bootstrap)...), kgo.RequestRetries(0))
	if err != nil {
		return LatencySummary{}, fmt.Errorf("create client: %w", err)
	}
	defer cl.Close()
	actx, cancel := context.WithTimeout(ctx, o.RequestTimeout)
	_, err = kmsg.NewPtrApiVersionsRequest().RequestWith(actx, cl)
	cancel()
	if err != nil {
		return LatencySummary{}, fmt.Errorf("api versions to %s: %w", o.Bootstrap, err)
	}
	request := func(ctx context.Context) error {
		req := kmsg.NewPtrMetadataRequest()
		for _, t := range o.Topics {
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(t)
			req.Topics = append(req.Topics, rt)
		}
		if _, err := req.RequestWith(ctx, cl); err != nil {
			return fmt.Errorf("metadata: %w", err)
		}
		return nil
	}
	if o.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	return probeLoop(ctx, o.Interval, o.RequestTimeout, request), nil
}

// probeLoop calls request every interval (each call bounded by timeout)
// until ctx ends and summarizes the latencies of the calls that succeeded.
// A call that ctx's end cuts short is neither a sample nor an error: it
// says nothing about the broker.
func probeLoop(ctx context.Context, interval, timeout time.Duration, request func(context.Context) error) LatencySummary {
	var samples []time.Duration
	errors := 0
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for ctx.Err() == nil {
		rctx, cancel := context.WithTimeout(ctx, timeout)
		t0 := time.Now()
		err := request(rctx)
		d := time.Since(t0)
		cancel()
		switch {
		case ctx.Err() != nil:
		case err != nil:
			errors++
		default:
			samples = append(samples, d)
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	return summarizeProbeLatencies(samples, errors)
}
