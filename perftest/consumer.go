package perftest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gokafka/gokafka/tools/cmdline"
)

// ConsumerOptions are the parsed flags of consumer-perf-test, named after
// kafka-consumer-perf-test.sh's.
type ConsumerOptions struct {
	BootstrapServers []string
	// Exactly one of Topic and Include names what to consume.
	Topic   string
	Include string
	// Group, when set, consumes as a member of that consumer group.
	// Kafka's tool always joins a group (a random perf-consumer-N when
	// --group is absent); this tool consumes without a group, by direct
	// assignment of every partition, unless --group is given, so that it
	// also drives brokers without group support.
	Group             string
	FetchSize         int
	FromLatest        bool
	Messages          int64
	Timeout           time.Duration
	ReportingInterval time.Duration
	ShowDetailedStats bool
	HideHeader        bool
	PrintMetrics      bool
	DateFormat        javaDateFormat
	// Props are --consumer.config's properties.
	Props map[string]string
	// SummaryJSON, when set, names a file that receives the run's
	// ConsumerSummary as JSON (not a Kafka flag).
	SummaryJSON string
}

// consumerArgSpecs are the flags consumer-perf-test accepts.
var consumerArgSpecs = []argSpec{
	{"bootstrap-server", argValue},
	{"topic", argValue},
	{"include", argValue},
	{"group", argValue},
	{"fetch-size", argValue},
	{"from-latest", argSwitch},
	{"socket-buffer-size", argValue},
	{"consumer.config", argValue},
	{"print-metrics", argSwitch},
	{"show-detailed-stats", argSwitch},
	{"timeout", argValue},
	{"messages", argValue},
	{"reporting-interval", argValue},
	{"date-format", argValue},
	{"hide-header", argSwitch},
	{"summary-json", argValue},
}

// ConsumerUsage is consumer-perf-test's help text.
const ConsumerUsage = `usage: gokafka consumer-perf-test --bootstrap-server HOST:PORT[,...]
         (--topic TOPIC | --include REGEX) --messages N
         [--group GROUP] [--fetch-size BYTES (1048576)] [--from-latest]
         [--timeout MS (10000)] [--show-detailed-stats] [--reporting-interval MS (5000)]
         [--date-format PATTERN] [--hide-header] [--print-metrics]
         [--consumer.config FILE] [--socket-buffer-size BYTES (ignored)]
         [--summary-json FILE]

Without --group the tool assigns itself every partition of the topic and
reads from the earliest offset (or the latest with --from-latest) without
joining a consumer group; with --group it joins that group.`

// ParseConsumerArgs parses consumer-perf-test's command line, applying the
// checks Kafka's tool makes before it connects.
func ParseConsumerArgs(args []string) (ConsumerOptions, error) {
	p, err := parseArgs(args, consumerArgSpecs)
	if err != nil {
		return ConsumerOptions{}, err
	}
	o := ConsumerOptions{
		FetchSize:         1 << 20,
		Timeout:           10 * time.Second,
		ReportingInterval: 5 * time.Second,
		Props:             map[string]string{},
	}
	if file, ok := p.last("consumer.config"); ok {
		if o.Props, err = loadPropertiesFile(file); err != nil {
			return ConsumerOptions{}, err
		}
	}
	bootstrap, ok := p.last("bootstrap-server")
	if !ok {
		bootstrap = o.Props["bootstrap.servers"]
	}
	if o.BootstrapServers = cmdline.SplitList(bootstrap); len(o.BootstrapServers) == 0 {
		return ConsumerOptions{}, fmt.Errorf("missing required argument --bootstrap-server")
	}
	o.Topic, _ = p.last("topic")
	o.Include, _ = p.last("include")
	if (o.Topic == "") == (o.Include == "") {
		return ConsumerOptions{}, fmt.Errorf("exactly one of --topic or --include must be specified")
	}
	if o.Include != "" {
		if _, err := regexp.Compile(o.Include); err != nil {
			return ConsumerOptions{}, fmt.Errorf("argument --include: %w", err)
		}
	}
	o.Group, _ = p.last("group")
	v, ok := p.last("messages")
	if !ok {
		return ConsumerOptions{}, fmt.Errorf("missing required argument --messages")
	}
	if o.Messages, err = strconv.ParseInt(v, 10, 64); err != nil || o.Messages < 0 {
		return ConsumerOptions{}, fmt.Errorf("argument --messages: %q is not a non-negative integer", v)
	}
	if v, ok := p.last("fetch-size"); ok {
		if o.FetchSize, err = parseIntIn(v, 1, math.MaxInt32); err != nil {
			return ConsumerOptions{}, fmt.Errorf("argument --fetch-size %q: %w", v, err)
		}
	}
	if v, ok := p.last("socket-buffer-size"); ok {
		if _, err := parseIntIn(v, 0, math.MaxInt32); err != nil {
			return ConsumerOptions{}, fmt.Errorf("argument --socket-buffer-size %q: %w", v, err)
		}
	}
	if v, ok := p.last("timeout"); ok {
		if o.Timeout, err = parseMillis(v, 0, math.MaxInt64/int64(time.Millisecond)); err != nil {
			return ConsumerOptions{}, fmt.Errorf("argument --timeout %q: %w", v, err)
		}
	}
	if v, ok := p.last("reporting-interval"); ok {
		if o.ReportingInterval, err = parseMillis(v, 1, math.MaxInt64/int64(time.Millisecond)); err != nil {
			return ConsumerOptions{}, fmt.Errorf("argument --reporting-interval %q: reporting interval must be greater than 0: %w", v, err)
		}
	}
	pattern := defaultDateFormat
	if v, ok := p.last("date-format"); ok {
		pattern = v
	}
	if o.DateFormat, err = parseJavaDateFormat(pattern); err != nil {
		return ConsumerOptions{}, err
	}
	o.FromLatest = p.has("from-latest")
	o.ShowDetailedStats = p.has("show-detailed-stats")
	o.HideHeader = p.has("hide-header")
	o.PrintMetrics = p.has("print-metrics")
	o.SummaryJSON, _ = p.last("summary-json")
	return o, nil
}

