package broker

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// replicaFetchVersion is the Fetch version followers send: v12, the last
// that names topics (v13+ use topic ids), with the replica id in the body.
const replicaFetchVersion = 12

// offsetForLeaderEpochVersion is the OffsetForLeaderEpoch version followers
// send (v4: replica id and current leader epoch, flexible).
const offsetForLeaderEpochVersion = 4

// fetchAssignment hands a following partition to the fetchers.
type fetchAssignment struct {
	p      *Partition
	leader int32
	epoch  int32
}

// fetcherKey names one fetcher: a source broker and one of its
// num.replica.fetchers slots.
type fetcherKey struct {
	leader int32
	slot   int
}

// fetcherManager owns the replica fetchers (Kafka's
// ReplicaFetcherManager): each partition this broker follows is fetched by
// the fetcher of its leader and slot (a hash of the partition over
// num.replica.fetchers), one goroutine and connection per fetcher.
type fetcherManager struct {
	s *Server

	mu       sync.Mutex
	fetchers map[fetcherKey]*fetcher
	where    map[topicPartition]fetcherKey
	closed   bool
}

func newFetcherManager(s *Server) *fetcherManager {
	return &fetcherManager{s: s, fetchers: map[fetcherKey]*fetcher{}, where: map[topicPartition]fetcherKey{}}
}

// add starts fetching the given partitions from their leaders, truncating
// each by leader epoch first.
func (m *fetcherManager) add(as []fetchAssignment) {
	if len(as) == 0 {
		return
	}
	m.mu.Lock()
	var idle []*fetcher
	defer func() {
		m.mu.Unlock()
		for _, f := range idle {
			f.stop()
		}
	}()
	if m.closed {
		return
	}
	for _, a := range as {
		if old, ok := m.where[a.p.tp]; ok {
			if f := m.fetchers[old]; f.remove(a.p.tp) == 0 {
				delete(m.fetchers, old)
				idle = append(idle, f)
			}
		}
		key := fetcherKey{leader: a.leader, slot: slotFor(a.p.tp, m.s.cfg.NumReplicaFetchers)}
		f, ok := m.fetchers[key]
		if !ok {
			f = newFetcher(m.s, key)
			m.fetchers[key] = f
		}
		f.add(a)
		m.where[a.p.tp] = key
	}
}

// remove stops fetching tp (it became leader, was stopped, or moved). A
// fetcher left with no partitions is stopped, closing its connection.
func (m *fetcherManager) remove(tp topicPartition) {
	m.mu.Lock()
	key, ok := m.where[tp]
	if !ok {
		m.mu.Unlock()
		return
	}
	f := m.fetchers[key]
	delete(m.where, tp)
	idle := f.remove(tp) == 0
	if idle {
		delete(m.fetchers, key)
	}
	m.mu.Unlock()
	if idle {
		f.stop()
	}
}

// close stops every fetcher and waits for them.
func (m *fetcherManager) close() {
	m.mu.Lock()
	m.closed = true
	fs := m.fetchers
	m.fetchers = map[fetcherKey]*fetcher{}
	m.where = map[topicPartition]fetcherKey{}
	m.mu.Unlock()
	for _, f := range fs {
		f.stop()
	}
}

func slotFor(tp topicPartition, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(tp.Topic))
	return int((h.Sum32() + uint32(tp.Partition)) % uint32(n))
}

// fetchPartition is one partition a fetcher follows.
type fetchPartition struct {
	p     *Partition
	epoch int32
	// truncated is false until the partition has been truncated by leader
	// epoch against this leader; it goes back to false after errors that
	// call the log's agreement with the leader into question.
	truncated bool
	// backoff holds the partition out of fetches after an error
	// (replica.fetch.backoff.ms).
	backoff time.Time
	// caughtUp says the last fetch brought the log end to the leader's
	// high watermark (Kafka's PartitionFetchState.isReplicaInSync): such a
	// replica is not held back by follower.replication.throttled.rate.
	caughtUp bool
}

// fetcher replicates partitions from one leader (Kafka's
// ReplicaFetcherThread): truncate by leader epoch, then fetch from the log
// end with replica_id = this broker, append what comes back as it is, and
// take the leader's high watermark.
type fetcher struct {
	s      *Server
	key    fetcherKey
	logger *zap.Logger

	mu     sync.Mutex
	parts  map[topicPartition]*fetchPartition
	wake   chan struct{}
	client *wire.Client
	addr   string

	cancel context.CancelFunc
	done   chan struct{}
}

