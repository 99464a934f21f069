package broker

import (
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokafka/gokafka/wire"
	"go.uber.org/zap"
)

// Replication throttles (KIP-73), as Kafka's ReplicationQuotaManager has
// them in ZooKeeper mode.
//
// Two quotas per broker bound replication traffic in bytes per second:
// leader.replication.throttled.rate what this broker serves to followers,
// follower.replication.throttled.rate what it fetches as a follower. Both
// are dynamic broker keys read from /config/brokers/<id>, else
// /config/brokers/<default>, else unlimited (Long.MAX_VALUE): like Kafka's
// BrokerConfigHandler, a value in server.properties is not used.
//
// Only listed replicas are throttled: the topic keys
// leader.replication.throttled.replicas and
// follower.replication.throttled.replicas hold "*" or
// "partition:broker,..." pairs, and a broker throttles the partitions paired
// with its own id (TopicConfigHandler.parseThrottledPartitions). On the
// leader, a follower's fetch leaves out a throttled partition while the
// leader quota is exceeded, unless that follower is in the ISR
// (ReplicaManager.shouldLeaderThrottle); the bytes the response carries for
// throttled partitions are recorded against the quota. On the follower, a
// throttled partition is left out of the fetch request while the follower
// quota is exceeded, unless the replica has caught up with the leader's
// high watermark (RemoteLeaderEndPoint.shouldFollowerThrottle); the bytes
// appended for throttled partitions are recorded. In-sync replicas are
// never held back so that throttling cannot shrink the ISR.
//
// The rate is Kafka's SimpleRate over replication.quota.window.num (11)
// samples of replication.quota.window.size.seconds (1): the bytes in the
// samples kept, over the time since the oldest began (at least one
// sample's length).
//
// A follower fetch with no throttled partition pays a few atomic loads per
// partition (its config pointer) and neither allocates nor takes a lock.

// Kafka's defaults for the replication quota window.
const (
	defaultReplicationQuotaSamples = 11
	defaultReplicationQuotaWindow  = time.Second
)

// throttledPartitions is the part of a
// {leader,follower}.replication.throttled.replicas value that names this
// broker: every partition ("*"), or a set of partition ids. A nil
// *throttledPartitions throttles nothing.
type throttledPartitions struct {
	all   bool
	parts map[int32]struct{}
}

// has reports whether partition is throttled.
func (t *throttledPartitions) has(partition int32) bool {
	if t == nil {
		return false
	}
	if t.all {
		return true
	}
	_, ok := t.parts[partition]
	return ok
}

// parseThrottledPartitions reads a throttled replicas list for broker,
// which the topic key's validator (throttledReplicas) has accepted: "*"
// throttles every partition, pairs with another broker's id are ignored,
// and nil comes back when nothing is throttled here.
func parseThrottledPartitions(v string, broker int32) *throttledPartitions {
	v = strings.TrimSpace(v)
	switch v {
	case "":
		return nil
	case "*":
		return &throttledPartitions{all: true}
	}
	t := &throttledPartitions{parts: map[int32]struct{}{}}
	for _, item := range strings.Split(v, ",") {
		p, b, ok := strings.Cut(strings.TrimSpace(item), ":")
		if !ok {
			continue
		}
		pid, perr := strconv.ParseInt(strings.TrimSpace(p), 10, 32)
		bid, berr := strconv.ParseInt(strings.TrimSpace(b), 10, 32)
		if perr != nil || berr != nil || int32(bid) != broker {
			continue
		}
		t.parts[int32(pid)] = struct{}{}
	}
	if len(t.parts) == 0 {
		return nil
	}
	return t
}

// replicationQuota is one direction's quota (Kafka's
// ReplicationQuotaManager for LeaderReplication or FollowerReplication):
// the bound and the sampled byte rate.
type replicationQuota struct {
	// limit is the bound in bytes per second plus one, so that the zero
	// value (and Long.MAX_VALUE, Kafka's default) means unlimited.
	limit atomic.Int64

	mu   sync.Mutex
	rate sampledRate // guarded by mu
}

// setBound changes the limit; the samples recorded so far stay, as
// updateQuota keeps the sensor. A negative bound or Long.MAX_VALUE is
// unlimited; 0 holds every throttled replica back.
func (q *replicationQuota) setBound(b int64) {
	if b < 0 || b == math.MaxInt64 {
		q.limit.Store(0)
		return
	}
	q.limit.Store(b + 1)
}

