package perftest

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestResolveProducerPropsDefaults(t *testing.T) {
	cfg, err := resolveProducerProps(map[string]string{"bootstrap.servers": "a:1, b:2,"})
	if err != nil {
		t.Fatal(err)
	}
	// Kafka 3.9's producer defaults, not franz-go's.
	if got := strings.Join(cfg.seeds, ","); got != "a:1,b:2" {
		t.Errorf("seeds = %q", got)
	}
	if cfg.acks != -1 || !cfg.idempotent || cfg.compression != "none" || cfg.linger != 0 ||
		cfg.batchSize != 16384 || cfg.maxInFlight != 5 || cfg.clientID != "perf-producer-client" ||
		cfg.bufferMemory != 32<<20 || cfg.retries != -1 {
		t.Errorf("defaults = %+v", cfg)
	}
	if len(cfg.warnings) != 0 {
		t.Errorf("warnings = %v", cfg.warnings)
	}
}

func TestResolveProducerProps(t *testing.T) {
	base := func(kv ...string) map[string]string {
		m := map[string]string{"bootstrap.servers": "127.0.0.1:9092"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name    string
		props   map[string]string
		check   func(producerConfig) bool
		wantErr string
	}{
		{name: "acks=1 turns implicit idempotence off", props: base("acks", "1"),
			check: func(c producerConfig) bool { return c.acks == 1 && !c.idempotent }},
		{name: "acks=0", props: base("acks", "0"),
			check: func(c producerConfig) bool { return c.acks == 0 && !c.idempotent }},
		{name: "acks=-1 is all", props: base("acks", "-1"),
			check: func(c producerConfig) bool { return c.acks == -1 && c.idempotent }},
		{name: "in-flight over 5 turns implicit idempotence off", props: base("max.in.flight.requests.per.connection", "10"),
			check: func(c producerConfig) bool { return !c.idempotent && c.maxInFlight == 10 }},
		{name: "explicit idempotence off", props: base("enable.idempotence", "false", "acks", "all"),
			check: func(c producerConfig) bool { return !c.idempotent && c.acks == -1 }},
		{name: "idempotent with fewer in flight warns", props: base("max.in.flight.requests.per.connection", "1"),
			check: func(c producerConfig) bool { return c.idempotent && len(c.warnings) == 1 }},
		{name: "tuning", props: base("linger.ms", "5", "batch.size", "1048576", "compression.type", "zstd", "compression.zstd.level", "3"),
			check: func(c producerConfig) bool {
				return c.linger == 5*time.Millisecond && c.batchSize == 1<<20 && c.compression == "zstd" && c.hasCompressionLevel && c.compressionLevel == 3
			}},
		{name: "level of another codec is ignored", props: base("compression.type", "lz4", "compression.gzip.level", "9"),
			check: func(c producerConfig) bool { return c.compression == "lz4" && !c.hasCompressionLevel }},
		{name: "batch.size 0 becomes the smallest batch", props: base("batch.size", "0"),
			check: func(c producerConfig) bool { return c.batchSize == 512 && len(c.warnings) == 1 }},
		{name: "retries max int is unlimited", props: base("retries", "2147483647"),
			check: func(c producerConfig) bool { return c.retries == -1 }},
		{name: "retries", props: base("retries", "3", "retry.backoff.ms", "50"),
			check: func(c producerConfig) bool { return c.retries == 3 && c.retryBackoff == 50*time.Millisecond }},
		{name: "serializers silently ignored", props: base("key.serializer", "x", "value.serializer", "y"),
			check: func(c producerConfig) bool { return len(c.warnings) == 0 }},
		{name: "unknown property warns", props: base("max.block.ms", "1"),
			check: func(c producerConfig) bool {
				return len(c.warnings) == 1 && strings.Contains(c.warnings[0], "max.block.ms")
			}},
		{name: "explicit idempotence with acks=1", props: base("enable.idempotence", "true", "acks", "1"), wantErr: "acks to all"},
		{name: "explicit idempotence with 6 in flight", props: base("enable.idempotence", "true", "max.in.flight.requests.per.connection", "6"), wantErr: "at most 5"},
		{name: "missing bootstrap", props: map[string]string{"acks": "1"}, wantErr: "bootstrap.servers"},
		{name: "bad acks", props: base("acks", "2"), wantErr: "acks"},
		{name: "bad compression", props: base("compression.type", "brotli"), wantErr: "compression.type"},
		{name: "bad linger", props: base("linger.ms", "-1"), wantErr: "linger.ms"},
		{name: "bad boolean", props: base("enable.idempotence", "maybe"), wantErr: "enable.idempotence"},
		{name: "transactions unsupported", props: base("transactional.id", "t"), wantErr: "transactions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := resolveProducerProps(tt.props)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(cfg) {
				t.Fatalf("unexpected config %+v", cfg)
			}
		})
	}
}

// TestProducerKgoOpts checks that the resolved configuration reaches
// franz-go: a client is built (it connects lazily, so no network is used)
// and its effective options are read back.
func TestProducerKgoOpts(t *testing.T) {
	cfg, err := resolveProducerProps(map[string]string{
		"bootstrap.servers":                     "127.0.0.1:1",
		"acks":                                  "1",
		"linger.ms":                             "7",
		"batch.size":                            "65536",
		"client.id":                             "me",
		"max.in.flight.requests.per.connection": "3",
	})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(cfg.kgoOpts(100)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if got := cl.OptValue(kgo.RequiredAcks); got != kgo.LeaderAck() {
		t.Errorf("acks = %v", got)
	}
	if got := cl.OptValue(kgo.ProducerLinger); got != 7*time.Millisecond {
		t.Errorf("linger = %v", got)
	}
	if got := cl.OptValue(kgo.DisableIdempotentWrite); got != true {
		t.Errorf("idempotence disabled = %v", got)
	}
	if got := cl.OptValue(kgo.MaxProduceRequestsInflightPerBroker); got != 3 {
		t.Errorf("in flight = %v", got)
	}
	if got := cl.OptValue(kgo.ClientID); got != "me" {
		t.Errorf("client id = %v", got)
	}

	// The idempotent default must also be a valid franz-go configuration
	// (franz-go refuses an in-flight limit together with idempotence).
	cfg, err = resolveProducerProps(map[string]string{"bootstrap.servers": "127.0.0.1:1", "compression.type": "gzip", "compression.gzip.level": "1"})
	if err != nil {
		t.Fatal(err)
	}
	cl2, err := kgo.NewClient(cfg.kgoOpts(1024)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl2.Close()
	if got := cl2.OptValue(kgo.DisableIdempotentWrite); got != false {
		t.Errorf("idempotence disabled = %v", got)
	}
}

func TestBufferedRecords(t *testing.T) {
	tests := []struct {
		mem  int64
		size int
		want int
	}{
		{32 << 20, 100, 335544},
		{32 << 20, 1 << 20, 1000},
		{1 << 40, 1, 1 << 20},
		{32 << 20, 0, 1 << 20},
	}
	for _, tt := range tests {
		if got := bufferedRecords(tt.mem, tt.size); got != tt.want {
			t.Errorf("bufferedRecords(%d, %d) = %d, want %d", tt.mem, tt.size, got, tt.want)
		}
	}
}
