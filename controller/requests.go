package controller

import (
	"slices"

	"github.com/gokafka/gokafka/zkmeta"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// Versions of the requests the controller sends: Kafka 3.9's latest in
// ZooKeeper mode.
const (
	leaderAndIsrVersion   = 7
	updateMetadataVersion = 8
	stopReplicaVersion    = 4
)

// Special leader values in UpdateMetadata and epochs in StopReplica for a
// topic being deleted (Kafka's LeaderAndIsr.LeaderDuringDelete and
// EpochDuringDelete).
const (
	leaderDuringDelete = -2
	epochDuringDelete  = -2
)

// batch collects the requests that one event's changes need (Kafka's
// ControllerBrokerRequestBatch), so each broker gets at most one request of
// each kind per event.
type batch struct {
	st            *state
	leaderAndIsr  map[int32]map[tp]bool
	newPartitions map[tp]bool
	updates       map[tp]bool
	updateAll     bool
	deleted       map[tp]zkmeta.LeaderAndIsr
	stops         map[int32]map[tp]bool // value: delete the log
}

func (st *state) newBatch() *batch {
	return &batch{
		st:            st,
		leaderAndIsr:  map[int32]map[tp]bool{},
		newPartitions: map[tp]bool{},
		updates:       map[tp]bool{},
		deleted:       map[tp]zkmeta.LeaderAndIsr{},
		stops:         map[int32]map[tp]bool{},
	}
}

func (b *batch) leaderAndIsrFor(broker int32, ps ...tp) {
	m := b.leaderAndIsr[broker]
	if m == nil {
		m = map[tp]bool{}
		b.leaderAndIsr[broker] = m
	}
	for _, p := range ps {
		m[p] = true
	}
}

func (b *batch) update(p tp) { b.updates[p] = true }

func (b *batch) stopReplicaFor(broker int32, p tp, deleteLog bool) {
	m := b.stops[broker]
	if m == nil {
		m = map[tp]bool{}
		b.stops[broker] = m
	}
	m[p] = deleteLog
}

// send queues the batch's requests: StopReplica, then LeaderAndIsr, then
// UpdateMetadata, to each live broker.
func (st *state) send(b *batch) {
	for id, ps := range b.stops {
		if st.live(id) && len(ps) > 0 {
			st.ch.send(id, st.stopReplica(id, ps), st.logErrors(id))
		}
	}
	for id, ps := range b.leaderAndIsr {
		if st.live(id) && len(ps) > 0 {
			st.ch.send(id, st.leaderAndIsr(id, ps, b.newPartitions), st.leaderAndIsrDone(id))
		}
	}
	var ps []tp
	if b.updateAll {
		for p := range st.parts {
			ps = append(ps, p)
		}
	} else {
		for p := range b.updates {
			if _, ok := st.parts[p]; ok {
				ps = append(ps, p)
			}
		}
	}
	if len(ps) == 0 && len(b.deleted) == 0 && !b.updateAll {
		return
	}
	for id := range st.brokers {
		st.ch.send(id, st.updateMetadata(id, ps, b.deleted), st.logErrors(id))
	}
}

// logErrors returns a callback that logs error codes in a broker's answer.
func (st *state) logErrors(id int32) func(kmsg.Response) {
	return func(r kmsg.Response) {
		code := int16(0)
		switch r := r.(type) {
		case *kmsg.LeaderAndISRResponse:
			code = r.ErrorCode
			for _, t := range r.Topics {
				for _, p := range t.Partitions {
					if p.ErrorCode != 0 && code == 0 {
						code = p.ErrorCode
					}
				}
			}
		case *kmsg.UpdateMetadataResponse:
			code = r.ErrorCode
		case *kmsg.StopReplicaResponse:
			code = r.ErrorCode
			for _, p := range r.Partitions {
				if p.ErrorCode != 0 && code == 0 {
					code = p.ErrorCode
				}
			}
		}
		if code != 0 {
			st.logger.Warn("broker answered a controller request with an error", zap.Int32("broker", id),
				zap.String("error", kerr.ErrorForCode(code).Error()))
		}
	}
}

func (st *state) brokerEpoch(id int32) int64 {
	if b, ok := st.brokers[id]; ok {
		return b.Epoch
	}
	return -1
}

// leaderAndIsr builds the LeaderAndIsr request for broker id.
func (st *state) leaderAndIsr(id int32, ps map[tp]bool, fresh map[tp]bool) *kmsg.LeaderAndISRRequest {
	req := kmsg.NewPtrLeaderAndISRRequest()
	req.Version = leaderAndIsrVersion
	req.ControllerID = st.self
	req.ControllerEpoch = st.ce.Epoch
	req.BrokerEpoch = st.brokerEpoch(id)
	byTopic := map[string]int{}
	leaders := map[int32]bool{}
	for _, p := range sortedTPs(ps) {
		s, ok := st.parts[p]
		if !ok {
			continue
		}
		i, ok := byTopic[p.topic]
		if !ok {
			ts := kmsg.NewLeaderAndISRRequestTopicState()
			ts.Topic = p.topic
			ts.TopicID = st.topics[p.topic].id
			req.TopicStates = append(req.TopicStates, ts)
			i = len(req.TopicStates) - 1
			byTopic[p.topic] = i
		}
		ps := kmsg.NewLeaderAndISRRequestTopicPartition()
		ps.Topic = p.topic
		ps.Partition = p.partition
		ps.ControllerEpoch = s.ControllerEpoch
		ps.Leader = s.Leader
		ps.LeaderEpoch = s.LeaderEpoch
		ps.ISR = slices.Clone(s.ISR)
		ps.ZKVersion = s.ZkVersion
		ps.Replicas = slices.Clone(st.replicas(p))
		ps.IsNew = fresh[p]
		if a, ok := st.assignmentOf(p); ok && a.reassigning() {
			ps.AddingReplicas = slices.Clone(a.adding)
			ps.RemovingReplicas = slices.Clone(a.removing)
			// A replica a reassignment adds is new (Kafka: it may be
			// created in any good log dir).
			ps.IsNew = ps.IsNew || slices.Contains(a.adding, id)
		}
		ps.LeaderRecoveryState = s.LeaderRecoveryState
		req.TopicStates[i].PartitionStates = append(req.TopicStates[i].PartitionStates, ps)
		if s.Leader >= 0 {
			leaders[s.Leader] = true
		}
	}
	for l := range leaders {
		b, ok := st.brokers[l]
		if !ok || len(b.Endpoints) == 0 {
			continue
		}
		e := endpointFor(b, st.c.cfg.ListenerName)
		req.LiveLeaders = append(req.LiveLeaders, kmsg.LeaderAndISRRequestLiveLeader{BrokerID: l, Host: e.Host, Port: e.Port})
	}
	return req
}

// updateMetadata builds the UpdateMetadata request for broker id with the
// given partitions and the deleted ones (leader -2), and every live broker.
func (st *state) updateMetadata(id int32, ps []tp, deleted map[tp]zkmeta.LeaderAndIsr) *kmsg.UpdateMetadataRequest {
	req := kmsg.NewPtrUpdateMetadataRequest()
	req.Version = updateMetadataVersion
	req.ControllerID = st.self
	req.ControllerEpoch = st.ce.Epoch
	req.BrokerEpoch = st.brokerEpoch(id)
	byTopic := map[string]int{}
	add := func(p tp, s zkmeta.LeaderAndIsr, replicas []int32, topicID [16]byte) {
		i, ok := byTopic[p.topic]
		if !ok {
			ts := kmsg.NewUpdateMetadataRequestTopicState()
			ts.Topic = p.topic
			ts.TopicID = topicID
			req.TopicStates = append(req.TopicStates, ts)
			i = len(req.TopicStates) - 1
			byTopic[p.topic] = i
		}
		x := kmsg.NewUpdateMetadataRequestTopicPartition()
		x.Topic = p.topic
		x.Partition = p.partition
		x.ControllerEpoch = s.ControllerEpoch
		x.Leader = s.Leader
		x.LeaderEpoch = s.LeaderEpoch
		x.ISR = slices.Clone(s.ISR)
		x.ZKVersion = s.ZkVersion
		x.Replicas = slices.Clone(replicas)
		for _, r := range replicas {
			if !st.live(r) || st.offlineDirs[r][p] {
				x.OfflineReplicas = append(x.OfflineReplicas, r)
			}
		}
		req.TopicStates[i].PartitionStates = append(req.TopicStates[i].PartitionStates, x)
	}
	for _, p := range sortedTPs(setOf(ps)) {
		add(p, st.parts[p], st.replicas(p), st.topics[p.topic].id)
	}
	for p, s := range deleted {
		s.Leader = leaderDuringDelete
		add(p, s, nil, [16]byte{})
	}
	for _, bid := range sortedIDs(st.brokers) {
		b := st.brokers[bid]
		lb := kmsg.NewUpdateMetadataRequestLiveBroker()
		lb.ID = b.ID
		lb.Rack = b.Rack
		for _, e := range b.Endpoints {
			ep := kmsg.NewUpdateMetadataRequestLiveBrokerEndpoint()
			ep.Host = e.Host
			ep.Port = e.Port
			ep.ListenerName = e.Name
			ep.SecurityProtocol = securityProtocol(e.SecurityProtocol)
			lb.Endpoints = append(lb.Endpoints, ep)
		}
		req.LiveBrokers = append(req.LiveBrokers, lb)
	}
	return req
}

// stopReplica builds a StopReplica request for broker id and the given
// partitions (the value: delete the log).
func (st *state) stopReplica(id int32, ps map[tp]bool) *kmsg.StopReplicaRequest {
	req := kmsg.NewPtrStopReplicaRequest()
	req.Version = stopReplicaVersion
	req.ControllerID = st.self
	req.ControllerEpoch = st.ce.Epoch
	req.BrokerEpoch = st.brokerEpoch(id)
	byTopic := map[string]int{}
	for _, p := range sortedTPs(ps) {
		i, ok := byTopic[p.topic]
		if !ok {
			t := kmsg.NewStopReplicaRequestTopic()
			t.Topic = p.topic
			req.Topics = append(req.Topics, t)
			i = len(req.Topics) - 1
			byTopic[p.topic] = i
		}
		s := kmsg.NewStopReplicaRequestTopicPartitionState()
		s.Partition = p.partition
		s.Delete = ps[p]
		// The current leader epoch, also when a reassignment deletes a
		// removed replica; -2 for a topic being deleted (no longer in
		// parts).
		s.LeaderEpoch = epochDuringDelete
		if cur, ok := st.parts[p]; ok {
			s.LeaderEpoch = cur.LeaderEpoch
		}
		req.Topics[i].PartitionStates = append(req.Topics[i].PartitionStates, s)
	}
	return req
}

// securityProtocol maps a protocol name to Kafka's SecurityProtocol id.
func securityProtocol(name string) int16 {
	switch name {
	case "SSL":
		return 1
	case "SASL_PLAINTEXT":
		return 2
	case "SASL_SSL":
		return 3
	}
	return 0
}

func endpointFor(b zkmeta.BrokerInfo, listener string) zkmeta.Endpoint {
	for _, e := range b.Endpoints {
		if e.Name == listener {
			return e
		}
	}
	return b.Endpoints[0]
}

func setOf(ps []tp) map[tp]bool {
	m := make(map[tp]bool, len(ps))
	for _, p := range ps {
		m[p] = true
	}
	return m
}

func sortedTPs(m map[tp]bool) []tp {
	out := make([]tp, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b tp) int {
		if a.topic != b.topic {
			if a.topic < b.topic {
				return -1
			}
			return 1
		}
		return int(a.partition - b.partition)
	})
	return out
}

func sortedIDs(m map[int32]zkmeta.BrokerInfo) []int32 {
	out := make([]int32, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}