// bound returns the limit, math.MaxInt64 when there is none.
func (q *replicationQuota) bound() int64 {
	if l := q.limit.Load(); l != 0 {
		return l - 1
	}
	return math.MaxInt64
}

// limited reports whether a rate is set, so that callers skip the sampled
// rate when it cannot be exceeded.
func (q *replicationQuota) limited() bool { return q.limit.Load() != 0 }

// record adds n bytes at now.
func (q *replicationQuota) record(n int64, now time.Time) {
	q.mu.Lock()
	q.rate.record(float64(n), now)
	q.mu.Unlock()
}

// exceeded reports whether the rate over the window is above the bound
// (Sensor.checkQuotas on an upper bound).
func (q *replicationQuota) exceeded(now time.Time) bool {
	l := q.limit.Load()
	if l == 0 {
		return false
	}
	q.mu.Lock()
	r := q.rate.measure(now)
	q.mu.Unlock()
	return r > float64(l-1)
}

// sampledRate is Kafka's SimpleRate over a SampledStat: up to n samples of
// window each; the rate is the samples' total over the time since the
// oldest began, and never over less than one window.
type sampledRate struct {
	n       int
	window  time.Duration
	samples []rateSample
	cur     int
}

type rateSample struct {
	start time.Time
	value float64
}

// defaults fills in Kafka's window for a rate that init did not set.
func (r *sampledRate) defaults() {
	if r.n < 1 {
		r.n = defaultReplicationQuotaSamples
	}
	if r.window <= 0 {
		r.window = defaultReplicationQuotaWindow
	}
}

func (r *sampledRate) record(v float64, now time.Time) {
	r.defaults()
	if len(r.samples) == 0 {
		r.samples = append(r.samples, rateSample{start: now})
		r.cur = 0
	}
	if now.Sub(r.samples[r.cur].start) >= r.window {
		r.cur = (r.cur + 1) % r.n
		if r.cur >= len(r.samples) {
			r.samples = append(r.samples, rateSample{})
		}
		r.samples[r.cur] = rateSample{start: now}
	}
	r.samples[r.cur].value += v
}

func (r *sampledRate) measure(now time.Time) float64 {
	r.defaults()
	expire := time.Duration(r.n) * r.window
	oldest := now
	var total float64
	for i := range r.samples {
		s := &r.samples[i]
		if now.Sub(s.start) >= expire {
			*s = rateSample{start: now}
		}
		total += s.value
		if s.start.Before(oldest) {
			oldest = s.start
		}
	}
	elapsed := max(now.Sub(oldest), r.window)
	return total / elapsed.Seconds()
}

// replicationQuotas are the broker's replication quotas: the two
// between brokers, and alterLogDirs, what log dir moves copy
// (replica.alter.log.dirs.io.max.bytes.per.second, log_dir_move.go).
type replicationQuotas struct {
	leader, follower, alterLogDirs replicationQuota
}

// init sets the windows from replication.quota.window.num and
// replication.quota.window.size.seconds, and the log dir moves' from
// alter.log.dirs.replication.quota.window.{num,size.seconds} (static keys
// in Kafka); the quotas start unlimited.
func (qs *replicationQuotas) init(raw map[string]string) {
	window := func(prefix string) sampledRate {
		n, w := defaultReplicationQuotaSamples, defaultReplicationQuotaWindow
		if v, err := strconv.Atoi(strings.TrimSpace(raw[prefix+"replication.quota.window.num"])); err == nil && v >= 1 {
			n = v
		}
		if v, err := strconv.Atoi(strings.TrimSpace(raw[prefix+"replication.quota.window.size.seconds"])); err == nil && v >= 1 {
			w = time.Duration(v) * time.Second
		}
		return sampledRate{n: n, window: w}
	}
	for q, prefix := range map[*replicationQuota]string{&qs.leader: "", &qs.follower: "", &qs.alterLogDirs: "alter.log.dirs."} {
		q.mu.Lock()
		q.rate = window(prefix)
		q.mu.Unlock()
	}
}

// throttleRate resolves a rate key over the dynamic layers: this broker's
// value, the cluster default's, or unlimited.
func throttleRate(key string, cluster, perBroker map[string]string) int64 {
	for _, layer := range []map[string]string{perBroker, cluster} {
		if v, ok := layer[key]; ok {
			if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && n >= 0 {
				return n
			}
		}
	}
	return math.MaxInt64
}

