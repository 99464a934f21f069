package broker

import (
	"context"
	"path/filepath"
	"sort"

	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleDescribeLogDirs answers DescribeLogDirs v0-4
// (kafka-log-dirs.sh --describe, Admin.describeLogDirs) as Kafka's
// ReplicaManager.describeLogDirs does: every log dir, by absolute path,
// with the hosted partitions in it that the request asks for (null topics:
// all), each with its size in bytes and its offset lag, max(high watermark
// - log end offset, 0), which is 0 for a replica that has what it knows to
// be committed. A replica moving to another log dir (AlterReplicaLogDirs)
// is also listed in the target dir with is_future set, its size that of
// the future log and its lag the offsets the future log still lacks (the
// current log end offset minus its own), as Kafka's getLogEndOffsetLag.
// An offline dir answers KAFKA_STORAGE_ERROR with no topics. v4 adds the
// volume's total and usable bytes (statfs; -1 when unknown).
func (s *Server) handleDescribeLogDirs(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.DescribeLogDirsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	var want map[string]map[int32]bool
	if r.Topics != nil {
		want = make(map[string]map[int32]bool, len(r.Topics))
		for _, t := range r.Topics {
			m := want[t.Topic]
			if m == nil {
				m = map[int32]bool{}
				want[t.Topic] = m
			}
			for _, p := range t.Partitions {
				m[p] = true
			}
		}
	}
	// Partitions by the log dir that holds them.
	byDir := map[string]map[string][]kmsg.DescribeLogDirsResponseDirTopicPartition{}
	add := func(dir, topic string, rp kmsg.DescribeLogDirsResponseDirTopicPartition) {
		if byDir[dir] == nil {
			byDir[dir] = map[string][]kmsg.DescribeLogDirsResponseDirTopicPartition{}
		}
		byDir[dir][topic] = append(byDir[dir][topic], rp)
	}
	for _, p := range s.replicas.all() {
		if p.isDeleted() {
			continue
		}
		if want != nil && !want[p.tp.Topic][p.tp.Partition] {
			continue
		}
		rp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
		rp.Partition = p.tp.Partition
		rp.Size = p.log.Size()
		rp.OffsetLag = max(p.HighWatermark()-p.EndOffset(), 0)
		add(filepath.Dir(p.log.Dir()), p.tp.Topic, rp)
		if m := p.move.Load(); m != nil {
			// The replica moving to another log dir: Kafka lists its
			// future log there, lagging the current log by the
			// offsets still to copy.
			fp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
			fp.Partition = p.tp.Partition
			fp.Size = m.future.Size()
			fp.OffsetLag = p.EndOffset() - m.future.EndOffset()
			fp.IsFuture = true
			add(filepath.Dir(m.future.Dir()), p.tp.Topic, fp)
		}
	}
	for _, dir := range s.dirs.Paths() {
		d := kmsg.NewDescribeLogDirsResponseDir()
		abs, err := filepath.Abs(dir)
		if err != nil {
			abs = dir
		}
		d.Dir = abs
		if s.dirs.IsOffline(dir) {
			// Kafka answers an offline dir with KAFKA_STORAGE_ERROR
			// and nothing else.
			d.ErrorCode = kerr.KafkaStorageError.Code
			resp.Dirs = append(resp.Dirs, d)
			continue
		}
		topics := byDir[dir]
		if topics == nil {
			topics = byDir[abs]
		}
		names := make([]string, 0, len(topics))
		for n := range topics {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			t := kmsg.NewDescribeLogDirsResponseDirTopic()
			t.Topic = n
			t.Partitions = topics[n]
			sort.Slice(t.Partitions, func(i, j int) bool { return t.Partitions[i].Partition < t.Partitions[j].Partition })
			d.Topics = append(d.Topics, t)
		}
		if r.Version >= 4 {
			d.TotalBytes, d.UsableBytes = volumeBytes(dir)
		}
		resp.Dirs = append(resp.Dirs, d)
	}
	return resp, nil
}
