package broker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gokafka/gokafka/internal/backoff"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// Log-dir failures, as Kafka's ReplicaManager.handleLogDirFailure.
//
// A failed write, fsync or checkpoint in a log dir reaches storage.Dirs.Fail
// (each log's OpenOptions.OnOffline is wired to it in replicaManager.open),
// which marks the dir offline, logs an ERROR naming it and queues it on
// Dirs.Failed. handleLogDirFailures drains that queue: every partition of
// the dir goes offline (its log taken offline and closed without writing
// anything more; requests for it answer KAFKA_STORAGE_ERROR), its follower
// fetcher stops, and a /log_dir_event_notification/log_dir_event_<seq>
// znode tells the controller. The broker goes on serving its other log
// dirs; when none is left it stops, as Kafka halts.
//
// The controller then sends this broker a LeaderAndIsr for all its
// partitions; those in the failed dir answer KAFKA_STORAGE_ERROR
// (Partition.goneError), and the controller moves their leadership
// elsewhere (controller/log_dir_events.go).

// errAllLogDirsOffline is what Run returns when the last log dir failed.
var errAllLogDirsOffline = errors.New("all log dirs are offline")

// handleLogDirFailures takes each failed log dir's partitions offline until
// ctx ends; fatal is called once no log dir is left online.
func (s *Server) handleLogDirFailures(ctx context.Context, fatal func(error)) {
	for {
		select {
		case <-ctx.Done():
			return
		case dir := <-s.dirs.Failed():
			tps := s.replicas.takeDirOffline(dir)
			for _, tp := range tps {
				s.fetchers.remove(tp)
			}
			s.logger.Error(fmt.Sprintf("stopped serving replicas in dir %s", dir),
				zap.String("log_dir", dir), zap.Int("partitions", len(tps)), zap.Stringers("offline", tps))
			// With no dir left the broker stops at once, without
			// waiting for ZooKeeper to take the notification (its
			// session's end tells the controller instead).
			if len(s.dirs.OnlinePaths()) == 0 {
				s.logger.Error("shutting down the broker: all log dirs are offline", zap.Strings("log_dirs", s.dirs.OfflinePaths()))
				fatal(fmt.Errorf("%w: %v", errAllLogDirsOffline, s.dirs.OfflinePaths()))
				return
			}
			s.notifyLogDirEvent(ctx)
		}
	}
}

// notifyLogDirEvent writes Kafka's log-dir event notification for this
// broker, retrying (bounded by ctx) while ZooKeeper is unreachable.
func (s *Server) notifyLogDirEvent(ctx context.Context) {
	bo := backoff.Exponential{Initial: 100 * time.Millisecond, Max: 5 * time.Second}
	for {
		err := s.zk.NotifyLogDirFailure(ctx, s.cfg.BrokerID)
		if err == nil {
			return
		}
		s.logger.Warn("writing the log dir event notification", zap.Error(err))
		if bo.Wait(ctx) != nil {
			return
		}
	}
}

// takeDirOffline takes every hosted partition whose log lies in the log dir
// dir offline and returns them. They stay in the map, so that requests for
// them answer KAFKA_STORAGE_ERROR instead of NOT_LEADER_OR_FOLLOWER.
func (rm *replicaManager) takeDirOffline(dir string) []topicPartition {
	cause := fmt.Errorf("log dir %s is offline", dir)
	var tps []topicPartition
	for _, p := range rm.all() {
		here := rm.dirs.LogDirOf(p.log.Dir()) == dir
		if fd := p.futureDir(); fd != "" && (fd == dir || here) {
			// A move from or to the failed dir stops; its future log
			// stays on disk, as Kafka leaves it, for the next start.
			rm.cancelMove(p, false)
		}
		if !here {
			continue
		}
		if err := p.takeOffline(cause); err != nil {
			rm.logger.Debug("closing an offline log", zap.String("partition", p.tp.String()), zap.Error(err))
		}
		tps = append(tps, p.tp)
	}
	slices.SortFunc(tps, func(a, b topicPartition) int {
		return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	return tps
}

// takeOffline takes the partition offline because its log dir failed: the
// log writes nothing more and is closed, waiting fetches wake up, and every
// request answers KAFKA_STORAGE_ERROR (goneError).
func (p *Partition) takeOffline(cause error) error {
	// Flagged first: a request between here and the close meets an
	// offline log, which answers the same.
	p.offline.Store(true)
	p.log.TakeOffline(cause)
	return p.closeLog(nil) // only closes: an offline log writes nothing
}

// markOfflineReplica adds this broker to the offline replicas of a
// partition whose log dir failed here, and answers KAFKA_STORAGE_ERROR for
// it while this broker is still its leader: in the moment before the
// controller has moved the leadership, the broker says what it knows.
func (s *Server) markOfflineReplica(topic string, mp *kmsg.MetadataResponseTopicPartition) {
	if s.replicas == nil {
		return
	}
	p, ok := s.replicas.get(topicPartition{topic, mp.Partition})
	if !ok || !p.isOffline() {
		return
	}
	self := s.cfg.BrokerID
	if !slices.Contains(mp.OfflineReplicas, self) {
		mp.OfflineReplicas = append(mp.OfflineReplicas, self)
	}
	if mp.Leader == self {
		mp.ErrorCode = kerr.KafkaStorageError.Code
	}
}
