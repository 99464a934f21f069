package perftest

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gokafka/gokafka/tools/cmdline"
)

// Kafka's producer defaults (Apache Kafka 3.9), used when a property is not
// given so that a run without properties behaves like the Java tool's, not
// like franz-go's defaults (which differ: snappy compression, 10ms linger,
// ~1 MB batches, one request in flight without idempotence).
const (
	defaultProducerClientID = "perf-producer-client"
	defaultBatchSize        = 16384
	defaultBufferMemory     = 32 << 20
	defaultMaxInFlight      = 5
	defaultRequestTimeout   = 30 * time.Second
	defaultDeliveryTimeout  = 120 * time.Second
	// idempotentMaxInFlight is Kafka's bound on in-flight requests for an
	// idempotent producer (and what franz-go always uses when idempotent).
	idempotentMaxInFlight = 5
	// minBatchSize and maxBatchSize are the bounds franz-go accepts for a
	// record batch.
	minBatchSize = 512
	maxBatchSize = 1 << 30
)

// ignoredProducerProps are Java-client properties that have no meaning for
// a Go client and are silently accepted, because people paste them from
// their producer.properties.
var ignoredProducerProps = map[string]bool{
	"key.serializer":   true,
	"value.serializer": true,
}

// producerConfig is the resolved form of the Kafka producer properties the
// tool understands. Every field holds Kafka's default when the property was
// not given.
type producerConfig struct {
	seeds       []string
	clientID    string
	acks        int16 // -1 (all), 0 or 1
	idempotent  bool
	maxInFlight int
	linger      time.Duration
	batchSize   int32
	compression string // none, gzip, snappy, lz4 or zstd
	// compressionLevel is the codec's level from compression.<codec>.level;
	// hasCompressionLevel says whether one was given.
	compressionLevel    int
	hasCompressionLevel bool
	bufferMemory        int64
	requestTimeout      time.Duration
	deliveryTimeout     time.Duration
	// retries is the record retry limit; -1 means unlimited, Kafka's
	// default of Integer.MAX_VALUE.
	retries      int
	retryBackoff time.Duration // 0: franz-go's default backoff
	// warnings lists properties accepted but not applied.
	warnings []string
}

