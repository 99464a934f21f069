package broker

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gokafka/gokafka/storage"
	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kerr"
)

// replicaRole is what this broker is for a partition.
type replicaRole int8

const (
	roleNone replicaRole = iota
	roleLeader
	roleFollower
)

// followerState is what the leader knows of one follower (Kafka's Replica):
// the offset it last fetched from (its log end offset) and when it was last
// caught up, for the ISR rules of replica.lag.time.max.ms.
type followerState struct {
	leo                int64 // -1 until it fetches
	logStart           int64 // the log start offset of its last fetch; -1 until it tells
	lastCaughtUp       time.Time
	lastFetch          time.Time
	lastFetchLeaderLEO int64
}

// partitionState is one partition of a LeaderAndIsr request.
type partitionState struct {
	Leader         int32
	LeaderEpoch    int32
	ISR            []int32
	Replicas       []int32
	PartitionEpoch int32
	// LeaderRecoveryState is 1 (RECOVERING) after an unclean election
	// (KIP-704, LeaderAndIsr v6+).
	LeaderRecoveryState int8
}

// becomeLeader applies a LeaderAndIsr that names this broker leader (Kafka's
// Partition.makeLeader): a newer leader epoch is recorded in the epoch
// cache starting at the log end, every other replica starts as "not caught
// up yet" with the leader's clock (so that an ISR member is not dropped
// before it could fetch), and the high watermark is recomputed. A request
// that is not newer than what the partition has is refused
// (checkStateEpochLocked).
func (p *Partition) becomeLeader(st partitionState, now time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.deleted {
		return p.goneError()
	}
	if err := p.checkStateEpochLocked(st); err != nil {
		return err
	}
	if err := p.assignEpochLocked(st.LeaderEpoch, p.log.EndOffset()); err != nil {
		return err
	}
	wasLeader := p.role == roleLeader
	p.role = roleLeader
	p.leading.Store(true)
	p.following.Store(false)
	p.leaderID = p.self
	p.replicas = slices.Clone(st.Replicas)
	p.isr = slices.Clone(st.ISR)
	p.pendingISR = nil
	p.partitionEpoch = st.PartitionEpoch
	p.recoveryState = leaderRecovered // see leader_recovery.go
	old := p.followers
	p.followers = make(map[int32]*followerState, len(st.Replicas))
	for _, r := range st.Replicas {
		if r == p.self {
			continue
		}
		if f, ok := old[r]; ok && wasLeader {
			p.followers[r] = f
			continue
		}
		p.followers[r] = &followerState{leo: -1, logStart: -1, lastCaughtUp: now, lastFetchLeaderLEO: -1}
	}
	p.maybeIncrementHWLocked()
	p.notify()
	return nil
}

// becomeFollower applies a LeaderAndIsr that names another broker (or no
// broker) leader (Kafka's Partition.makeFollower). It reports whether the
// leader or the leader epoch changed, in which case the fetcher truncates
// before fetching again.
func (p *Partition) becomeFollower(st partitionState) (changed bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.deleted {
		return false, p.goneError()
	}
	if err := p.checkStateEpochLocked(st); err != nil {
		return false, err
	}
	changed = p.role != roleFollower || p.leaderID != st.Leader || p.LeaderEpoch() != st.LeaderEpoch
	p.role = roleFollower
	p.leading.Store(false)
	p.following.Store(true)
	p.leaderID = st.Leader
	p.leaderEpoch.Store(st.LeaderEpoch)
	p.replicas = slices.Clone(st.Replicas)
	p.isr = slices.Clone(st.ISR)
	p.pendingISR = nil
	p.partitionEpoch = st.PartitionEpoch
	p.recoveryState = st.LeaderRecoveryState
	p.followers = nil
	// Produce requests parked for acks=all learn that this broker no
	// longer leads.
	p.notify()
	return changed, nil
}

