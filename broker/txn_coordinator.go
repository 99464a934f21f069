package broker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/gokafka/gokafka/txncoord"
	"github.com/gokafka/gokafka/wire"
	"github.com/gokafka/gokafka/zkmeta"
	"github.com/twmb/franz-go/pkg/kerr"
	"go.uber.org/zap"
)

// txnStateWriteTimeout bounds one write to __transaction_state when the
// caller's context has no deadline (the coordinator's own completions):
// Kafka appends with request.timeout.ms (30000).
const txnStateWriteTimeout = 30 * time.Second

// startTxnCoordinator builds the transaction coordinator (package
// txncoord) over this broker's partitions of __transaction_state. It owns
// the ids of the partitions this broker leads; LeaderAndIsr loads and
// unloads them (txnStateLeadership).
func (s *Server) startTxnCoordinator() error {
	cfg := s.cfg.Txn.withDefaults()
	s.txnMarkers = newMarkerWriter(s)
	s.txnVerify = newTxnVerifier(s)
	c, err := txncoord.New(txncoord.Config{
		NumPartitions:         cfg.StateLogNumPartitions,
		MaxTimeout:            cfg.MaxTimeout,
		IDExpiration:          cfg.IDExpiration,
		AbortTimedOutInterval: cfg.AbortTimedOutInterval,
		RemoveExpiredInterval: cfg.RemoveExpiredInterval,
		Log:                   txnStateLog{s},
		Markers:               s.txnMarkers,
		ProducerIDs: func(ctx context.Context) (int64, error) {
			ctx, cancel := context.WithTimeout(ctx, producerIDWait)
			defer cancel()
			return s.pids.nextID(ctx)
		},
		Logger: s.logger.Named("txn"),
	})
	if err != nil {
		return fmt.Errorf("start transaction coordinator: %w", err)
	}
	s.txn = c
	// The partition side's hooks (txn_hooks.go): KIP-890 verification of
	// a transaction's first batch on each partition, unless
	// transaction.partition.verification.enable=false, and markers for
	// the offsets of a transaction applied to the group's pending commits.
	if !s.cfg.Txn.SkipPartitionVerification {
		s.SetTxnVerifier(s.txnVerify)
	}
	s.SetTxnOffsetsMarker(txnOffsetsMarker{s})
	return nil
}

// stopTxnCoordinator stops the coordinator's loops and marker rounds and
// closes its connections to other brokers.
func (s *Server) stopTxnCoordinator() {
	if s.txn != nil {
		s.txn.Close()
	}
	if s.txnMarkers != nil {
		s.txnMarkers.close()
	}
	if s.txnVerify != nil {
		s.txnVerify.clients.close()
	}
}

// txnStateLeadership loads or unloads a partition of __transaction_state
// when LeaderAndIsr makes this broker its leader or a follower (Kafka's
// onElection / onResignation for the transaction coordinator); other
// topics are ignored. epoch is the partition's new leader epoch, which
// becomes the coordinator epoch the markers carry.
func (s *Server) txnStateLeadership(p *Partition, leader bool, epoch int32) {
	if p.tp.Topic != txncoord.TopicName || s.txn == nil {
		return
	}
	if leader {
		s.txn.Load(p.tp.Partition, epoch, txnStateRecords(p))
		return
	}
	s.txn.Unload(p.tp.Partition, epoch)
}

// txnStateRecords reads partition p from its start to its log end, for
// the coordinator's load.
func txnStateRecords(p *Partition) txncoord.Records {
	return func(ctx context.Context, yield func(key, value []byte) error) error {
		off := p.StartOffset()
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			end := p.EndOffset()
			if off >= end {
				return nil
			}
			data, err := p.log.Read(off, 1<<20, end)
			if err != nil {
				return fmt.Errorf("read %s at %d: %w", p.tp, off, err)
			}
			if len(data) == 0 {
				return fmt.Errorf("read %s at %d: no batch below the log end %d", p.tp, off, end)
			}
			next, err := txncoord.ForEachRecord(data, yield)
			if err != nil {
				return fmt.Errorf("load %s at %d: %w", p.tp, off, err)
			}
			off = next
		}
	}
}

// txnStateLog writes the coordinator's records to the partitions of
// __transaction_state this broker leads, as a produce with acks=all would:
// min.insync.replicas is checked before the append, and the write returns
// once the high watermark passed it.
type txnStateLog struct{ s *Server }