// applyThrottleRates sets the quotas' bounds from the dynamic layers
// (BrokerConfigHandler.processConfigChanges).
func (s *Server) applyThrottleRates(cluster, perBroker map[string]string) {
	leader := throttleRate("leader.replication.throttled.rate", cluster, perBroker)
	follower := throttleRate("follower.replication.throttled.rate", cluster, perBroker)
	alterLogDirs := throttleRate("replica.alter.log.dirs.io.max.bytes.per.second", cluster, perBroker)
	if leader != s.replQuotas.leader.bound() || follower != s.replQuotas.follower.bound() || alterLogDirs != s.replQuotas.alterLogDirs.bound() {
		s.logger.Info("replication throttle rates", zap.Int64("leader_bytes_per_second", leader), zap.Int64("follower_bytes_per_second", follower),
			zap.Int64("alter_log_dirs_bytes_per_second", alterLogDirs))
	}
	s.replQuotas.leader.setBound(leader)
	s.replQuotas.follower.setBound(follower)
	s.replQuotas.alterLogDirs.setBound(alterLogDirs)
}

// leaderThrottled reports whether a follower's fetch of p must leave p out
// now: p is in this broker's leader throttled list, the leader quota is
// exceeded, and the follower is not in the ISR.
func (s *Server) leaderThrottled(p *Partition, replica int32) bool {
	if !p.cfg.Load().LeaderThrottled.has(p.tp.Partition) || !s.replQuotas.leader.limited() {
		return false
	}
	return !p.inISR(replica) && s.replQuotas.leader.exceeded(time.Now())
}

// recordLeaderThrottled records the record bytes a follower's fetch
// response carries for partitions in the leader throttled list (Kafka's
// sizeOfThrottledPartitions). The response holds one partition per target,
// in order, a topic for each run of targets of one request topic
// (readFetch); a response without a throttled partition costs a look at
// each partition's config.
func (s *Server) recordLeaderThrottled(targets []fetchTarget, out *wire.FetchResponse) {
	throttled := func(t *fetchTarget) bool {
		return t.p != nil && t.p.cfg.Load().LeaderThrottled.has(t.p.tp.Partition)
	}
	i := 0
	for i < len(targets) && !throttled(&targets[i]) {
		i++
	}
	if i == len(targets) {
		return
	}
	type position struct{ topic, partition int }
	at := map[position]bool{}
	var n int64
	topic, part := -1, 0
	for i := range targets {
		if i == 0 || targets[i].topic != targets[i-1].topic {
			topic, part = topic+1, 0
		} else {
			part++
		}
		if !throttled(&targets[i]) || topic >= len(out.Topics) || part >= len(out.Topics[topic].Partitions) {
			continue
		}
		at[position{topic, part}] = true
		n += int64(len(out.Topics[topic].Partitions[part].RecordBatches))
	}
	out.EachFileRecords(func(topic, partition int, length int64) {
		if at[position{topic, partition}] {
			n += length
		}
	})
	if n > 0 {
		s.replQuotas.leader.record(n, time.Now())
	}
}

// followerThrottled reports whether the fetcher must leave fp out of its
// next request: its partition is in this broker's follower throttled list,
// the replica has not caught up, and the follower quota is exceeded.
func (s *Server) followerThrottled(fp *fetchPartition) bool {
	if !fp.p.cfg.Load().FollowerThrottled.has(fp.p.tp.Partition) || !s.replQuotas.follower.limited() {
		return false
	}
	return !fp.caughtUp && s.replQuotas.follower.exceeded(time.Now())
}

// recordFollowerThrottled records n bytes appended to p as a follower when
// p is in the follower throttled list (in sync or not, as Kafka counts
// all traffic of throttled replicas).
func (s *Server) recordFollowerThrottled(p *Partition, n int) {
	if n > 0 && p.cfg.Load().FollowerThrottled.has(p.tp.Partition) {
		s.replQuotas.follower.record(int64(n), time.Now())
	}
}

// inISR reports whether replica is in the committed ISR
// (Partition.inSyncReplicaIds).
func (p *Partition) inISR(replica int32) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.isr {
		if r == replica {
			return true
		}
	}
	return false
}