// checkStateEpochLocked applies Kafka's rule for a LeaderAndIsr on a
// partition the broker already serves: only a newer leader epoch, or the
// same leader epoch with a newer partition epoch (the state znode's
// version), changes it; anything else is STALE_CONTROLLER_EPOCH (a resent
// or reordered request must not roll back an ISR the leader has since
// changed). A partition just opened takes any epoch not older than its
// epoch cache's.
func (p *Partition) checkStateEpochLocked(st partitionState) error {
	cur := p.LeaderEpoch()
	if p.role == roleNone {
		if st.LeaderEpoch < cur {
			return kerr.StaleControllerEpoch
		}
		return nil
	}
	if st.LeaderEpoch > cur || (st.LeaderEpoch == cur && st.PartitionEpoch > p.partitionEpoch) {
		return nil
	}
	return kerr.StaleControllerEpoch
}

// stopReplica turns the partition into a plain local log (StopReplica
// without delete): not leader, not follower.
func (p *Partition) stopReplica() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.role = roleNone
	p.leading.Store(false)
	p.following.Store(false)
	p.followers = nil
	p.pendingISR = nil
	p.notify()
}

// assignEpochLocked records epoch starting at start in the leader-epoch
// cache when it is newer than the latest entry.
func (p *Partition) assignEpochLocked(epoch int32, start int64) error {
	if n := len(p.epochs); n > 0 && p.epochs[n-1].Epoch >= epoch {
		if p.LeaderEpoch() < epoch {
			p.leaderEpoch.Store(epoch)
		}
		return nil
	}
	if err := storage.AssignLeaderEpoch(p.log.FS(), p.log.Dir(), epoch, start); err != nil {
		return fmt.Errorf("leader epoch of %s: %w", p.tp, err)
	}
	p.epochs = slices.DeleteFunc(p.epochs, func(e storage.LeaderEpochEntry) bool {
		return e.Epoch >= epoch || e.StartOffset >= start
	})
	p.epochs = append(p.epochs, storage.LeaderEpochEntry{Epoch: epoch, StartOffset: start})
	if p.LeaderEpoch() < epoch {
		p.leaderEpoch.Store(epoch)
	}
	return nil
}

