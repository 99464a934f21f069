package broker

import (
	"context"
	"errors"
	"maps"
	"path/filepath"
	"slices"

	"github.com/gokafka/gokafka/storage"
	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// handleAlterReplicaLogDirs answers AlterReplicaLogDirs v0-2
// (kafka-log-dirs.sh's sibling kafka-reassign-partitions.sh with log_dirs
// in its JSON, Admin.alterReplicaLogDirs) as Kafka's
// ReplicaManager.alterReplicaLogDirs does: each partition's replica on this
// broker starts moving to the named log dir (log_dir_move.go) and the
// answer comes at once, before the data has moved; DescribeLogDirs shows
// the move as a future replica until it is done. A partition named twice
// takes the last dir named, as Kafka's request map does.
//
// Errors per partition, in Kafka's order of checks: INVALID_TOPIC_EXCEPTION
// when the future dir's name would pass 255 bytes, LOG_DIR_NOT_FOUND for a
// dir not in log.dirs (matched by absolute path), KAFKA_STORAGE_ERROR for
// an offline dir or partition, or for a new move while any log dir is
// offline. A replica this broker does not host yet answers
// REPLICA_NOT_AVAILABLE when the topic partition exists (UNKNOWN_TOPIC_OR_
// PARTITION when not), and the dir is remembered: the replica is created
// there when it arrives (Kafka's preferred log dir). Moving to the dir the
// replica is in already is a success that does nothing; a new target
// replaces a move in progress, whose future log is deleted.
func (s *Server) handleAlterReplicaLogDirs(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.AlterReplicaLogDirsRequest)
	resp := r.ResponseKind().(*kmsg.AlterReplicaLogDirsResponse)
	want := map[topicPartition]string{}
	var order []topicPartition
	for _, d := range r.Dirs {
		for _, t := range d.Topics {
			for _, part := range t.Partitions {
				tp := topicPartition{t.Topic, part}
				if _, ok := want[tp]; !ok {
					order = append(order, tp)
				}
				want[tp] = d.Dir
			}
		}
	}
	byTopic := map[string][]kmsg.AlterReplicaLogDirsResponseTopicPartition{}
	for _, tp := range order {
		rp := kmsg.NewAlterReplicaLogDirsResponseTopicPartition()
		rp.Partition = tp.Partition
		if err := s.alterReplicaLogDir(tp, want[tp]); err != nil {
			rp.ErrorCode = err.Code
			s.logger.Warn("unable to alter log dirs", zap.String("partition", tp.String()),
				zap.String("dir", want[tp]), zap.String("error", err.Message))
		}
		byTopic[tp.Topic] = append(byTopic[tp.Topic], rp)
	}
	for _, n := range slices.Sorted(maps.Keys(byTopic)) {
		t := kmsg.NewAlterReplicaLogDirsResponseTopic()
		t.Topic = n
		t.Partitions = byTopic[n]
		resp.Topics = append(resp.Topics, t)
	}
	return resp, nil
}

// alterReplicaLogDir starts moving tp's replica to the log dir dir, or
// records dir for a replica not hosted yet; nil on success.
func (s *Server) alterReplicaLogDir(tp topicPartition, dir string) *kerr.Error {
	s.replicas.alterMu.Lock() // Kafka's replicaStateChangeLock: one change at a time
	defer s.replicas.alterMu.Unlock()
	if storage.FutureDirNameTooLong(tp.Topic, tp.Partition) {
		return kerr.InvalidTopicException
	}
	logDir, ok := s.dirs.LogDirFor(dir)
	if !ok || !filepath.IsAbs(dir) {
		return kerr.LogDirNotFound
	}
	if s.dirs.IsOffline(logDir) {
		return kerr.KafkaStorageError
	}
	p, hosted := s.replicas.get(tp)
	if hosted && p.isOffline() {
		return kerr.KafkaStorageError
	}
	if hosted && !p.isDeleted() {
		if fd := p.futureDir(); fd != "" && fd != logDir {
			// A new target: the move in progress stops and its
			// future log goes.
			s.replicas.cancelMove(p, true)
		}
	}
	if !hosted || p.isDeleted() {
		s.dirs.SetPreferred(tp.Topic, tp.Partition, logDir)
		if t, ok := s.meta.topic(tp.Topic); ok {
			if _, ok := t.Partitions[tp.Partition]; ok {
				return kerr.ReplicaNotAvailable
			}
		}
		return kerr.UnknownTopicOrPartition
	}
	// A move a StopReplica stopped is dropped: this request says where
	// the replica goes now.
	if err := s.replicas.removeFutures(func(t topicPartition) bool { return t == tp }); err != nil {
		s.logger.Warn("removing a stopped move's future log", zap.String("partition", tp.String()), zap.Error(err))
	}
	if filepath.Dir(p.log.Dir()) == logDir || p.futureDir() == logDir {
		return nil
	}
	if len(s.dirs.OfflinePaths()) > 0 {
		// Kafka creates no future log while a log dir is offline, so
		// that no partition gets a log in two dirs.
		return kerr.KafkaStorageError
	}
	if err := s.replicas.startMove(p, logDir, ""); err != nil {
		s.logger.Error("starting a log dir move", zap.String("partition", tp.String()), zap.Error(err))
		if errors.Is(err, storage.ErrOffline) {
			return kerr.KafkaStorageError
		}
		return kerr.UnknownServerError
	}
	return nil
}