// resolveProducerProps turns Kafka producer properties into a
// producerConfig, enforcing Kafka's rules where it would refuse to start:
// idempotence explicitly enabled with acks other than all, or with more than
// five requests in flight. As in Kafka 3.x, idempotence is on by default and
// is quietly turned off when it was not asked for and acks or
// max.in.flight.requests.per.connection conflict with it.
func resolveProducerProps(props map[string]string) (producerConfig, error) {
	cfg := producerConfig{
		clientID:        defaultProducerClientID,
		acks:            -1,
		maxInFlight:     defaultMaxInFlight,
		batchSize:       defaultBatchSize,
		compression:     "none",
		bufferMemory:    defaultBufferMemory,
		requestTimeout:  defaultRequestTimeout,
		deliveryTimeout: defaultDeliveryTimeout,
		retries:         -1,
	}
	idempotenceSet := false
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := strings.TrimSpace(props[k])
		var err error
		switch k {
		case "bootstrap.servers":
			cfg.seeds = cmdline.SplitList(v)
		case "client.id":
			cfg.clientID = v
		case "acks":
			cfg.acks, err = parseAcks(v)
		case "enable.idempotence":
			idempotenceSet = true
			cfg.idempotent, err = strconv.ParseBool(v)
		case "max.in.flight.requests.per.connection":
			cfg.maxInFlight, err = parseIntIn(v, 1, math.MaxInt32)
		case "linger.ms":
			cfg.linger, err = parseMillis(v, 0, int64(time.Minute/time.Millisecond))
		case "batch.size":
			var n int
			n, err = parseIntIn(v, 0, maxBatchSize)
			if err == nil && n < minBatchSize {
				// Kafka's batch.size=0 disables batching; franz-go has no
				// such mode, so the smallest batch it allows stands in.
				cfg.warnings = append(cfg.warnings, fmt.Sprintf("batch.size=%d is below the smallest batch franz-go builds; using %d", n, minBatchSize))
				n = minBatchSize
			}
			cfg.batchSize = int32(n)
		case "compression.type":
			cfg.compression, err = parseCompression(v)
		case "compression.gzip.level", "compression.lz4.level", "compression.zstd.level":
			// Only the level of the codec in use matters; checked below.
			cfg.compressionLevel, err = parseIntIn(v, -131072, 22)
			cfg.hasCompressionLevel = err == nil
		case "buffer.memory":
			var n int
			n, err = parseIntIn(v, 0, math.MaxInt)
			cfg.bufferMemory = int64(n)
		case "request.timeout.ms":
			cfg.requestTimeout, err = parseMillis(v, 100, math.MaxInt32)
		case "delivery.timeout.ms":
			cfg.deliveryTimeout, err = parseMillis(v, 1000, math.MaxInt32)
		case "retries":
			var n int
			n, err = parseIntIn(v, 0, math.MaxInt32)
			cfg.retries = n
			if n == math.MaxInt32 {
				cfg.retries = -1
			}
		case "retry.backoff.ms":
			cfg.retryBackoff, err = parseMillis(v, 0, math.MaxInt32)
		case "transactional.id":
			err = fmt.Errorf("transactions are not supported by this tool yet")
		default:
			if !ignoredProducerProps[k] {
				cfg.warnings = append(cfg.warnings, fmt.Sprintf("the configuration '%s' was supplied but is not used by this tool", k))
			}
		}
		if err != nil {
			return producerConfig{}, fmt.Errorf("invalid value %q for configuration %s: %w", v, k, err)
		}
	}
	if len(cfg.seeds) == 0 {
		return producerConfig{}, fmt.Errorf("missing required configuration bootstrap.servers")
	}
	if idempotenceSet {
		if cfg.idempotent && cfg.acks != -1 {
			return producerConfig{}, fmt.Errorf("must set acks to all in order to use the idempotent producer")
		}
		if cfg.idempotent && cfg.maxInFlight > idempotentMaxInFlight {
			return producerConfig{}, fmt.Errorf("must set max.in.flight.requests.per.connection to at most %d to use the idempotent producer", idempotentMaxInFlight)
		}
	} else {
		cfg.idempotent = cfg.acks == -1 && cfg.maxInFlight <= idempotentMaxInFlight
	}
	if cfg.idempotent && cfg.maxInFlight != idempotentMaxInFlight {
		cfg.warnings = append(cfg.warnings, fmt.Sprintf("max.in.flight.requests.per.connection=%d: franz-go keeps up to %d requests in flight when idempotent", cfg.maxInFlight, idempotentMaxInFlight))
	}
	if cfg.hasCompressionLevel {
		if _, ok := props["compression."+cfg.compression+".level"]; !ok {
			cfg.hasCompressionLevel = false
		}
	}
	return cfg, nil
}

