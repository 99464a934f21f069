package console

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gokafka/gokafka/tools/cmdline"
)

// ConsumerTool is kafka-console-consumer.sh's option set (Kafka 3.9).
var ConsumerTool = &cmdline.Tool{
	Name:        "console-consumer",
	Description: "This tool helps to read data from Kafka topics and outputs it to standard output.",
	Options: []cmdline.Option{
		{Name: "bootstrap-server", Kind: cmdline.Value, Arg: "String: server to connect to", Help: "REQUIRED: The server(s) to connect to."},
		{Name: "topic", Kind: cmdline.Value, Arg: "String: topic", Help: "The topic to consume on."},
		{Name: "include", Kind: cmdline.Value, Arg: "String: Java regex (String)", Help: "Regular expression specifying list of topics to include for consumption."},
		{Name: "whitelist", Kind: cmdline.Value, Arg: "String: Java regex (String)", Help: "DEPRECATED, use --include instead; ignored if --include specified."},
		{Name: "partition", Kind: cmdline.Value, Arg: "Integer: partition", Help: "The partition to consume from. Consumption starts from the end of the partition unless '--offset' is specified."},
		{Name: "offset", Kind: cmdline.Value, Arg: "String: consume offset", Help: "The offset to consume from (a non-negative number), or 'earliest' which means from beginning, or 'latest' which means from end", Default: "latest"},
		{Name: "group", Kind: cmdline.Value, Arg: "String: consumer group id", Help: "The consumer group id of the consumer."},
		{Name: "from-beginning", Kind: cmdline.Switch, Help: "If the consumer does not already have an established offset to consume from, start with the earliest message present in the log rather than the latest message."},
		{Name: "max-messages", Kind: cmdline.Value, Arg: "Integer: num_messages", Help: "The maximum number of messages to consume before exiting. If not set, consumption is continual."},
		{Name: "timeout-ms", Kind: cmdline.Value, Arg: "Integer: timeout_ms", Help: "If specified, exit if no message is available for consumption for the specified interval."},
		{Name: "property", Kind: cmdline.Value, Arg: "String: prop", Help: "The properties to initialize the message formatter:\nprint.timestamp=true|false, print.key=true|false, print.offset=true|false,\nprint.partition=true|false, print.headers=true|false, print.value=true|false,\nkey.separator=<key.separator>, line.separator=<line.separator>,\nheaders.separator=<line.separator>, null.literal=<null.literal>"},
		{Name: "formatter-config", Kind: cmdline.Value, Arg: "String: config file", Help: "Config properties file to initialize the message formatter. Note that [property] takes precedence over this config."},
		{Name: "consumer-property", Kind: cmdline.Value, Arg: "String: consumer_prop", Help: "A mechanism to pass user-defined properties in the form key=value to the consumer."},
		{Name: "consumer.config", Kind: cmdline.Value, Arg: "String: config file", Help: "Consumer config properties file. Note that [consumer-property] takes precedence over this config."},
		{Name: "isolation-level", Kind: cmdline.Value, Arg: "String", Help: "Set to read_committed in order to filter out transactional messages which are not committed. Set to read_uncommitted to read all messages.", Default: "read_uncommitted"},
		{Name: "skip-message-on-error", Kind: cmdline.Switch, Help: "If there is an error when processing a message, skip it instead of halt."},
	},
}

// consumerOptions is a checked console-consumer command line.
type consumerOptions struct {
	bootstrap   string
	topic       string
	include     string
	partition   int32 // -1: none (subscribe)
	offset      kgo.Offset
	group       string
	userGroup   bool // the group came from --group or group.id
	fromStart   bool
	maxMessages int64 // 0: unlimited
	timeout     time.Duration
	props       map[string]string // consumer properties
	format      map[string]string // formatter properties
}