func newFetcher(s *Server, key fetcherKey) *fetcher {
	ctx, cancel := context.WithCancel(context.Background())
	f := &fetcher{
		s:      s,
		key:    key,
		logger: s.logger.Named("fetcher").With(zap.Int32("leader", key.leader), zap.Int("slot", key.slot)),
		parts:  map[topicPartition]*fetchPartition{},
		wake:   make(chan struct{}, 1),
		cancel: cancel,
		done:   make(chan struct{}),
	}
	go f.run(ctx)
	return f
}

func (f *fetcher) add(a fetchAssignment) {
	f.mu.Lock()
	f.parts[a.p.tp] = &fetchPartition{p: a.p, epoch: a.epoch}
	f.mu.Unlock()
	f.poke()
}

// remove drops tp and returns how many partitions are left.
func (f *fetcher) remove(tp topicPartition) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.parts, tp)
	return len(f.parts)
}

func (f *fetcher) poke() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *fetcher) stop() {
	f.cancel()
	<-f.done
	f.mu.Lock()
	if f.client != nil {
		f.client.Close()
	}
	f.mu.Unlock()
}

// snapshot copies the partition set for one round.
func (f *fetcher) snapshot() map[topicPartition]fetchPartition {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[topicPartition]fetchPartition, len(f.parts))
	for tp, fp := range f.parts {
		out[tp] = *fp
	}
	return out
}

// update applies fn to tp's entry if it is still the one fetched at epoch.
func (f *fetcher) update(tp topicPartition, epoch int32, fn func(*fetchPartition)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fp, ok := f.parts[tp]; ok && fp.epoch == epoch {
		fn(fp)
	}
}

func (f *fetcher) run(ctx context.Context) {
	defer close(f.done)
	backoff := f.s.cfg.ReplicaFetchBackoff
	for ctx.Err() == nil {
		parts := f.snapshot()
		if len(parts) == 0 {
			select {
			case <-ctx.Done():
				return
			case <-f.wake:
			}
			continue
		}
		client, err := f.connect()
		if err != nil {
			f.logger.Debug("leader not reachable", zap.Error(err))
			sleepCtx(ctx, backoff)
			continue
		}
		if err := f.truncate(ctx, client, parts); err != nil {
			if ctx.Err() != nil {
				return
			}
			f.logger.Warn("truncation by leader epoch failed; retrying", zap.Error(err))
			sleepCtx(ctx, backoff)
			continue
		}
		if err := f.fetch(ctx, client, f.snapshot()); err != nil {
			if ctx.Err() != nil {
				return
			}
			f.logger.Debug("fetch from leader failed; retrying", zap.Error(err))
			sleepCtx(ctx, backoff)
		}
	}
}

// connect returns the client for the leader's current address.
func (f *fetcher) connect() (*wire.Client, error) {
	addr, err := f.s.brokerAddr(f.key.leader)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.client == nil || f.addr != addr {
		if f.client != nil {
			f.client.Close()
		}
		f.client = wire.NewClient(addr, fmt.Sprintf("broker-%d-fetcher-%d", f.s.cfg.BrokerID, f.key.slot))
		f.addr = addr
	}
	return f.client, nil
}