// consumerClientOpts maps the options and --consumer.config properties onto
// franz-go options. As in Kafka's tool, --bootstrap-server, --group and
// --fetch-size override the file's bootstrap.servers, group.id and
// max.partition.fetch.bytes, and CRC checks are off (check.crcs=false).
func consumerClientOpts(o ConsumerOptions) (opts []kgo.Opt, clientID string, warnings []string, err error) {
	clientID = "perf-consumer-client"
	fetchMax := int64(50 << 20) // Kafka's fetch.max.bytes default
	opts = []kgo.Opt{kgo.SeedBrokers(o.BootstrapServers...), kgo.DisableFetchCRCValidation()}
	keys := make([]string, 0, len(o.Props))
	for k := range o.Props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := strings.TrimSpace(o.Props[k])
		var perr error
		switch k {
		case "bootstrap.servers", "group.id", "max.partition.fetch.bytes",
			"key.deserializer", "value.deserializer", "check.crcs", "auto.offset.reset":
			// Decided by the tool's flags, as in Kafka's tool.
		case "client.id":
			clientID = v
		case "fetch.max.bytes":
			var n int
			n, perr = parseIntIn(v, 1, math.MaxInt32)
			fetchMax = int64(n)
		case "fetch.min.bytes":
			var n int
			n, perr = parseIntIn(v, 1, math.MaxInt32)
			opts = append(opts, kgo.FetchMinBytes(int32(n)))
		case "fetch.max.wait.ms":
			var d time.Duration
			d, perr = parseMillis(v, 10, math.MaxInt32)
			opts = append(opts, kgo.FetchMaxWait(d))
		case "isolation.level":
			switch v {
			case "read_uncommitted":
				opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadUncommitted()))
			case "read_committed":
				opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
			default:
				perr = fmt.Errorf("want read_uncommitted or read_committed")
			}
		default:
			warnings = append(warnings, fmt.Sprintf("the configuration '%s' was supplied but is not used by this tool", k))
		}
		if perr != nil {
			return nil, "", nil, fmt.Errorf("invalid value %q for configuration %s: %w", v, k, perr)
		}
	}
	opts = append(opts,
		kgo.ClientID(clientID),
		kgo.FetchMaxPartitionBytes(int32(o.FetchSize)),
		kgo.FetchMaxBytes(int32(max(fetchMax, int64(o.FetchSize)))),
	)
	if o.FromLatest {
		opts = append(opts, kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
	} else {
		opts = append(opts, kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	}
	if o.Include != "" {
		opts = append(opts, kgo.ConsumeRegex(), kgo.ConsumeTopics(o.Include))
	} else {
		opts = append(opts, kgo.ConsumeTopics(o.Topic))
	}
	if o.Group != "" {
		opts = append(opts, kgo.ConsumerGroup(o.Group))
	}
	return opts, clientID, warnings, nil
}

// joinTimer measures the time spent joining the group, as Kafka's tool's
// rebalance listener does: from the start (or from losing the last
// partition) until partitions are assigned.
type joinTimer struct {
	mu        sync.Mutex
	joinStart time.Time
	assigned  int
	total     time.Duration
	interval  time.Duration // since the last progress line
}

func (j *joinTimer) onAssigned(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.assigned == 0 {
		d := time.Since(j.joinStart)
		j.total += d
		j.interval += d
	}
	for _, ps := range m {
		j.assigned += len(ps)
	}
}

func (j *joinTimer) onRevoked(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, ps := range m {
		j.assigned -= len(ps)
	}
	if j.assigned <= 0 {
		j.assigned = 0
		j.joinStart = time.Now()
	}
}

// takeInterval returns the join time since the last call and resets it.
func (j *joinTimer) takeInterval() time.Duration {
	j.mu.Lock()
	defer j.mu.Unlock()
	d := j.interval
	j.interval = 0
	return d
}

func (j *joinTimer) totalTime() time.Duration {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.total
}

// consumerPollWait bounds one poll, as Kafka's consumer-perf-test polls with
// a 100 ms timeout.
const consumerPollWait = 100 * time.Millisecond

// pollDeadline is the earlier of the --timeout deadline and the end of one
// poll.
func pollDeadline(timeout, poll time.Time) time.Time {
	if poll.Before(timeout) {
		return poll
	}
	return timeout
}

// RunConsumer runs consumer-perf-test: it consumes until --messages records
// arrived, or no record arrived for --timeout, or ctx ends, then prints
// Kafka's values line (or, with --show-detailed-stats, a line per reporting
// interval) to out. Warnings and fetch errors go to errOut.
func RunConsumer(ctx context.Context, o ConsumerOptions, out, errOut io.Writer) error {
	opts, clientID, warnings, err := consumerClientOpts(o)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Fprintf(errOut, "WARN %s\n", w)
	}
	start := time.Now()
	jt := &joinTimer{joinStart: start}
	if o.Group != "" {
		opts = append(opts, kgo.OnPartitionsAssigned(jt.onAssigned), kgo.OnPartitionsRevoked(jt.onRevoked), kgo.OnPartitionsLost(jt.onRevoked))
	}
	metrics := &clientMetrics{}
	if o.PrintMetrics {
		opts = append(opts, kgo.WithHooks(metrics))
	}
	if !o.HideHeader {
		fmt.Fprintln(out, consumerHeader(o.ShowDetailedStats))
	}
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("create consumer: %w", err)
	}
	defer client.Close()

	var records, bytes, lastRecords, lastBytes int64
	now := time.Now()
	lastReport, lastConsumed := now, now
	reportedErrs := map[string]bool{}
	for records < o.Messages && now.Sub(lastConsumed) <= o.Timeout && ctx.Err() == nil {
		// Kafka's tool polls for 100 ms at a time. Waiting for the whole
		// --timeout instead would leave the records of the last reporting
		// interval unprinted while the consumer idles at the end of the
		// log, and a harness reading the progress lines would never see
		// the last of them.
		pollCtx, cancel := context.WithDeadline(ctx, pollDeadline(lastConsumed.Add(o.Timeout+time.Millisecond), now.Add(consumerPollWait)))
		fetches := client.PollFetches(pollCtx)
		cancel()
		if fetches.IsClientClosed() {
			break
		}
		for _, fe := range fetches.Errors() {
			if errors.Is(fe.Err, context.DeadlineExceeded) || errors.Is(fe.Err, context.Canceled) {
				continue
			}
			msg := fmt.Sprintf("fetch %s[%d]: %v", fe.Topic, fe.Partition, fe.Err)
			if !reportedErrs[msg] && len(reportedErrs) < 10 {
				reportedErrs[msg] = true
				fmt.Fprintf(errOut, "WARN %s\n", msg)
			}
		}
		now = time.Now()
		got := int64(0)
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			got += int64(len(p.Records))
			for _, r := range p.Records {
				bytes += int64(len(r.Key) + len(r.Value))
			}
		})
		if got > 0 {
			records += got
			lastConsumed = now
		}
		// A line per interval in which records arrived: Kafka prints one
		// as a record arrives after the interval, so an idle consumer
		// prints nothing; this one also reports records that arrived
		// since the last line once the interval has passed.
		if o.ShowDetailedStats && now.Sub(lastReport) >= o.ReportingInterval && records > lastRecords {
			fmt.Fprintln(out, formatConsumerProgress(o.DateFormat, records, lastRecords, bytes, lastBytes, lastReport, now, jt.takeInterval()))
			lastReport, lastRecords, lastBytes = now, records, bytes
		}
	}
	end := time.Now()
	if records < o.Messages && ctx.Err() == nil {
		fmt.Fprintf(out, "WARNING: Exiting before consuming the expected number of messages: timeout (%d ms) exceeded. You can use the --timeout option to increase the timeout.\n", o.Timeout.Milliseconds())
	}
	sum := summarizeConsumer(records, bytes, start, end, jt.totalTime())
	if !o.ShowDetailedStats {
		fmt.Fprintln(out, formatConsumerTotal(o.DateFormat, start, end, sum))
	}
	if o.PrintMetrics {
		printMetrics(out, metrics.metricValues(false, clientID))
	}
	if o.SummaryJSON != "" {
		if err := writeJSON(o.SummaryJSON, sum); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: %w", context.Cause(ctx))
	}
	return nil
}