// kgoOpts returns the franz-go options that implement the configuration.
// recordSize sizes the buffered-record limit so that buffer.memory, not
// franz-go's record count, is what bounds buffering, as in the Java client.
func (c producerConfig) kgoOpts(recordSize int) []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.seeds...),
		kgo.ClientID(c.clientID),
		kgo.RequiredAcks(ackOf(c.acks)),
		kgo.ProducerLinger(c.linger),
		kgo.ProducerBatchMaxBytes(c.batchSize),
		kgo.ProducerBatchCompression(codecOf(c.compression, c.compressionLevel, c.hasCompressionLevel)),
		kgo.ProduceRequestTimeout(c.requestTimeout),
		kgo.RecordDeliveryTimeout(c.deliveryTimeout),
		kgo.MaxBufferedRecords(bufferedRecords(c.bufferMemory, recordSize)),
		// The Java producer lets brokers auto-create the topics it
		// produces to (allow.auto.create.topics, default true).
		kgo.AllowAutoTopicCreation(),
	}
	if c.bufferMemory > 0 {
		opts = append(opts, kgo.MaxBufferedBytes(int(c.bufferMemory)))
	}
	if !c.idempotent {
		opts = append(opts, kgo.DisableIdempotentWrite(), kgo.MaxProduceRequestsInflightPerBroker(c.maxInFlight))
	}
	if c.retries >= 0 {
		opts = append(opts, kgo.RecordRetries(c.retries))
	}
	if c.retryBackoff > 0 {
		backoff := c.retryBackoff
		opts = append(opts, kgo.RetryBackoffFn(func(int) time.Duration { return backoff }))
	}
	return opts
}

// bufferedRecords is the record-count bound on the producer buffer: as many
// records as buffer.memory holds, within limits that keep franz-go's
// per-record bookkeeping bounded.
func bufferedRecords(bufferMemory int64, recordSize int) int {
	const lo, hi = 1000, 1 << 20
	if recordSize <= 0 {
		recordSize = 1
	}
	n := bufferMemory / int64(recordSize)
	switch {
	case n < lo:
		return lo
	case n > hi:
		return hi
	}
	return int(n)
}

// ackOf converts Kafka's acks value to franz-go's.
func ackOf(acks int16) kgo.Acks {
	switch acks {
	case 0:
		return kgo.NoAck()
	case 1:
		return kgo.LeaderAck()
	}
	return kgo.AllISRAcks()
}

// codecOf converts a compression.type name to a franz-go codec.
func codecOf(name string, level int, hasLevel bool) kgo.CompressionCodec {
	var c kgo.CompressionCodec
	switch name {
	case "gzip":
		c = kgo.GzipCompression()
	case "snappy":
		c = kgo.SnappyCompression()
	case "lz4":
		c = kgo.Lz4Compression()
	case "zstd":
		c = kgo.ZstdCompression()
	default:
		return kgo.NoCompression()
	}
	if hasLevel {
		c = c.WithLevel(level)
	}
	return c
}

// parseAcks accepts Kafka's acks values: all, -1, 0 and 1.
func parseAcks(v string) (int16, error) {
	switch v {
	case "all", "-1":
		return -1, nil
	case "0":
		return 0, nil
	case "1":
		return 1, nil
	}
	return 0, fmt.Errorf("want all, -1, 0 or 1")
}

// parseCompression accepts Kafka's compression.type values for producers.
func parseCompression(v string) (string, error) {
	switch v {
	case "none", "gzip", "snappy", "lz4", "zstd":
		return v, nil
	}
	return "", fmt.Errorf("want none, gzip, snappy, lz4 or zstd")
}

// parseIntIn parses a decimal integer within [lo, hi].
func parseIntIn(v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("not an integer")
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("out of range [%d, %d]", lo, hi)
	}
	return n, nil
}

// parseMillis parses a millisecond count within [lo, hi] into a duration.
func parseMillis(v string, lo, hi int64) (time.Duration, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("not an integer")
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("out of range [%d, %d] ms", lo, hi)
	}
	return time.Duration(n) * time.Millisecond, nil
}

// ProducerClientOpts resolves Kafka producer properties (Kafka's defaults
// for what is not given, its refusals for contradictions) into franz-go
// options, for tools other than the perf test that produce (the console
// producer). recordSize sizes the buffered-record limit; the warnings name
// properties accepted but not applied.
func ProducerClientOpts(props map[string]string, recordSize int) ([]kgo.Opt, []string, error) {
	cfg, err := resolveProducerProps(props)
	if err != nil {
		return nil, nil, err
	}
	return cfg.kgoOpts(recordSize), cfg.warnings, nil
}
