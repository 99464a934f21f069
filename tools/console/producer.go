package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gokafka/gokafka/perftest"
	"github.com/gokafka/gokafka/tools/cmdline"
)

// ProducerTool is kafka-console-producer.sh's option set (Kafka 3.9).
var ProducerTool = &cmdline.Tool{
	Name:        "console-producer",
	Description: "This tool helps to read data from standard input and publish it to Kafka.",
	Options: []cmdline.Option{
		{Name: "bootstrap-server", Kind: cmdline.Value, Arg: "String: server to connect to", Help: "REQUIRED unless --broker-list(deprecated) is specified. The server(s) to connect to. The broker list string in the form HOST1:PORT1,HOST2:PORT2."},
		{Name: "broker-list", Kind: cmdline.Value, Arg: "String: broker-list", Help: "DEPRECATED, use --bootstrap-server instead; ignored if --bootstrap-server is specified."},
		{Name: "topic", Kind: cmdline.Value, Arg: "String: topic", Help: "REQUIRED: The topic id to produce messages to."},
		{Name: "sync", Kind: cmdline.Switch, Help: "If set message send requests to the brokers are synchronously, one at a time as they arrive."},
		{Name: "compression-codec", Kind: cmdline.OptionalValue, Arg: "String: compression-codec", Help: "The compression codec: either 'none', 'gzip', 'snappy', 'lz4', or 'zstd'. If specified without value, then it defaults to 'gzip'"},
		{Name: "batch-size", Kind: cmdline.Value, Arg: "Integer: size", Help: "Number of messages to send in a single batch if they are not being sent synchronously.", Default: "16384"},
		{Name: "timeout", Kind: cmdline.Value, Arg: "Long: timeout_ms", Help: "If set and the producer is running in asynchronous mode, this gives the maximum amount of time a message will queue awaiting sufficient batch size. The value is given in ms. This is the option to control `linger.ms` in producer configs.", Default: "1000"},
		{Name: "request-required-acks", Kind: cmdline.Value, Arg: "String: request required acks", Help: "The required `acks` of the producer requests", Default: "-1"},
		{Name: "request-timeout-ms", Kind: cmdline.Value, Arg: "Integer: request timeout ms", Help: "The ack timeout of the producer requests. Value must be non-negative and non-zero.", Default: "1500"},
		{Name: "message-send-max-retries", Kind: cmdline.Value, Arg: "Integer", Help: "Brokers can fail receiving the message for multiple reasons, and being unavailable transiently is just one of them. This property specifies the number of retries before the producer give up and drop this message.", Default: "3"},
		{Name: "retry-backoff-ms", Kind: cmdline.Value, Arg: "Long", Help: "Before each retry, the producer refreshes the metadata of relevant topics.", Default: "100"},
		{Name: "max-memory-bytes", Kind: cmdline.Value, Arg: "Long: total memory in bytes", Help: "The total memory used by the producer to buffer records waiting to be sent to the server.", Default: "33554432"},
		{Name: "property", Kind: cmdline.Value, Arg: "String: prop", Help: "A mechanism to pass user-defined properties in the form key=value to the message reader:\nparse.key, key.separator, parse.headers, headers.delimiter, headers.separator,\nheaders.key.separator, null.marker, ignore.error."},
		{Name: "reader-config", Kind: cmdline.Value, Arg: "String: config file", Help: "Config properties file for the message reader. Note that [property] takes precedence over this config."},
		{Name: "producer-property", Kind: cmdline.Value, Arg: "String: producer_prop", Help: "A mechanism to pass user-defined properties in the form key=value to the producer."},
		{Name: "producer.config", Kind: cmdline.Value, Arg: "String: config file", Help: "Producer config properties file. Note that [producer-property] takes precedence over this config."},
	},
}