// maximalISRLocked is the ISR the high watermark waits for: the committed
// ISR plus members an in-flight AlterPartition adds. While a shrink is in
// flight the removed member still counts, so the high watermark never
// passes data that the ISR the controller holds may lack (KIP-497).
func (p *Partition) maximalISRLocked() []int32 {
	if p.pendingISR == nil {
		return p.isr
	}
	out := slices.Clone(p.isr)
	for _, r := range p.pendingISR {
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// maybeIncrementHWLocked moves the leader's high watermark to the smallest
// log end offset in the maximal ISR; it never moves back. A follower that
// has not fetched yet holds it where it is.
func (p *Partition) maybeIncrementHWLocked() bool {
	if p.role != roleLeader {
		return false
	}
	hw := p.log.EndOffset()
	for _, r := range p.maximalISRLocked() {
		if r == p.self {
			continue
		}
		f, ok := p.followers[r]
		if !ok || f.leo < 0 {
			return false
		}
		hw = min(hw, f.leo)
	}
	if hw > p.highWatermark.Load() {
		p.highWatermark.Store(hw)
		p.log.HighWatermarkMoved(hw)
		return true
	}
	return false
}

// followerFetched records that replica fetched from offset (Kafka's
// updateFollowerFetchState): its log end offset, whether it has caught up,
// and the high watermark that may follow. It answers NOT_LEADER_OR_FOLLOWER
// when this broker does not lead the partition or replica is not one of its
// replicas, and reports whether the ISR should grow.
//
// logStart is the follower's log start offset from the fetch (-1 before
// Fetch v5); a change wakes DeleteRecords waiting for the low watermark.
func (p *Partition) followerFetched(replica int32, offset, logStart int64, now time.Time) (expand bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.role != roleLeader {
		return false, kerr.NotLeaderForPartition
	}
	f, ok := p.followers[replica]
	if !ok {
		return false, kerr.NotLeaderForPartition
	}
	leo := p.log.EndOffset()
	switch {
	case offset >= leo:
		f.lastCaughtUp = maxTime(f.lastCaughtUp, now)
	case offset >= f.lastFetchLeaderLEO && !f.lastFetch.IsZero():
		f.lastCaughtUp = maxTime(f.lastCaughtUp, f.lastFetch)
	}
	f.leo = offset
	f.lastFetch = now
	f.lastFetchLeaderLEO = leo
	movedStart := logStart != f.logStart
	f.logStart = logStart
	if p.maybeIncrementHWLocked() || movedStart {
		p.notify()
	}
	// Kafka's isFollowerInSync: caught up with the high watermark and
	// with the start of the current leader epoch.
	if !slices.Contains(p.maximalISRLocked(), replica) && p.pendingISR == nil &&
		offset >= p.highWatermark.Load() && offset >= p.currentEpochStartLocked() {
		return true, nil
	}
	return false, nil
}

// currentEpochStartLocked is the start offset of the latest epoch.
func (p *Partition) currentEpochStartLocked() int64 {
	if n := len(p.epochs); n > 0 {
		return p.epochs[n-1].StartOffset
	}
	return 0
}

// isrProposal is an ISR change the leader asks the controller for.
type isrProposal struct {
	tp             topicPartition
	topicID        [16]byte
	leaderEpoch    int32
	partitionEpoch int32
	isr            []int32
	// recoveryState is the leader recovery state the leader reports with
	// the change (RECOVERED: see leader_recovery.go).
	recoveryState int8
}

// proposeExpandLocked returns the ISR with replica added, and marks it
// pending. Only one change is in flight at a time.
func (p *Partition) proposeISRLocked(isr []int32) (isrProposal, bool) {
	if p.role != roleLeader || p.pendingISR != nil || slices.Equal(isr, p.isr) {
		return isrProposal{}, false
	}
	p.pendingISR = slices.Clone(isr)
	return isrProposal{tp: p.tp, topicID: p.topicID, leaderEpoch: p.LeaderEpoch(), partitionEpoch: p.partitionEpoch,
		isr: slices.Clone(isr), recoveryState: p.recoveryState}, true
}

// proposeExpand asks for replica to join the ISR.
func (p *Partition) proposeExpand(replica int32) (isrProposal, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if slices.Contains(p.isr, replica) {
		return isrProposal{}, false
	}
	isr := append(slices.Clone(p.isr), replica)
	return p.proposeISRLocked(isr)
}

// proposeShrink drops from the ISR the followers that have not caught up
// within lag (replica.lag.time.max.ms).
func (p *Partition) proposeShrink(now time.Time, lag time.Duration) (isrProposal, []int32, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.role != roleLeader || p.pendingISR != nil {
		return isrProposal{}, nil, false
	}
	var out []int32
	leo := p.log.EndOffset()
	for _, r := range p.isr {
		if r == p.self {
			continue
		}
		f, ok := p.followers[r]
		if !ok {
			continue
		}
		if f.leo != leo && now.Sub(f.lastCaughtUp) > lag {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return isrProposal{}, nil, false
	}
	isr := slices.DeleteFunc(slices.Clone(p.isr), func(r int32) bool { return slices.Contains(out, r) })
	prop, ok := p.proposeISRLocked(isr)
	return prop, out, ok
}

// isrCommitted applies the controller's answer to prop: the ISR and
// partition epoch it committed become the leader's, and the pending change
// is cleared if it is still prop's. An answer for another leader epoch is
// ignored (a LeaderAndIsr has said more since).
func (p *Partition) isrCommitted(prop isrProposal, leaderEpoch int32, isr []int32, partitionEpoch int32, recoveryState int8) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.role != roleLeader || leaderEpoch != p.LeaderEpoch() {
		return
	}
	if slices.Equal(p.pendingISR, prop.isr) {
		p.pendingISR = nil
	}
	p.isr = slices.Clone(isr)
	p.partitionEpoch = partitionEpoch
	p.recoveryState = recoveryState
	p.maybeIncrementHWLocked()
	p.notify()
}

// isrRejected clears prop as the pending change when the controller said
// it was not applied and will not be (INELIGIBLE_REPLICA,
// OPERATION_NOT_ATTEMPTED): the next check proposes again.
func (p *Partition) isrRejected(prop isrProposal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.LeaderEpoch() == prop.leaderEpoch && slices.Equal(p.pendingISR, prop.isr) {
		p.pendingISR = nil
		if p.maybeIncrementHWLocked() {
			p.notify()
		}
	}
}

// isrPending reports whether prop is still the partition's pending change
// at its leader epoch (a proposal to send again after a transport error).
func (p *Partition) isrPending(prop isrProposal) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.role == roleLeader && p.LeaderEpoch() == prop.leaderEpoch && slices.Equal(p.pendingISR, prop.isr)
}

// isrSize returns the committed ISR's size as the leader sees it, and
// whether this broker leads the partition.
func (p *Partition) isrSize() (int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.isr), p.role == roleLeader
}

