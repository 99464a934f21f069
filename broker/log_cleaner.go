package broker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gokafka/gokafka/storage"
	"github.com/gokafka/gokafka/wire"
	"go.uber.org/zap"
)

// runCleaner runs the log cleaner (log.cleaner.enable, Kafka's LogCleaner)
// over the hosted partitions until ctx ends. Each pass reads every log's
// current Config, so a cleanup.policy changed by AlterConfigs
// (applyTopicConfig) is picked up at the next pass without a restart, and
// the broker's log.cleaner.* keys changed dynamically reach it through
// reconfigureCleaner.
func (s *Server) runCleaner(ctx context.Context) {
	if !s.cfg.LogCleanerEnable {
		return
	}
	// Under the dynamic configs' lock, so that a change loaded from now
	// on finds the cleaner (loadDynamicBrokerConfigs holds it too).
	s.dyn.mu.Lock()
	cfg, err := cleanerConfigFrom(&s.cfg, s.dyn.cluster, s.dyn.perBroker)
	if err != nil {
		s.logger.Warn("invalid dynamic log cleaner config in zookeeper; using server.properties", zap.Error(err))
		cfg, _ = cleanerConfigFrom(&s.cfg, nil, nil)
	}
	cfg.Codec = wire.Codecs{}
	cfg.Logger = s.logger.Named("cleaner")
	c := storage.NewCleaner(cfg, s.cleanerLogs)
	s.cleaner.Store(c)
	s.dyn.mu.Unlock()
	c.Start()
	<-ctx.Done()
	s.cleaner.Store(nil)
	c.Stop()
}

// cleanerLogs lists the hosted partitions for a cleaner pass; each is
// cleaned only below its high watermark, so a leader never compacts what
// its followers have not fetched yet, and a follower never what it may
// still truncate.
func (s *Server) cleanerLogs() []storage.CleanerLog {
	ps := s.replicas.all()
	out := make([]storage.CleanerLog, 0, len(ps))
	for _, p := range ps {
		out = append(out, storage.CleanerLog{
			Topic:         p.tp.Topic,
			Partition:     p.tp.Partition,
			Log:           p.log,
			HighWatermark: p.HighWatermark,
		})
	}
	return out
}

// cleanerKeys are Kafka 3.9's LogCleaner.ReconfigurableConfigs except
// message.max.bytes (which sizes Kafka's read buffers; gokafka's cleaner
// reads batch by batch). log.cleaner.io.buffer.size is accepted, validated
// and described but has no effect, for the same reason.
var cleanerKeys = []string{
	"log.cleaner.threads",
	"log.cleaner.dedupe.buffer.size",
	"log.cleaner.io.buffer.load.factor",
	"log.cleaner.io.buffer.size",
	"log.cleaner.io.max.bytes.per.second",
	"log.cleaner.backoff.ms",
}

// cleanerConfigFrom resolves the cleaner's settings: this broker's dynamic
// value, else the cluster default's, else server.properties (static), as
// DynamicBrokerConfig layers them. It checks Kafka's KafkaConfig rule that
// every thread gets at least 1 MiB of dedupe buffer.
func cleanerConfigFrom(static *Config, cluster, perBroker map[string]string) (storage.CleanerConfig, error) {
	cfg := storage.CleanerConfig{
		Threads:             static.LogCleanerThreads,
		Backoff:             static.LogCleanerBackoff,
		DedupeBufferSize:    static.LogCleanerDedupeBufferSize,
		DedupeLoadFactor:    0.9,
		IOMaxBytesPerSecond: static.LogCleanerIOMaxBytesPerSecond,
	}
	if v, ok := static.Raw["log.cleaner.io.buffer.load.factor"]; ok {
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			cfg.DedupeLoadFactor = f
		}
	}
	// Only a dynamic thread count or buffer size is held to the 1 MiB
	// rule: gokafka starts with a smaller static buffer (tests use one).
	sized := false
	for _, k := range cleanerKeys {
		v, ok := perBroker[k]
		if !ok {
			v, ok = cluster[k]
		}
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if err := checkBrokerValue(k, v); err != nil {
			return cfg, err
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		f, _ := strconv.ParseFloat(v, 64)
		switch k {
		case "log.cleaner.threads":
			cfg.Threads = int(n)
		case "log.cleaner.dedupe.buffer.size":
			cfg.DedupeBufferSize = n
		case "log.cleaner.io.buffer.load.factor":
			cfg.DedupeLoadFactor = f
		case "log.cleaner.io.max.bytes.per.second":
			cfg.IOMaxBytesPerSecond = f
		case "log.cleaner.backoff.ms":
			cfg.Backoff = time.Duration(min(n, math.MaxInt64/int64(time.Millisecond))) * time.Millisecond
		}
		sized = sized || k == "log.cleaner.threads" || k == "log.cleaner.dedupe.buffer.size"
	}
	if sized && cfg.Threads > 0 && cfg.DedupeBufferSize/int64(cfg.Threads) <= 1<<20 {
		return cfg, errors.New("requirement failed: log.cleaner.dedupe.buffer.size must be at least 1MB per cleaner thread.")
	}
	return cfg, nil
}