// truncate runs the KIP-279 truncation for partitions that need it: ask
// the leader for the end offset of this replica's latest epoch (or the
// largest epoch it has below that), and cut the log to the smaller of that
// and this replica's own end of the same epoch. A replica with no epochs
// (a log written before epochs) keeps what is below its high watermark.
func (f *fetcher) truncate(ctx context.Context, client *wire.Client, parts map[topicPartition]fetchPartition) error {
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	req.Version = offsetForLeaderEpochVersion
	req.ReplicaID = f.s.cfg.BrokerID
	type asked struct {
		fp     fetchPartition
		latest int32
	}
	pending := map[topicPartition]asked{}
	byTopic := map[string]int{}
	now := time.Now()
	for tp, fp := range parts {
		if fp.truncated || now.Before(fp.backoff) {
			continue
		}
		latest := fp.p.latestEpoch()
		if latest < 0 {
			// No epochs: fall back to the high watermark, as Kafka does
			// for logs from before leader epochs.
			if err := fp.p.truncateTo(fp.p.HighWatermark(), fp.epoch); err != nil && !errors.Is(err, errNotFollowing) {
				return err
			}
			f.update(tp, fp.epoch, func(x *fetchPartition) { x.truncated = true })
			continue
		}
		pending[tp] = asked{fp, latest}
		i, ok := byTopic[tp.Topic]
		if !ok {
			t := kmsg.NewOffsetForLeaderEpochRequestTopic()
			t.Topic = tp.Topic
			req.Topics = append(req.Topics, t)
			i = len(req.Topics) - 1
			byTopic[tp.Topic] = i
		}
		p := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		p.Partition = tp.Partition
		p.CurrentLeaderEpoch = fp.epoch
		p.LeaderEpoch = latest
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, p)
	}
	if len(pending) == 0 {
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	raw, err := client.Request(rctx, req)
	if err != nil {
		return err
	}
	resp := raw.(*kmsg.OffsetForLeaderEpochResponse)
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			tp := topicPartition{rt.Topic, rp.Partition}
			a, ok := pending[tp]
			if !ok {
				continue
			}
			if rp.ErrorCode != 0 {
				e := kerr.ErrorForCode(rp.ErrorCode)
				f.logger.Debug("OffsetForLeaderEpoch error", zap.String("partition", tp.String()), zap.Error(e))
				d := f.errorBackoff(e)
				f.update(tp, a.fp.epoch, func(x *fetchPartition) { x.backoff = time.Now().Add(d) })
				continue
			}
			// KIP-279: with the leader's answer (E, end), cut to the
			// smaller of end and this replica's own end of E. When this
			// replica does not have E itself, cut to its end of the
			// largest epoch below E and ask again with what is left.
			to := a.fp.p.HighWatermark()
			done := true
			if rp.LeaderEpoch >= 0 && rp.EndOffset >= 0 {
				ownEpoch, ownEnd := a.fp.p.endOffsetForEpoch(rp.LeaderEpoch)
				switch {
				case ownEnd < 0:
					to = min(rp.EndOffset, a.fp.p.EndOffset())
				case ownEpoch != rp.LeaderEpoch:
					to = min(ownEnd, a.fp.p.EndOffset())
					done = false
				default:
					to = min(rp.EndOffset, ownEnd)
				}
			}
			if to < a.fp.p.EndOffset() {
				f.logger.Info("truncating follower by leader epoch", zap.String("partition", tp.String()),
					zap.Int32("leader_epoch", rp.LeaderEpoch), zap.Int64("leader_end_offset", rp.EndOffset),
					zap.Int64("from", a.fp.p.EndOffset()), zap.Int64("to", to))
			}
			err := a.fp.p.truncateTo(to, a.fp.epoch)
			switch {
			case errors.Is(err, errNotFollowing):
				continue // a newer LeaderAndIsr moved the partition
			case err != nil:
				return err
			}
			if done {
				f.update(tp, a.fp.epoch, func(x *fetchPartition) { x.truncated = true })
			}
		}
	}
	return nil
}

// fetch sends one Fetch for the truncated partitions and appends what
// comes back.
func (f *fetcher) fetch(ctx context.Context, client *wire.Client, parts map[topicPartition]fetchPartition) error {
	cfg := &f.s.cfg
	req := kmsg.NewPtrFetchRequest()
	req.Version = replicaFetchVersion
	req.ReplicaID = f.s.cfg.BrokerID
	req.MaxWaitMillis = int32(cfg.ReplicaFetchWaitMax.Milliseconds())
	req.MinBytes = cfg.ReplicaFetchMinBytes
	req.MaxBytes = cfg.ReplicaFetchResponseMaxBytes
	req.SessionID = 0
	req.SessionEpoch = -1
	byTopic := map[string]int{}
	sent := map[topicPartition]fetchPartition{}
	now := time.Now()
	for tp, fp := range parts {
		if !fp.truncated || now.Before(fp.backoff) || f.s.followerThrottled(&fp) {
			continue
		}
		i, ok := byTopic[tp.Topic]
		if !ok {
			t := kmsg.NewFetchRequestTopic()
			t.Topic = tp.Topic
			req.Topics = append(req.Topics, t)
			i = len(req.Topics) - 1
			byTopic[tp.Topic] = i
		}
		p := kmsg.NewFetchRequestTopicPartition()
		p.Partition = tp.Partition
		p.CurrentLeaderEpoch = fp.epoch
		p.FetchOffset = fp.p.EndOffset()
		p.LastFetchedEpoch = -1
		p.LogStartOffset = fp.p.StartOffset()
		p.PartitionMaxBytes = cfg.ReplicaFetchMaxBytes
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, p)
		sent[tp] = fp
	}
	if len(sent) == 0 {
		// Everything is backing off or waiting to truncate: wait for the
		// first backoff to end (at most 100 ms) or a new partition.
		wait := 100 * time.Millisecond
		for _, fp := range parts {
			if d := time.Until(fp.backoff); d > 0 && d < wait {
				wait = d
			}
		}
		select {
		case <-ctx.Done():
		case <-f.wake:
		case <-time.After(wait):
		}
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, cfg.ReplicaFetchWaitMax+30*time.Second)
	defer cancel()
	raw, err := client.Request(rctx, req)
	if err != nil {
		return err
	}
	resp := raw.(*kmsg.FetchResponse)
	if resp.ErrorCode != 0 {
		return fmt.Errorf("fetch: %w", kerr.ErrorForCode(resp.ErrorCode))
	}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			tp := topicPartition{rt.Topic, rp.Partition}
			fp, ok := sent[tp]
			if !ok {
				continue
			}
			f.handlePartition(tp, fp, &rp)
		}
	}
	return nil
}