// ackState tells a waiting acks=all produce whether its batch ending at
// last is committed (Kafka's checkEnoughReplicasReachOffset): done with no
// error once the high watermark passed it and the ISR still has
// min.insync.replicas members; NOT_ENOUGH_REPLICAS_AFTER_APPEND when the
// ISR shrank below that meanwhile; NOT_LEADER_OR_FOLLOWER once this broker
// no longer leads.
func (p *Partition) ackState(last int64, minISR int32) (bool, *kerr.Error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.deleted {
		return true, p.goneError()
	}
	if p.role != roleLeader {
		return true, kerr.NotLeaderForPartition
	}
	if p.highWatermark.Load() > last {
		if int32(len(p.isr)) < minISR {
			return true, kerr.NotEnoughReplicasAfterAppend
		}
		return true, nil
	}
	return false, nil
}

// appendAsFollower appends batches fetched from the leader as they are
// (offsets, epochs and producer fields unchanged), records new leader
// epochs from the batch headers, and moves the high watermark to the
// leader's as far as this replica has the data. It appends nothing when
// the partition is no longer following at epoch.
//
// leaderLogStart is the leader's log start offset: the follower's follows
// it up to the high watermark (Kafka's follower
// maybeIncrementLogStartOffset after a DeleteRecords or retention on the
// leader).
func (p *Partition) appendAsFollower(data []byte, epoch int32, leaderHW, leaderLogStart int64) (int, error) {
	hdrs, n, err := wire.SplitReplicaBatches(data)
	if err != nil {
		return 0, fmt.Errorf("records from the leader of %s: %w", p.tp, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.deleted || p.role != roleFollower || p.LeaderEpoch() != epoch {
		return 0, nil
	}
	if n > 0 {
		// A compacted leader log has gaps where whole batches were cleaned
		// away: the next batch may start past our end, never before it.
		if hdrs[0].BaseOffset < p.log.EndOffset() {
			return 0, fmt.Errorf("records from the leader of %s start at %d, the log ends at %d", p.tp, hdrs[0].BaseOffset, p.log.EndOffset())
		}
		for _, h := range hdrs {
			if n := len(p.epochs); h.PartitionLeaderEpoch >= 0 && (n == 0 || h.PartitionLeaderEpoch > p.epochs[n-1].Epoch) {
				if err := p.assignEpochLocked(h.PartitionLeaderEpoch, h.BaseOffset); err != nil {
					return 0, err
				}
			}
		}
		last := hdrs[len(hdrs)-1]
		info := storage.AppendInfo{
			BaseOffset:           hdrs[0].BaseOffset,
			LastOffset:           last.BaseOffset + int64(last.LastOffsetDelta),
			MaxTimestamp:         last.MaxTimestamp,
			OffsetOfMaxTimestamp: last.BaseOffset + int64(last.LastOffsetDelta),
		}
		for _, h := range hdrs {
			info.Records += int64(h.RecordCount)
			if h.MaxTimestamp > info.MaxTimestamp {
				info.MaxTimestamp = h.MaxTimestamp
			}
		}
		if err := p.log.Append(data[:n], info); err != nil {
			return 0, fmt.Errorf("append to %s as follower: %w", p.tp, err)
		}
	}
	if hw := min(leaderHW, p.log.EndOffset()); hw > p.highWatermark.Load() {
		p.highWatermark.Store(hw)
		p.log.HighWatermarkMoved(hw)
	}
	if start := min(leaderLogStart, p.highWatermark.Load()); start > p.log.StartOffset() {
		if _, err := p.log.IncrementStartOffset(start); err != nil {
			return n, fmt.Errorf("follow the leader's log start of %s: %w", p.tp, err)
		}
		if err := p.truncateEpochsFromStartLocked(); err != nil {
			return n, err
		}
	}
	p.notify()
	return n, nil
}

// errNotFollowing is returned by the follower-only operations when the
// partition is no longer following at the epoch the caller acted for.
var errNotFollowing = errors.New("no longer following at that leader epoch")

// truncateTo cuts the log (and the leader-epoch cache) back to offset, as
// a follower does before fetching from a new leader; the high watermark
// follows when it was beyond. It does nothing but return errNotFollowing
// unless the partition still follows at epoch: an answer that arrives
// after the partition became leader must not cut acknowledged data.
func (p *Partition) truncateTo(offset int64, epoch int32) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.deleted {
		return p.goneError()
	}
	if p.role != roleFollower || p.LeaderEpoch() != epoch {
		return errNotFollowing
	}
	if offset >= p.log.EndOffset() {
		return nil
	}
	if err := p.log.TruncateTo(offset); err != nil {
		return fmt.Errorf("truncate %s to %d: %w", p.tp, offset, err)
	}
	return p.afterTruncateLocked()
}

// resetTo empties the log and starts it at offset, as a follower does whose
// log ends before the leader's log starts (Kafka's
// truncateFullyAndStartAt); the epoch cache is cleared.
func (p *Partition) resetTo(offset int64, epoch int32) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.deleted {
		return p.goneError()
	}
	if p.role != roleFollower || p.LeaderEpoch() != epoch {
		return errNotFollowing
	}
	if err := p.log.TruncateFullyTo(offset); err != nil {
		return fmt.Errorf("reset %s to %d: %w", p.tp, offset, err)
	}
	p.highWatermark.Store(offset)
	return p.afterTruncateLocked()
}

