package broker

import (
	"context"

	"github.com/gokafka/gokafka/storage"
	"github.com/gokafka/gokafka/wire"
)

// runCleaner runs the log cleaner (log.cleaner.enable, Kafka's LogCleaner)
// over the hosted partitions until ctx ends. Each pass reads every log's
// current Config, so a cleanup.policy changed by AlterConfigs
// (applyTopicConfig) is picked up at the next pass without a restart.
func (s *Server) runCleaner(ctx context.Context) {
	if !s.cfg.LogCleanerEnable {
		return
	}
	c := storage.NewCleaner(storage.CleanerConfig{
		Threads:             s.cfg.LogCleanerThreads,
		Backoff:             s.cfg.LogCleanerBackoff,
		DedupeBufferSize:    s.cfg.LogCleanerDedupeBufferSize,
		IOMaxBytesPerSecond: s.cfg.LogCleanerIOMaxBytesPerSecond,
		Codec:               wire.Codecs{},
		Logger:              s.logger.Named("cleaner"),
	}, s.cleanerLogs)
	c.Start()
	<-ctx.Done()
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