// validateCleanerChange is LogCleaner.validateReconfiguration: with the
// dynamic layers as they would be, the cleaner keeps at least one thread
// and at most doubles or halves the threads it runs now. A broker whose
// cleaner is off (log.cleaner.enable=false) checks only the values, as
// Kafka registers no cleaner to validate then.
func (s *Server) validateCleanerChange(cluster, perBroker map[string]string) error {
	cfg, err := cleanerConfigFrom(&s.cfg, cluster, perBroker)
	if err != nil {
		return err
	}
	c := s.cleaner.Load()
	if c == nil {
		return nil
	}
	cur := c.Config().Threads
	switch {
	case cfg.Threads < 1:
		return errors.New("Log cleaner threads should be at least 1")
	case cfg.Threads < cur/2:
		return fmt.Errorf("Log cleaner threads cannot be reduced to less than half the current value %d", cur)
	case cfg.Threads > cur*2:
		return fmt.Errorf("Log cleaner threads cannot be increased to more than double the current value %d", cur)
	}
	return nil
}

// reconfigureCleaner applies the dynamic log.cleaner.* keys to the running
// cleaner (LogCleaner.reconfigure); values that no longer validate (written
// to ZooKeeper by hand) are logged and the cleaner keeps its settings, as
// Kafka's DynamicBrokerConfig does.
func (s *Server) reconfigureCleaner(cluster, perBroker map[string]string) {
	c := s.cleaner.Load()
	if c == nil {
		return
	}
	if err := s.validateCleanerChange(cluster, perBroker); err != nil {
		s.logger.Warn("invalid dynamic log cleaner config; keeping the current one", zap.Error(err))
		return
	}
	cfg, _ := cleanerConfigFrom(&s.cfg, cluster, perBroker)
	if old := c.Config(); old.Threads == cfg.Threads && old.Backoff == cfg.Backoff && old.DedupeBufferSize == cfg.DedupeBufferSize &&
		old.DedupeLoadFactor == cfg.DedupeLoadFactor && old.IOMaxBytesPerSecond == cfg.IOMaxBytesPerSecond {
		return
	}
	s.logger.Info("reconfiguring the log cleaner", zap.Int("threads", cfg.Threads), zap.Duration("backoff", cfg.Backoff),
		zap.Int64("dedupe_buffer_size", cfg.DedupeBufferSize), zap.Float64("io_max_bytes_per_second", cfg.IOMaxBytesPerSecond))
	c.Reconfigure(cfg)
}

// moveCleanerCheckpoint carries a moved partition's cleaner checkpoint to
// its new log dir (replicaManager.afterMove), when the cleaner runs, as
// Kafka's replaceCurrentWithFutureLog has the cleaner alter its
// checkpoint dir.
func (s *Server) moveCleanerCheckpoint(tp topicPartition, from, to string) {
	c := s.cleaner.Load()
	if c == nil {
		return
	}
	if err := c.MoveCheckpoint(tp.Topic, tp.Partition, from, to); err != nil {
		s.logger.Error("moving the cleaner checkpoint after a log dir move", zap.String("partition", tp.String()), zap.Error(err))
	}
}