// afterTruncateLocked brings the epoch cache and the high watermark in line
// with a log that was cut back.
func (p *Partition) afterTruncateLocked() error {
	end := p.log.EndOffset()
	epochs, err := storage.TruncateLeaderEpochs(p.log.FS(), p.log.Dir(), end)
	if err != nil {
		return fmt.Errorf("truncate %s: %w", p.tp, err)
	}
	if p.log.StartOffset() == end {
		// An empty log has no epochs below its start.
		epochs, err = storage.TruncateLeaderEpochs(p.log.FS(), p.log.Dir(), 0)
		if err != nil {
			return fmt.Errorf("truncate %s: %w", p.tp, err)
		}
	}
	p.epochs = epochs
	if hw := p.highWatermark.Load(); hw > end {
		p.highWatermark.Store(end)
	}
	p.notify()
	// A replica moving to another log dir follows the cut.
	if err := p.truncateFutureLocked(); err != nil {
		return fmt.Errorf("truncate the future log of %s: %w", p.tp, err)
	}
	return nil
}

// latestEpoch is the newest epoch in the leader-epoch cache, -1 if none.
func (p *Partition) latestEpoch() int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.epochs); n > 0 {
		return p.epochs[n-1].Epoch
	}
	return -1
}

// endOffsetForEpoch answers OffsetForLeaderEpoch (KIP-101/279) from the
// leader-epoch cache, as Kafka's LeaderEpochFileCache.endOffsetFor does.
func (p *Partition) endOffsetForEpoch(epoch int32) (int32, int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return endOffsetFor(p.epochs, epoch, p.log.EndOffset())
}

// endOffsetFor is endOffsetForEpoch over a cache and a log end offset:
//   - the latest epoch ends at the log end;
//   - an epoch in the cache, or between two of its epochs, answers the
//     largest epoch not above it and the start of the next one;
//   - an epoch older than the first answers itself and the first start;
//   - an epoch newer than the latest, or -1, or an empty cache answer
//     UNDEFINED (-1, -1).
func endOffsetFor(epochs []storage.LeaderEpochEntry, epoch int32, leo int64) (int32, int64) {
	if epoch < 0 || len(epochs) == 0 {
		return -1, -1
	}
	if epochs[len(epochs)-1].Epoch == epoch {
		return epoch, leo
	}
	higher := -1
	for i, e := range epochs {
		if e.Epoch > epoch {
			higher = i
			break
		}
	}
	if higher < 0 {
		return -1, -1
	}
	if higher == 0 {
		return epoch, epochs[0].StartOffset
	}
	return epochs[higher-1].Epoch, epochs[higher].StartOffset
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// replicaList returns the partition's assignment as last told.
func (p *Partition) replicaList() []int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.replicas)
}