func (l txnStateLog) Write(ctx context.Context, partition int32, key, value []byte) error {
	s := l.s
	tp := topicPartition{txncoord.TopicName, partition}
	p, ok := s.replicas.get(tp)
	if !ok || !p.leading.Load() {
		return fmt.Errorf("write %s: %w", tp, kerr.NotLeaderForPartition)
	}
	minISR := p.config().MinInsyncReplicas
	isr, leading := p.isrSize()
	switch {
	case !leading:
		return fmt.Errorf("write %s: %w", tp, kerr.NotLeaderForPartition)
	case int32(isr) < minISR:
		return fmt.Errorf("write %s: ISR of %d below min.insync.replicas %d: %w", tp, isr, minISR, kerr.NotEnoughReplicas)
	}
	now := s.replicas.now()
	batch := txncoord.EncodeBatch(key, value, now.UnixMilli())
	hdr, err := wire.ParseBatchHeader(batch)
	if err != nil {
		return fmt.Errorf("write %s: %w", tp, err)
	}
	res, err := p.append(batch, hdr, s.leadershipFenced, now, txnVerification{})
	if err != nil {
		return fmt.Errorf("write %s: %w", tp, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, txnStateWriteTimeout)
		defer cancel()
	}
	for {
		ch := p.waitChan()
		done, e := p.ackState(res.LastOffset, minISR)
		if done {
			if e != nil {
				return fmt.Errorf("write %s at %d: %w", tp, res.LastOffset, e)
			}
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("write %s at %d: %w", tp, res.LastOffset, kerr.RequestTimedOut)
		}
	}
}

// txnCoordinatorNode is the broker that coordinates transactionalID: the
// leader of its partition of __transaction_state. The topic is created
// on first use, as Kafka creates it when FindCoordinator first asks;
// until it has leaders the answer is COORDINATOR_NOT_AVAILABLE.
func (s *Server) txnCoordinatorNode(ctx context.Context, transactionalID string) (int32, *kerr.Error) {
	if transactionalID == "" {
		return -1, kerr.InvalidRequest
	}
	if s.txnUnavailable() {
		return -1, kerr.CoordinatorNotAvailable
	}
	tm, ok := s.meta.topic(txncoord.TopicName)
	if !ok {
		return -1, s.createTxnStateTopic(ctx)
	}
	pm, ok := tm.Partitions[s.txn.PartitionFor(transactionalID)]
	if !ok || pm.Leader < 0 {
		return -1, kerr.CoordinatorNotAvailable
	}
	return pm.Leader, nil
}

// createTxnStateTopic creates __transaction_state with the
// transaction.state.log.* settings, compacted and uncompressed, and
// answers COORDINATOR_NOT_AVAILABLE: the client asks again once the
// controller brought the partitions online. As in Kafka, it is not created
// while fewer brokers are alive than its replication factor.
func (s *Server) createTxnStateTopic(ctx context.Context) *kerr.Error {
	cfg := s.cfg.Txn.withDefaults()
	live := s.liveBrokerIDs()
	if len(live) < int(cfg.StateLogReplicationFactor) {
		s.logger.Warn(fmt.Sprintf("Number of alive brokers '%d' does not meet the required replication factor '%d' for the transactions state topic "+
			"(configured via 'transaction.state.log.replication.factor'). This error can be ignored if the cluster is starting up and not all brokers are up yet.",
			len(live), cfg.StateLogReplicationFactor))
		return kerr.CoordinatorNotAvailable
	}
	assignment := assignReplicas(s.liveBrokerRacks(), 0, cfg.StateLogNumPartitions, cfg.StateLogReplicationFactor)
	configs := map[string]string{
		"cleanup.policy":                 "compact",
		"compression.type":               "uncompressed",
		"min.insync.replicas":            strconv.Itoa(int(cfg.StateLogMinISR)),
		"segment.bytes":                  strconv.Itoa(int(cfg.StateLogSegmentBytes)),
		"unclean.leader.election.enable": "false",
	}
	err := s.createTopicZK(ctx, txncoord.TopicName, assignment, configs)
	if err != nil && !errors.Is(err, zkmeta.ErrTopicExists) {
		s.logger.Warn("creating the transaction state topic", zap.Error(err))
	}
	return kerr.CoordinatorNotAvailable
}