// parseConsumer applies ConsoleConsumerOptions' checks and messages.
func parseConsumer(v cmdline.Values) (consumerOptions, error) {
	o := consumerOptions{bootstrap: v.Get("bootstrap-server", ""), topic: v.Get("topic", ""), partition: -1}
	o.include = v.Get("include", v.Get("whitelist", ""))
	if err := cmdline.CheckRequired(v, "bootstrap-server"); err != nil {
		return o, err
	}
	if (o.topic != "") == (o.include != "") {
		return o, cmdline.Usagef("Exactly one of --include/--topic is required. ")
	}
	if v.Has("partition") {
		if o.topic == "" {
			return o, cmdline.Usagef("The topic is required when partition is specified.")
		}
		p, err := strconv.ParseInt(v.Get("partition", ""), 10, 32)
		if err != nil || p < 0 {
			return o, cmdline.Usagef("Cannot parse argument '%s' of option partition", v.Get("partition", ""))
		}
		o.partition = int32(p)
	}
	if v.Has("offset") && !v.Has("partition") {
		return o, cmdline.Usagef("The partition is required when offset is specified.")
	}
	o.fromStart = v.Has("from-beginning")
	if o.fromStart && v.Has("offset") {
		return o, cmdline.Usagef("Options from-beginning and offset cannot be specified together.")
	}
	switch off := v.Get("offset", "latest"); strings.ToLower(off) {
	case "earliest":
		o.offset = kgo.NewOffset().AtStart()
	case "latest":
		o.offset = kgo.NewOffset().AtEnd()
	default:
		n, err := strconv.ParseInt(off, 10, 64)
		if err != nil || n < 0 {
			return o, cmdline.Usagef("The provided offset value '%s' is incorrect. Valid values are 'earliest', 'latest', or a non-negative long.", off)
		}
		o.offset = kgo.NewOffset().At(n)
	}
	if o.fromStart && o.partition >= 0 {
		o.offset = kgo.NewOffset().AtStart()
	}
	if v.Has("max-messages") {
		n, err := strconv.ParseInt(v.Get("max-messages", ""), 10, 32)
		if err != nil {
			return o, cmdline.Usagef("Cannot parse argument '%s' of option max-messages", v.Get("max-messages", ""))
		}
		o.maxMessages = max(n, 0)
	}
	if v.Has("timeout-ms") {
		n, err := strconv.ParseInt(v.Get("timeout-ms", ""), 10, 32)
		if err != nil {
			return o, cmdline.Usagef("Cannot parse argument '%s' of option timeout-ms", v.Get("timeout-ms", ""))
		}
		if n >= 0 {
			o.timeout = time.Duration(n) * time.Millisecond
		}
	}
	var err error
	if o.props, err = cmdline.MergeProps(v.Get("consumer.config", ""), v.All("consumer-property")); err != nil {
		return o, err
	}
	if o.format, err = cmdline.MergeProps(v.Get("formatter-config", ""), v.All("property")); err != nil {
		return o, err
	}
	o.group = v.Get("group", o.props["group.id"])
	if v.Has("group") && o.props["group.id"] != "" && o.props["group.id"] != v.Get("group", "") {
		return o, cmdline.Usagef("The group ids provided in different places (directly using '--group', via '--consumer-property', or via '--consumer.config') do not match. Detected group ids: '%s', '%s'", v.Get("group", ""), o.props["group.id"])
	}
	o.userGroup = o.group != ""
	if o.userGroup && o.partition >= 0 {
		return o, cmdline.Usagef("Options group and partition cannot be specified together.")
	}
	if !o.userGroup && o.partition < 0 {
		// As Kafka's tool, a subscription without a group joins a
		// throw-away one, and does not commit offsets.
		o.group = fmt.Sprintf("console-consumer-%d", rand.IntN(100000))
	}
	if il := v.Get("isolation-level", ""); il != "" {
		o.props["isolation.level"] = il
	}
	return o, nil
}

// closeCommitTimeout bounds the offset commit on the way out.
const closeCommitTimeout = 10 * time.Second

// autoCommit is enable.auto.commit: on for a group the user named (Kafka's
// default), off for the throw-away group, unless a property says otherwise.
func (o consumerOptions) autoCommit() bool {
	if v, ok := o.props["enable.auto.commit"]; ok {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		return err == nil && b
	}
	return o.userGroup
}

