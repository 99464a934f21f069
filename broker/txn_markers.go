package broker

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/gokafka/gokafka/txncoord"
	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// writeTxnMarkersKey is WriteTxnMarkers' API key.
const writeTxnMarkersKey = 27

// markerRequestTimeout bounds one WriteTxnMarkers round trip: the leader
// waits up to request.timeout.ms (30 s) for its ISR before answering.
const markerRequestTimeout = 40 * time.Second

// markerWriter delivers the coordinator's markers to partition leaders
// with WriteTxnMarkers v1 (Kafka's TransactionMarkerChannelManager), over
// one inter-broker connection per leader, or straight to this broker's
// own handler when it leads the partition.
//
// gokafka has no __consumer_offsets log: the group offsets a transaction
// committed (TxnOffsetCommit) wait in the group coordinator of each group,
// which may be any live broker. A marker for a partition of
// __consumer_offsets therefore goes to every live broker, each of which
// completes the pending offsets of that producer for its groups in that
// partition; completing is idempotent, so a retry is harmless.
type markerWriter struct {
	s       *Server
	clients *peerClients
}

func newMarkerWriter(s *Server) *markerWriter {
	return &markerWriter{s: s, clients: newPeerClients(s, "txn-marker-sender")}
}

func (w *markerWriter) close() { w.clients.close() }

// peerClients holds one connection per other broker for one sender (the
// marker writer, the verifier), so one sender's slow request never delays
// another's.
type peerClients struct {
	s    *Server
	name string

	mu sync.Mutex
	m  map[int32]*wire.Client
}

func newPeerClients(s *Server, name string) *peerClients {
	return &peerClients{s: s, name: name, m: map[int32]*wire.Client{}}
}

// get is the connection to broker id, dialed again when its address
// changed.
func (p *peerClients) get(id int32) (*wire.Client, error) {
	addr, err := p.s.brokerAddr(id)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.m[id]
	if c == nil || c.Addr() != addr {
		if c != nil {
			c.Close()
		}
		c = wire.NewClient(addr, fmt.Sprintf("broker-%d-%s", p.s.cfg.BrokerID, p.name))
		p.m[id] = c
	}
	return c, nil
}

func (p *peerClients) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, c := range p.m {
		c.Close()
		delete(p.m, id)
	}
}