// producerDefaults are the tool's option defaults, applied as Kafka's
// ConsoleProducer does (CommandLineUtils.maybeMergeOptions): an option
// given on the command line wins; otherwise a property from
// --producer.config or --producer-property wins; otherwise the default.
var producerDefaults = []struct{ option, property, def string }{
	{"request-required-acks", "acks", "-1"},
	{"request-timeout-ms", "request.timeout.ms", "1500"},
	{"message-send-max-retries", "retries", "3"},
	{"retry-backoff-ms", "retry.backoff.ms", "100"},
	{"timeout", "linger.ms", "1000"},
	{"batch-size", "batch.size", "16384"},
	{"max-memory-bytes", "buffer.memory", "33554432"},
}

// producerProps merges --producer.config, --producer-property and the
// options into Kafka producer properties.
func producerProps(v cmdline.Values) (map[string]string, error) {
	props, err := cmdline.MergeProps(v.Get("producer.config", ""), v.All("producer-property"))
	if err != nil {
		return nil, err
	}
	bs := v.Get("bootstrap-server", v.Get("broker-list", ""))
	props["bootstrap.servers"] = bs
	for _, d := range producerDefaults {
		if _, set := props[d.property]; v.Has(d.option) || !set {
			props[d.property] = v.Get(d.option, d.def)
		}
	}
	if v.Has("compression-codec") {
		codec := v.Get("compression-codec", "gzip")
		if codec == "" {
			codec = "gzip"
		}
		props["compression.type"] = codec
	} else if _, set := props["compression.type"]; !set {
		props["compression.type"] = "none"
	}
	if _, set := props["client.id"]; !set {
		props["client.id"] = "console-producer"
	}
	return props, nil
}

// RunProducer is `gokafka console-producer`. It exits 0 only when every
// line read was acknowledged; each failed send is reported on stderr, as
// Kafka's ErrorLoggingCallback reports it.
func RunProducer(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return cmdline.Main(ProducerTool, args, stdout, stderr, func(v cmdline.Values) error {
		if !v.Has("bootstrap-server") && !v.Has("broker-list") {
			return cmdline.Usagef("Missing required argument \"[bootstrap-server]\"")
		}
		if err := cmdline.CheckRequired(v, "topic"); err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return produce(ctx, v, stdin, stderr)
	})
}

func produce(ctx context.Context, v cmdline.Values, stdin io.Reader, stderr io.Writer) error {
	props, err := producerProps(v)
	if err != nil {
		return err
	}
	rprops, err := cmdline.MergeProps(v.Get("reader-config", ""), v.All("property"))
	if err != nil {
		return err
	}
	topic := v.Get("topic", "")
	lr, err := newLineReader(stdin, topic, rprops)
	if err != nil {
		return err
	}
	opts, warnings, err := perftest.ProducerClientOpts(props, 0)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Fprintln(stderr, "WARN "+w)
	}
	if err := cmdline.CheckReachable(ctx, cmdline.SplitList(props["bootstrap.servers"])); err != nil {
		return err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("create producer: %w", err)
	}
	defer cl.Close()

	var (
		failed atomic.Int64
		wg     sync.WaitGroup
		errMu  sync.Mutex
	)
	report := func(r *kgo.Record, err error) {
		failed.Add(1)
		errMu.Lock()
		defer errMu.Unlock()
		key := "null"
		if r.Key != nil {
			key = fmt.Sprintf("%d bytes", len(r.Key))
		}
		fmt.Fprintf(stderr, "ERROR Error when sending message to topic %s with key: %s, value: %d bytes with error: %v\n", r.Topic, key, len(r.Value), err)
	}
	sync := v.Has("sync")
	for ctx.Err() == nil {
		rec, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			cl.Flush(context.Background())
			return err
		}
		if sync {
			if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
				report(rec, err)
			}
			continue
		}
		wg.Add(1)
		cl.Produce(ctx, rec, func(r *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				report(r, err)
			}
		})
	}
	// Flush waits for every buffered record; a Ctrl-C still delivers what
	// was read, as the Java producer's close does.
	if err := cl.Flush(context.Background()); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		return fmt.Errorf("%d records were not acknowledged", n)
	}
	return nil
}