// clientOpts maps the consumer onto franz-go options.
func (o consumerOptions) clientOpts() ([]kgo.Opt, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(cmdline.SplitList(o.bootstrap)...), kgo.ClientID("console-consumer")}
	reset := kgo.NewOffset().AtEnd()
	if o.fromStart {
		reset = kgo.NewOffset().AtStart()
	}
	for k, v := range o.props {
		switch k {
		case "client.id":
			opts = append(opts, kgo.ClientID(v))
		case "auto.offset.reset":
			switch v {
			case "earliest":
				reset = kgo.NewOffset().AtStart()
			case "latest":
				reset = kgo.NewOffset().AtEnd()
			default:
				return nil, fmt.Errorf("Invalid value %s for configuration auto.offset.reset: String must be one of: latest, earliest, none", v)
			}
		case "enable.auto.commit":
			if _, err := strconv.ParseBool(strings.TrimSpace(v)); err != nil {
				return nil, fmt.Errorf("Invalid value %s for configuration enable.auto.commit: Expected value to be either true or false", v)
			}
		case "isolation.level":
			switch v {
			case "read_committed":
				opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
			case "read_uncommitted":
				opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadUncommitted()))
			default:
				return nil, fmt.Errorf("Invalid value %s for configuration isolation.level: String must be one of: read_committed, read_uncommitted", v)
			}
		}
	}
	if o.partition >= 0 {
		return append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{o.topic: {o.partition: o.offset}})), nil
	}
	opts = append(opts, kgo.ConsumerGroup(o.group), kgo.ConsumeResetOffset(reset))
	if !o.autoCommit() {
		opts = append(opts, kgo.DisableAutoCommit())
	}
	if o.include != "" {
		return append(opts, kgo.ConsumeRegex(), kgo.ConsumeTopics("^(?:"+o.include+")$")), nil
	}
	return append(opts, kgo.ConsumeTopics(o.topic)), nil
}

// RunConsumer is `gokafka console-consumer`: records to stdout, and on
// the way out "Processed a total of N messages" to stderr.
func RunConsumer(args []string, stdout, stderr io.Writer) int {
	return cmdline.Main(ConsumerTool, args, stdout, stderr, func(v cmdline.Values) error {
		o, err := parseConsumer(v)
		if err != nil {
			return err
		}
		f, err := newFormatter(o.format)
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return consume(ctx, o, f, stdout, stderr)
	})
}

// errTimeout is --timeout-ms passing without a record.
var errTimeout = errors.New("org.apache.kafka.common.errors.TimeoutException")

func consume(ctx context.Context, o consumerOptions, f *formatter, stdout, stderr io.Writer) error {
	opts, err := o.clientOpts()
	if err != nil {
		return err
	}
	if err := cmdline.CheckReachable(ctx, cmdline.SplitList(o.bootstrap)); err != nil {
		return err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("create consumer: %w", err)
	}
	w := bufio.NewWriterSize(stdout, 1<<16)
	var n int64
	autoCommit := o.partition < 0 && o.autoCommit()
	defer func() {
		w.Flush()
		// The Java consumer commits what was polled when it closes with
		// auto-commit on; franz-go's Close only leaves the group.
		if autoCommit {
			cctx, cancel := context.WithTimeout(context.Background(), closeCommitTimeout)
			if err := cl.CommitUncommittedOffsets(cctx); err != nil {
				fmt.Fprintf(stderr, "WARN commit of the consumed offsets failed: %v\n", err)
			}
			cancel()
		}
		cl.Close()
		fmt.Fprintf(stderr, "Processed a total of %d messages\n", n)
	}()
	for o.maxMessages == 0 || n < o.maxMessages {
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if o.timeout > 0 {
			pctx, cancel = context.WithTimeout(ctx, o.timeout)
		}
		limit := 0 // everything buffered
		if o.maxMessages > 0 {
			limit = int(o.maxMessages - n)
		}
		fs := cl.PollRecords(pctx, limit)
		timedOut := pctx.Err() != nil && ctx.Err() == nil
		cancel()
		if ctx.Err() != nil {
			return nil // Ctrl-C: the summary, exit 0
		}
		for _, e := range fs.Errors() {
			if errors.Is(e.Err, context.DeadlineExceeded) || errors.Is(e.Err, context.Canceled) {
				continue
			}
			fmt.Fprintf(stderr, "ERROR Error processing message, terminating consumer process: %v\n", e.Err)
			return nil
		}
		recs := fs.Records()
		if len(recs) == 0 && timedOut {
			fmt.Fprintf(stderr, "ERROR Error processing message, terminating consumer process: %v\n", errTimeout)
			return nil
		}
		for _, r := range recs {
			f.write(w, r)
			n++
		}
		if err := w.Flush(); err != nil {
			// The reader went away (| head): stop quietly, as the Java
			// tool does when System.out reports an error.
			return nil
		}
	}
	return nil
}