// WriteMarkers implements txncoord.MarkerWriter.
func (w *markerWriter) WriteMarkers(ctx context.Context, m txncoord.Marker) []txncoord.TopicPartition {
	s := w.s
	byLeader := map[int32][]txncoord.TopicPartition{}
	var retry, offsets []txncoord.TopicPartition
	for _, tp := range m.Partitions {
		if tp.Topic == txncoord.OffsetsTopic {
			offsets = append(offsets, tp)
			continue
		}
		tm, ok := s.meta.topic(tp.Topic)
		var pm partitionMeta
		if ok {
			pm, ok = tm.Partitions[tp.Partition]
		}
		switch {
		case !ok:
			// The topic (or partition) is gone: Kafka drops its marker.
			s.logger.Info("dropping transaction marker for a partition that no longer exists",
				zap.String("transactional_id", m.TransactionalID), zap.String("partition", fmt.Sprintf("%s-%d", tp.Topic, tp.Partition)))
		case pm.Leader < 0:
			retry = append(retry, tp)
		default:
			byLeader[pm.Leader] = append(byLeader[pm.Leader], tp)
		}
	}
	if len(offsets) > 0 {
		for _, id := range s.liveBrokerIDs() {
			byLeader[id] = append(byLeader[id], offsets...)
		}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for leader, tps := range byLeader {
		wg.Add(1)
		go func() {
			defer wg.Done()
			again := w.send(ctx, leader, m, tps)
			mu.Lock()
			retry = append(retry, again...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.SortFunc(retry, txncoord.CompareTopicPartitions)
	return slices.Compact(retry)
}

// send writes m to tps, all led by leader, and returns those to retry.
func (w *markerWriter) send(ctx context.Context, leader int32, m txncoord.Marker, tps []txncoord.TopicPartition) []txncoord.TopicPartition {
	s := w.s
	var retry []txncoord.TopicPartition
	if leader == s.cfg.BrokerID {
		// This broker's own group offsets need no request.
		rest := tps[:0:0]
		for _, tp := range tps {
			if tp.Topic != txncoord.OffsetsTopic {
				rest = append(rest, tp)
			} else if e := (txnOffsetsMarker{s}).CompleteTxnOffsets(ctx, m.ProducerID, m.ProducerEpoch, m.CoordinatorEpoch, m.Commit, tp.Partition); e != nil {
				retry = append(retry, tp)
			}
		}
		if tps = rest; len(tps) == 0 {
			return retry
		}
	}
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	req.Version = 1
	rm := kmsg.NewWriteTxnMarkersRequestMarker()
	rm.ProducerID, rm.ProducerEpoch, rm.Committed, rm.CoordinatorEpoch = m.ProducerID, m.ProducerEpoch, m.Commit, m.CoordinatorEpoch
	for _, tg := range txncoord.GroupByTopic(tps) {
		t := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
		t.Topic, t.Partitions = tg.Topic, tg.Partitions
		rm.Topics = append(rm.Topics, t)
	}
	req.Markers = append(req.Markers, rm)

	ctx, cancel := context.WithTimeout(ctx, markerRequestTimeout)
	defer cancel()
	resp, err := w.roundTrip(ctx, leader, req)
	if err != nil {
		if ctx.Err() == nil {
			s.logger.Debug("sending transaction markers", zap.Int32("leader", leader), zap.String("transactional_id", m.TransactionalID), zap.Error(err))
		}
		return append(retry, tps...)
	}
	answered := map[txncoord.TopicPartition]bool{}
	for _, am := range resp.Markers {
		for _, t := range am.Topics {
			for _, p := range t.Partitions {
				tp := txncoord.TopicPartition{Topic: t.Topic, Partition: p.Partition}
				answered[tp] = true
				if w.markerFailed(m, tp, leader, p.ErrorCode) {
					retry = append(retry, tp)
				}
			}
		}
	}
	for _, tp := range tps {
		if !answered[tp] {
			retry = append(retry, tp)
		}
	}
	return retry
}

// markerFailed reports whether a partition's answer means trying again
// (Kafka's TransactionMarkerRequestCompletionHandler): success and a stale
// marker (the producer or the coordinator moved on) are final, as is a
// partition whose topic was deleted; anything else is retried.
func (w *markerWriter) markerFailed(m txncoord.Marker, tp txncoord.TopicPartition, leader int32, code int16) bool {
	switch code {
	case 0:
		return false
	case kerr.InvalidProducerEpoch.Code, kerr.TransactionCoordinatorFenced.Code:
		w.s.logger.Info("transaction marker refused as stale", zap.String("transactional_id", m.TransactionalID),
			zap.String("partition", fmt.Sprintf("%s-%d", tp.Topic, tp.Partition)), zap.Int16("error_code", code))
		return false
	case kerr.UnknownTopicOrPartition.Code:
		if _, ok := w.s.meta.topic(tp.Topic); !ok && tp.Topic != txncoord.OffsetsTopic {
			return false
		}
	}
	w.s.logger.Debug("transaction marker to retry", zap.String("transactional_id", m.TransactionalID), zap.Int32("leader", leader),
		zap.String("partition", fmt.Sprintf("%s-%d", tp.Topic, tp.Partition)), zap.String("error", kerr.ErrorForCode(code).Error()))
	return true
}

// roundTrip sends req to leader: over the network, or through this
// broker's own handler when it is the leader.
func (w *markerWriter) roundTrip(ctx context.Context, leader int32, req *kmsg.WriteTxnMarkersRequest) (*kmsg.WriteTxnMarkersResponse, error) {
	if leader == w.s.cfg.BrokerID {
		a, ok := apis[writeTxnMarkersKey]
		if !ok {
			return nil, fmt.Errorf("WriteTxnMarkers is not served by this broker")
		}
		hdr := &wire.RequestHeader{APIKey: writeTxnMarkersKey, APIVersion: req.Version}
		r, err := a.handle(w.s, ctx, hdr, req)
		if err != nil {
			return nil, err
		}
		if d, ok := r.(*wire.DeferredResponse); ok {
			d.Wait(ctx)
			r = d.Response
		}
		resp, ok := r.(*kmsg.WriteTxnMarkersResponse)
		if !ok {
			return nil, fmt.Errorf("WriteTxnMarkers answered %T", r)
		}
		return resp, nil
	}
	c, err := w.clients.get(leader)
	if err != nil {
		return nil, err
	}
	r, err := c.Request(ctx, req)
	if err != nil {
		return nil, err
	}
	resp, ok := r.(*kmsg.WriteTxnMarkersResponse)
	if !ok {
		return nil, fmt.Errorf("WriteTxnMarkers answered %T", r)
	}
	return resp, nil
}