// handlePartition applies one partition of a fetch response.
func (f *fetcher) handlePartition(tp topicPartition, fp fetchPartition, rp *kmsg.FetchResponseTopicPartition) {
	backoff := func() {
		f.update(tp, fp.epoch, func(x *fetchPartition) { x.backoff = time.Now().Add(f.s.cfg.ReplicaFetchBackoff) })
	}
	switch err := kerr.ErrorForCode(rp.ErrorCode); {
	case err == nil:
		if _, aerr := fp.p.appendAsFollower(rp.RecordBatches, fp.epoch, rp.HighWatermark, rp.LogStartOffset); aerr != nil {
			f.logger.Error("append fetched records", zap.String("partition", tp.String()), zap.Error(aerr))
			f.update(tp, fp.epoch, func(x *fetchPartition) { x.truncated = false })
			backoff()
			return
		}
		f.s.recordFollowerThrottled(fp.p, len(rp.RecordBatches))
		if caughtUp := fp.p.EndOffset() >= rp.HighWatermark; caughtUp != fp.caughtUp {
			f.update(tp, fp.epoch, func(x *fetchPartition) { x.caughtUp = caughtUp })
		}
	case errors.Is(err, kerr.OffsetOutOfRange):
		// Our log ends before the leader's starts (a replica down for
		// longer than retention, or new): start over at the leader's log
		// start (Kafka's truncateFullyAndStartAt). Otherwise it ends after
		// the leader's end: truncate by epoch again.
		if rp.LogStartOffset > fp.p.EndOffset() {
			f.logger.Warn("follower's log ends before the leader's starts; starting over there", zap.String("partition", tp.String()),
				zap.Int64("log_end_offset", fp.p.EndOffset()), zap.Int64("leader_log_start_offset", rp.LogStartOffset))
			if rerr := fp.p.resetTo(rp.LogStartOffset, fp.epoch); rerr != nil && !errors.Is(rerr, errNotFollowing) {
				f.logger.Error("reset follower log", zap.String("partition", tp.String()), zap.Error(rerr))
				backoff()
			}
			return
		}
		f.logger.Warn("fetch offset out of range on the leader; truncating again", zap.String("partition", tp.String()),
			zap.Int64("log_end_offset", fp.p.EndOffset()), zap.Int64("leader_high_watermark", rp.HighWatermark),
			zap.Int64("leader_log_start_offset", rp.LogStartOffset))
		f.update(tp, fp.epoch, func(x *fetchPartition) { x.truncated = false })
		backoff()
	default:
		// FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH, NOT_LEADER_OR_FOLLOWER,
		// UNKNOWN_TOPIC_OR_PARTITION: the leader and this broker disagree
		// on who leads; the controller's next LeaderAndIsr settles it.
		f.logger.Debug("fetch error", zap.String("partition", tp.String()), zap.Error(err))
		d := f.errorBackoff(err)
		f.update(tp, fp.epoch, func(x *fetchPartition) { x.backoff = time.Now().Add(d) })
	}
}

// leaderCatchingUpBackoff is how soon a follower asks again when the
// leader has not applied its own LeaderAndIsr yet.
const leaderCatchingUpBackoff = 20 * time.Millisecond

// errorBackoff is how long a partition waits after a leader's error:
// replica.fetch.backoff.ms, except when the leader answers as a broker
// that has not yet heard it leads (UNKNOWN_LEADER_EPOCH: our epoch is
// newer than its; NOT_LEADER_OR_FOLLOWER from the broker the controller
// named). The controller sends LeaderAndIsr to the leader and the
// followers at the same time, so right after a leader change a follower
// often asks first; waiting the full second there would add a second to
// every failover. A follower behind the leader (FENCED_LEADER_EPOCH) waits
// for its own LeaderAndIsr the usual time.
func (f *fetcher) errorBackoff(err error) time.Duration {
	d := f.s.cfg.ReplicaFetchBackoff
	if errors.Is(err, kerr.UnknownLeaderEpoch) || errors.Is(err, kerr.NotLeaderForPartition) {
		d = min(d, leaderCatchingUpBackoff)
	}
	return d
}
