package controller

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// Log dir failures (Kafka's LogDirEventNotificationHandler and
// processLeaderAndIsrResponseReceived).
//
// A broker whose log dir fails writes /log_dir_event_notification/
// log_dir_event_<seq>. The controller answers by sending that broker a
// LeaderAndIsr for every partition it replicates, unchanged: the broker
// answers KAFKA_STORAGE_ERROR for each replica in a failed dir. Those
// replicas are then offline (state.offlineDirs) until their broker
// restarts or fails: they cannot be elected, their partitions led by them
// get a new leader from the other in-sync replicas, they leave the ISR
// (unless they are its last member, which an election can wait for) and
// their broker gets a StopReplica for them, as Kafka's
// onReplicasBecomeOffline and the OfflineReplica transition do. Every
// LeaderAndIsr answer is read this way (a replica answered without error
// is online again), so a controller that takes over learns of the failed
// dirs from the LeaderAndIsr it sends at startup.

// evLogDirEvents fires when /log_dir_event_notification changes.
type evLogDirEvents struct{}

// evLeaderAndIsrDone carries a broker's answer to a LeaderAndIsr sent to
// it at broker epoch epoch.
type evLeaderAndIsrDone struct {
	broker int32
	epoch  int64
	resp   kmsg.Response
}

// logDirEvents handles the notifications: each named broker that is live
// gets a LeaderAndIsr for all its partitions, and the notifications are
// deleted.
func (st *state) logDirEvents(ctx context.Context) error {
	names, brokers, ch, err := st.zk.WatchLogDirEvents(ctx)
	if err != nil {
		st.logger.Warn("read /log_dir_event_notification", zap.Error(err))
		st.t.watchOnce(st.t.ctx, retryAfter(st.t.ctx), evLogDirEvents{})
		return nil
	}
	st.t.watchOnce(st.t.ctx, ch, evLogDirEvents{})
	if len(names) == 0 {
		return nil
	}
	st.logger.Info("handling log dir failures", zap.Int32s("brokers", brokers))
	b := st.newBatch()
	for _, id := range brokers {
		if st.live(id) {
			b.leaderAndIsrFor(id, st.partitionsOf(id)...)
		}
	}
	st.send(b)
	if err := st.zk.DeleteLogDirEvents(ctx, st.ce, names); err != nil {
		return fenced(err)
	}
	return nil
}

// leaderAndIsrDone returns the callback for a LeaderAndIsr sent to broker
// id: errors are logged and the answer goes to the loop.
func (st *state) leaderAndIsrDone(id int32) func(kmsg.Response) {
	logErrors := st.logErrors(id)
	t := st.t
	epoch := st.brokerEpoch(id)
	return func(r kmsg.Response) {
		logErrors(r)
		resp, ok := r.(*kmsg.LeaderAndISRResponse)
		if !ok || resp.ErrorCode != 0 {
			return
		}
		// Posted from the sender's goroutine, which the loop may be
		// stopping: never block it.
		go t.post(evLeaderAndIsrDone{broker: id, epoch: epoch, resp: r})
	}
}

// leaderAndIsrResponse marks the replicas a broker answered
// KAFKA_STORAGE_ERROR for as offline and takes them out of service, and
// those it answered without error as online (Kafka's
// processLeaderAndIsrResponseReceived). An answer from an earlier
// incarnation of the broker is ignored.
func (st *state) leaderAndIsrResponse(ctx context.Context, e evLeaderAndIsrDone) error {
	r, ok := e.resp.(*kmsg.LeaderAndISRResponse)
	if !ok || !st.live(e.broker) || st.brokerEpoch(e.broker) != e.epoch {
		return nil
	}
	var failed []tp
	add := func(topic string, partition int32, code int16) {
		p := tp{topic, partition}
		switch {
		case topic == "":
		case code == kerr.KafkaStorageError.Code && !st.offlineDirs[e.broker][p]:
			failed = append(failed, p)
		case code == 0 && st.offlineDirs[e.broker][p]:
			delete(st.offlineDirs[e.broker], p)
			st.logger.Info("replica online again", zap.Int32("broker", e.broker), zap.String("partition", p.String()))
		}
	}
	for _, p := range r.Partitions {
		add(p.Topic, p.Partition, p.ErrorCode)
	}
	if len(r.Topics) > 0 {
		names := make(map[[16]byte]string, len(st.topics))
		for n, ts := range st.topics {
			names[ts.id] = n
		}
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				add(names[t.TopicID], p.Partition, p.ErrorCode)
			}
		}
	}
	if len(failed) == 0 {
		return nil
	}
	if st.offlineDirs == nil {
		st.offlineDirs = map[int32]map[tp]bool{}
	}
	if st.offlineDirs[e.broker] == nil {
		st.offlineDirs[e.broker] = map[tp]bool{}
	}
	for _, p := range failed {
		st.offlineDirs[e.broker][p] = true
	}
	failed = sortedTPs(setOf(failed))
	names := make([]string, len(failed))
	for i, p := range failed {
		names[i] = p.String()
	}
	st.logger.Warn("replicas offline: their log dir failed", zap.Int32("broker", e.broker), zap.Strings("partitions", names))
	return st.replicasOffline(ctx, e.broker, failed)
}

// replicasOffline takes broker id's replicas of ps out of service (Kafka's
// onReplicasBecomeOffline): partitions it leads get a leader among the
// other online ISR members (elect skips offline replicas), it leaves each
// ISR it is not the last member of, and it gets a StopReplica (without
// deleting) for them while the other replicas get the new state.
func (st *state) replicasOffline(ctx context.Context, id int32, ps []tp) error {
	b := st.newBatch()
	defer st.send(b)
	for _, p := range ps {
		b.update(p) // the replica is listed offline in everyone's metadata
		s, ok := st.parts[p]
		if !ok {
			continue
		}
		if s.Leader == id {
			if err := st.elect(ctx, p, b, nil); err != nil {
				return err
			}
			s = st.parts[p]
		}
		if slices.Contains(s.ISR, id) && len(s.ISR) > 1 {
			next := s
			next.ISR = slices.DeleteFunc(slices.Clone(s.ISR), func(r int32) bool { return r == id })
			if next.Leader == id {
				next.Leader = -1
			}
			next.LeaderEpoch = s.LeaderEpoch + 1
			if err := st.write(ctx, p, next, b); err != nil {
				return err
			}
		}
		delete(b.leaderAndIsr[id], p)
		b.stopReplicaFor(id, p, false)
	}
	return nil
}
