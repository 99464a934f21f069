package broker

import (
	"context"
	"maps"
	"slices"

	"go.uber.org/zap"
)

// unlistedPartitionDirsMessage is the start-up warning for the partition
// directories of a topic ZooKeeper does not list.
const unlistedPartitionDirsMessage = "partition directories of a topic ZooKeeper does not list: kept on disk, not served"

// warnUnlistedPartitionDirs logs, once at start-up, the partition
// directories whose topic is not under /brokers/topics.
//
// Kafka deletes a topic's logs only through a topic deletion
// (/admin/delete_topics, then StopReplica with delete). A topic whose znodes
// went another way (`zkCli deleteall /brokers/topics/x`, a restored
// ZooKeeper, another chroot) leaves its logs alone: in ZooKeeper mode Kafka
// 3.9 loads every partition directory at start-up and serves only the
// partitions the controller assigns (the "stray" log handling of
// LogManager is for a KRaft controller's full LeaderAndIsr only). gokafka
// opens a log only when the controller assigns its partition, so such
// directories are never opened, served or deleted; this warning tells the
// operator where that data is.
//
// The directories are listed before the topics are read, so a topic
// created in between is never reported. A failure to list either is
// logged and start-up goes on: the warning is advice, nothing depends on it.
func (s *Server) warnUnlistedPartitionDirs(ctx context.Context) {
	dirs, err := s.dirs.Partitions()
	if err != nil {
		s.logger.Warn("could not list partition directories to compare with ZooKeeper's topics", zap.Error(err))
		return
	}
	if len(dirs) == 0 {
		return
	}
	topics, err := s.zk.Topics(ctx)
	if err != nil {
		s.logger.Warn("could not read ZooKeeper's topics to compare with the partition directories", zap.Error(err))
		return
	}
	listed := make(map[string]bool, len(topics))
	for _, t := range topics {
		listed[t] = true
	}
	unlisted := make(map[string][]string)
	for _, d := range dirs {
		if !listed[d.Topic] {
			unlisted[d.Topic] = append(unlisted[d.Topic], d.Path)
		}
	}
	for _, topic := range slices.Sorted(maps.Keys(unlisted)) {
		paths := unlisted[topic]
		slices.Sort(paths)
		s.logger.Warn(unlistedPartitionDirsMessage, zap.String("topic", topic), zap.Strings("dirs", paths))
	}
}
