package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/gokafka/gokafka/zkmeta"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// Partition reassignment (KIP-455, Kafka's
// KafkaController.onPartitionReassignment).
//
// A partition being reassigned has, in its topic znode and in the
// controller's memory, the full replica set RS = target + original (target
// first, in the order asked), adding_replicas AR = RS - original and
// removing_replicas RR = RS - target. The topic znode is the only place
// the original replicas are kept, so it is rewritten to the target last:
// a controller that fails over anywhere in between finds the reassignment
// there and carries on (initReassignments).
//
// Phase A (the target is not all in the ISR): the leader epoch goes up and
// every replica of RS gets LeaderAndIsr with RS; new replicas start as
// followers and copy the log from the leader, which adds them to the ISR
// through AlterPartition once they have caught up.
//
// Phase B (the target is all in the ISR; checked after every ISR change):
// RS becomes the target in memory; the leader moves to the first live
// in-sync target replica when the current one is not in the target (or is
// dead), and the removed replicas leave the ISR, in one state write with a
// new leader epoch sent to the target's replicas; the removed replicas get
// StopReplica with delete, so their logs go; the topic znode is written
// without the reassignment; the partition leaves /admin/reassign_partitions
// (the znode goes with the last one); every broker gets UpdateMetadata.
//
// A new reassignment of a partition that is being moved replaces the old
// one (the original replicas stay the original ones), and replicas that
// neither the old assignment's original set nor the new target contain are
// stopped and deleted at once. Cancelling (a null target) is a
// reassignment back to the original replicas.

type (
	evAlterReassignments struct {
		req   *kmsg.AlterPartitionAssignmentsRequest
		reply chan<- *kmsg.AlterPartitionAssignmentsResponse
	}
	evListReassignments struct {
		req   *kmsg.ListPartitionReassignmentsRequest
		reply chan<- *kmsg.ListPartitionReassignmentsResponse
	}
	// evZkReassignments: /admin/reassign_partitions was created, changed
	// or deleted.
	evZkReassignments struct{}
)

// AlterPartitionReassignments handles AlterPartitionReassignments (key 45)
// through the loop: each partition starts (or, with a null replica list,
// cancels) a reassignment, or gets Kafka's error for it. A broker that is
// not the controller answers NOT_CONTROLLER.
func (c *Controller) AlterPartitionReassignments(ctx context.Context, req *kmsg.AlterPartitionAssignmentsRequest) *kmsg.AlterPartitionAssignmentsResponse {
	return ask(ctx, c, func(reply chan<- *kmsg.AlterPartitionAssignmentsResponse) event {
		return evAlterReassignments{req: req, reply: reply}
	}, func(code int16) *kmsg.AlterPartitionAssignmentsResponse {
		resp := req.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
		resp.Version = req.Version
		resp.ErrorCode = code
		return resp
	})
}

// ListPartitionReassignments handles ListPartitionReassignments (key 46):
// the partitions being reassigned (of those named, or all), with their
// full replica set and the replicas being added and removed.
func (c *Controller) ListPartitionReassignments(ctx context.Context, req *kmsg.ListPartitionReassignmentsRequest) *kmsg.ListPartitionReassignmentsResponse {
	return ask(ctx, c, func(reply chan<- *kmsg.ListPartitionReassignmentsResponse) event {
		return evListReassignments{req: req, reply: reply}
	}, func(code int16) *kmsg.ListPartitionReassignmentsResponse {
		resp := req.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
		resp.Version = req.Version
		resp.ErrorCode = code
		return resp
	})
}

// assignment is one partition's replicas with an ongoing reassignment
// (Kafka's ReplicaAssignment).
type assignment struct {
	replicas, adding, removing []int32
}

func (a assignment) reassigning() bool { return len(a.adding) > 0 || len(a.removing) > 0 }

// origin is the replica set before the reassignment.
func (a assignment) origin() []int32 { return without(a.replicas, a.adding) }

// target is the replica set the reassignment ends with.
func (a assignment) target() []int32 { return without(a.replicas, a.removing) }

// reassignTo is the assignment that moves a's original replicas to target:
// the target first, then the original replicas not in it.
func (a assignment) reassignTo(target []int32) assignment {
	origin := a.origin()
	var full []int32
	for _, r := range append(slices.Clone(target), origin...) {
		if !slices.Contains(full, r) {
			full = append(full, r)
		}
	}
	return assignment{replicas: full, adding: without(full, origin), removing: without(full, target)}
}

func (a assignment) equal(b assignment) bool {
	return slices.Equal(a.replicas, b.replicas) && slices.Equal(a.adding, b.adding) && slices.Equal(a.removing, b.removing)
}

// without is xs less the members of drop, in xs's order (never nil when
// empty, for JSON).
func without(xs, drop []int32) []int32 {
	out := []int32{}
	for _, x := range xs {
		if !slices.Contains(drop, x) {
			out = append(out, x)
		}
	}
	return out
}

// assignmentOf is p's assignment as the controller knows it; ok is false
// for an unknown partition.
func (st *state) assignmentOf(p tp) (assignment, bool) {
	t, ok := st.topics[p.topic]
	if !ok {
		return assignment{}, false
	}
	reps, ok := t.assignment.Partitions[p.partition]
	if !ok {
		return assignment{}, false
	}
	return assignment{replicas: reps, adding: t.assignment.AddingReplicas[p.partition], removing: t.assignment.RemovingReplicas[p.partition]}, true
}

// queuedForDeletion reports whether topic is marked for deletion, whether
// its deletion has started or still waits for its reassignments (Kafka's
// isTopicQueuedUpForDeletion covers both): elections skip it and new
// reassignments treat it as gone.
func (st *state) queuedForDeletion(topic string) bool {
	return st.deleting[topic] != nil || st.deletionWaits[topic]
}

// reassigning reports whether p has a reassignment in progress.
func (st *state) reassigning(p tp) bool {
	a, ok := st.assignmentOf(p)
	return ok && a.reassigning()
}

// topicReassigning reports whether any partition of topic is being
// reassigned; such a topic is not deleted until they are done, as Kafka
// marks it ineligible for deletion.
func (st *state) topicReassigning(topic string) bool {
	t, ok := st.topics[topic]
	return ok && (len(t.assignment.AddingReplicas) > 0 || len(t.assignment.RemovingReplicas) > 0)
}

// reassigningPartitions lists every partition being reassigned, sorted.
func (st *state) reassigningPartitions() []tp {
	m := map[tp]bool{}
	for name, t := range st.topics {
		for p := range t.assignment.AddingReplicas {
			m[tp{name, p}] = true
		}
		for p := range t.assignment.RemovingReplicas {
			m[tp{name, p}] = true
		}
	}
	return sortedTPs(m)
}

// setAssignment records a in memory.
func (st *state) setAssignment(p tp, a assignment) {
	t := st.topics[p.topic]
	ta := &t.assignment
	ta.Partitions[p.partition] = slices.Clone(a.replicas)
	if ta.AddingReplicas == nil {
		ta.AddingReplicas = map[int32][]int32{}
	}
	if ta.RemovingReplicas == nil {
		ta.RemovingReplicas = map[int32][]int32{}
	}
	delete(ta.AddingReplicas, p.partition)
	delete(ta.RemovingReplicas, p.partition)
	if len(a.adding) > 0 {
		ta.AddingReplicas[p.partition] = slices.Clone(a.adding)
	}
	if len(a.removing) > 0 {
		ta.RemovingReplicas[p.partition] = slices.Clone(a.removing)
	}
}

// writeAssignment stores p's assignment in its topic znode (Kafka's
// updateReplicaAssignmentForPartition), keeping every other partition as
// ZooKeeper has it, then in memory. The write is fenced by the controller
// epoch; a topic znode changed by someone else in between is read again.
func (st *state) writeAssignment(ctx context.Context, p tp, a assignment) error {
	for attempt := 0; ; attempt++ {
		cur, err := st.zk.Topic(ctx, p.topic)
		if err != nil {
			return fmt.Errorf("read topic %s: %w", p.topic, err)
		}
		if _, ok := cur.Partitions[p.partition]; !ok {
			return fmt.Errorf("write assignment of %s: the topic znode has no such partition", p)
		}
		if cur.AddingReplicas == nil {
			cur.AddingReplicas = map[int32][]int32{}
		}
		if cur.RemovingReplicas == nil {
			cur.RemovingReplicas = map[int32][]int32{}
		}
		cur.Partitions[p.partition] = a.replicas
		delete(cur.AddingReplicas, p.partition)
		delete(cur.RemovingReplicas, p.partition)
		if len(a.adding) > 0 {
			cur.AddingReplicas[p.partition] = a.adding
		}
		if len(a.removing) > 0 {
			cur.RemovingReplicas[p.partition] = a.removing
		}
		err = st.zk.SetTopic(ctx, st.ce, p.topic, cur)
		if err == nil {
			st.setAssignment(p, a)
			return nil
		}
		err = fenced(fmt.Errorf("write assignment of %s: %w", p, err))
		if !errors.Is(err, zkmeta.ErrBadVersion) || attempt >= 5 {
			return err
		}
	}
}

// reassign starts, replaces or cancels p's reassignment with assignment
// next and takes it as far as it can go now (Kafka's
// onPartitionReassignment).
func (st *state) reassign(ctx context.Context, p tp, next assignment, b *batch) error {
	cur, _ := st.assignmentOf(p)
	if !cur.equal(next) {
		// U1, U2: the topic znode first, then memory.
		if err := st.writeAssignment(ctx, p, next); err != nil {
			return err
		}
		st.logger.Info("partition reassignment", zap.String("partition", p.String()),
			zap.Int32s("replicas", next.replicas), zap.Int32s("adding", next.adding), zap.Int32s("removing", next.removing))
		// U3: replicas that a replaced reassignment was adding and the
		// new one does not keep.
		if unneeded := without(cur.replicas, next.replicas); len(unneeded) > 0 {
			if err := st.stopRemovedReplicas(ctx, p, unneeded, b); err != nil {
				return err
			}
		}
	}
	if _, ok := st.parts[p]; !ok {
		// Never online (no replica was live): there is no data to move,
		// so the assignment is simply the target.
		return st.finishReassignment(ctx, p, next, b)
	}
	if !st.reassignmentComplete(p, next) {
		// A1, A2: a new leader epoch, and LeaderAndIsr with the full
		// replica set to every replica (the new ones create the log).
		return st.bumpLeaderEpoch(ctx, p, b)
	}
	return st.completeReassignment(ctx, p, next, b)
}

// reassignmentComplete reports whether every target replica is in the ISR
// (Kafka's isReassignmentComplete); a partition not being reassigned is
// complete.
func (st *state) reassignmentComplete(p tp, a assignment) bool {
	if !a.reassigning() {
		return true
	}
	s, ok := st.parts[p]
	if !ok {
		return false
	}
	for _, r := range a.target() {
		if !slices.Contains(s.ISR, r) {
			return false
		}
	}
	return true
}

// bumpLeaderEpoch writes p's state again with the next leader epoch and
// nothing else changed, so that every replica takes the new replica set
// (Kafka's updateLeaderEpochAndSendRequest).
func (st *state) bumpLeaderEpoch(ctx context.Context, p tp, b *batch) error {
	cur, ok := st.parts[p]
	if !ok {
		return fmt.Errorf("bump the leader epoch of %s: the partition has no state", p)
	}
	next := cur
	next.ISR = slices.Clone(cur.ISR)
	next.LeaderEpoch = cur.LeaderEpoch + 1
	return st.write(ctx, p, next, b)
}

// completeReassignment is phase B for p, whose target replicas are all in
// the ISR.
func (st *state) completeReassignment(ctx context.Context, p tp, a assignment, b *batch) error {
	target := a.target()
	cur := st.parts[p]
	next := cur
	// B3: the leader moves when it is not a live target replica (Kafka's
	// ReassignPartitionLeaderElectionStrategy: the first target replica
	// that is live and in the ISR).
	if !slices.Contains(target, cur.Leader) || !st.replicaOnline(cur.Leader, p) {
		next.Leader = -1
		for _, r := range target {
			if st.replicaOnline(r, p) && slices.Contains(cur.ISR, r) {
				next.Leader = r
				break
			}
		}
		if next.Leader < 0 {
			st.logger.Warn("reassignment cannot complete: no target replica is live and in sync; waiting for one",
				zap.String("partition", p.String()), zap.Int32s("target", target), zap.Int32s("isr", cur.ISR))
			return nil
		}
	}
	// B2: the target becomes the replica set in memory, so that the
	// requests below go to the target replicas only.
	st.setAssignment(p, assignment{replicas: target})
	// B4: the removed replicas leave the ISR; one write with the leader
	// of B3 and a new leader epoch.
	next.ISR = without(cur.ISR, a.removing)
	next.LeaderEpoch = cur.LeaderEpoch + 1
	if err := st.write(ctx, p, next, b); err != nil {
		st.setAssignment(p, a)
		return err
	}
	if next.Leader != cur.Leader {
		st.logger.Info("reassignment moved the leader", zap.String("partition", p.String()),
			zap.Int32("from", cur.Leader), zap.Int32("to", next.Leader))
	}
	return st.finishReassignment(ctx, p, a, b)
}

// finishReassignment is phase B after the state change: B5 to B8.
func (st *state) finishReassignment(ctx context.Context, p tp, a assignment, b *batch) error {
	target := a.target()
	st.setAssignment(p, assignment{replicas: target})
	// B5: the removed replicas stop and delete their logs.
	for _, r := range a.removing {
		b.stopReplicaFor(r, p, true)
	}
	// B6: the topic znode without the reassignment. Memory already has it;
	// a failure here leaves the znode with the reassignment, which the
	// next controller finds complete and finishes.
	if err := st.writeAssignment(ctx, p, assignment{replicas: target}); err != nil {
		return err
	}
	st.logger.Info("partition reassignment completed", zap.String("partition", p.String()), zap.Int32s("replicas", target))
	// B7: out of /admin/reassign_partitions when it asked for exactly
	// this.
	if err := st.removeFromZkReassignments(ctx, func(r zkmeta.PartitionReassignment) bool {
		return r.Topic == p.topic && r.Partition == p.partition && slices.Equal(r.Replicas, target)
	}); err != nil {
		return err
	}
	// B8: everyone learns the new replica set.
	b.update(p)
	if st.deletionWaits[p.topic] && !st.topicReassigning(p.topic) {
		// A deletion that waited for the reassignments goes on.
		delete(st.deletionWaits, p.topic)
		go st.t.post(evDeletions{})
	}
	return nil
}

// stopRemovedReplicas takes replicas out of p's ISR and stops them with
// delete (Kafka's stopRemovedReplicasOfReassignedPartition: OfflineReplica,
// then NonExistentReplica). A partition whose whole ISR would go keeps it.
func (st *state) stopRemovedReplicas(ctx context.Context, p tp, removed []int32, b *batch) error {
	cur, ok := st.parts[p]
	if ok && slices.ContainsFunc(cur.ISR, func(r int32) bool { return slices.Contains(removed, r) }) {
		next := cur
		next.ISR = without(cur.ISR, removed)
		if len(next.ISR) == 0 {
			next.ISR = slices.Clone(cur.ISR)
		}
		if slices.Contains(removed, cur.Leader) {
			next.Leader = -1
		}
		next.LeaderEpoch = cur.LeaderEpoch + 1
		if err := st.write(ctx, p, next, b); err != nil {
			return err
		}
	}
	for _, r := range removed {
		delete(b.leaderAndIsr[r], p)
		b.stopReplicaFor(r, p, true)
	}
	return nil
}

// maybeCompleteReassignments finishes the reassignments of ps whose target
// replicas are all in the ISR now (after an ISR change).
func (st *state) maybeCompleteReassignments(ctx context.Context, ps []tp, b *batch) error {
	for _, p := range ps {
		a, ok := st.assignmentOf(p)
		if !ok || !a.reassigning() || !st.reassignmentComplete(p, a) {
			continue
		}
		st.logger.Info("target replicas are in sync", zap.String("partition", p.String()), zap.Int32s("target", a.target()))
		if err := st.reassign(ctx, p, a, b); err != nil {
			if errors.Is(err, errResign) {
				return err
			}
			st.logger.Error("complete partition reassignment", zap.String("partition", p.String()), zap.Error(err))
		}
	}
	return nil
}

// resumeReassignments takes every reassignment that shouldResume selects
// a step further (Kafka's maybeResumeReassignments).
func (st *state) resumeReassignments(ctx context.Context, b *batch, shouldResume func(tp, assignment) bool) error {
	for _, p := range st.reassigningPartitions() {
		a, _ := st.assignmentOf(p)
		if !shouldResume(p, a) {
			continue
		}
		if err := st.reassign(ctx, p, a, b); err != nil {
			if errors.Is(err, errResign) {
				return err
			}
			st.logger.Error("resume partition reassignment", zap.String("partition", p.String()), zap.Error(err))
		}
	}
	return nil
}

// reassignmentsOnBrokerStartup resumes the reassignments whose target
// includes a broker that just started (Kafka's onBrokerStartup).
func (st *state) reassignmentsOnBrokerStartup(ctx context.Context, born []int32) error {
	b := st.newBatch()
	defer st.send(b)
	return st.resumeReassignments(ctx, b, func(_ tp, a assignment) bool {
		return slices.ContainsFunc(a.target(), func(r int32) bool { return slices.Contains(born, r) })
	})
}

// initReassignments runs at controller start (Kafka's
// initializePartitionReassignments): reassignments asked through
// /admin/reassign_partitions while no controller watched, then every
// other reassignment found in the topic znodes.
func (st *state) initReassignments(ctx context.Context) error {
	resumed, err := st.zkReassignments(ctx)
	if err != nil {
		return err
	}
	b := st.newBatch()
	defer st.send(b)
	return st.resumeReassignments(ctx, b, func(p tp, _ assignment) bool { return !resumed[p] })
}

// zkReassignments handles /admin/reassign_partitions (Kafka's
// processZkPartitionReassignment): each listed partition is reassigned to
// its replicas (replacing an API reassignment of it: the latest request
// wins), and partitions that cannot be are taken out of the znode. A
// znode this controller already handled (same creation) is left alone: it
// is the controller's own rewrite. It returns the partitions reassigned.
func (st *state) zkReassignments(ctx context.Context) (map[tp]bool, error) {
	z, ch, err := st.zk.WatchPartitionReassignments(ctx)
	if err != nil {
		st.logger.Warn("read "+reassignPartitionsPath, zap.Error(err))
		st.t.watchOnce(st.t.ctx, retryAfter(st.t.ctx), evZkReassignments{})
		return nil, nil
	}
	st.t.watchOnce(st.t.ctx, ch, evZkReassignments{})
	if !z.Exists || z.Czxid == st.zkReassignCzxid {
		return nil, nil
	}
	st.zkReassignCzxid = z.Czxid
	if z.Err != nil {
		st.logger.Warn("ignoring a partition reassignment that does not parse", zap.Error(z.Err))
		return nil, nil
	}
	done := map[tp]bool{}
	failed := map[tp]bool{}
	b := st.newBatch()
	defer st.send(b)
	for _, r := range z.Reassignments {
		p := tp{r.Topic, r.Partition}
		cur, ok := st.assignmentOf(p)
		if !ok || st.queuedForDeletion(p.topic) {
			st.logger.Warn("reassignment of a partition that does not exist", zap.String("partition", p.String()))
			failed[p] = true
			continue
		}
		if err := validReassignment(r.Replicas); err != nil {
			// Kafka takes the replicas as given; a list that cannot be an
			// assignment is refused here rather than written.
			st.logger.Warn("refusing a reassignment from "+reassignPartitionsPath, zap.String("partition", p.String()), zap.Error(err))
			failed[p] = true
			continue
		}
		if err := st.reassign(ctx, p, cur.reassignTo(r.Replicas), b); err != nil {
			if errors.Is(err, errResign) {
				return nil, err
			}
			st.logger.Error("partition reassignment", zap.String("partition", p.String()), zap.Error(err))
			failed[p] = true
			continue
		}
		done[p] = true
	}
	if len(failed) > 0 {
		if err := st.removeFromZkReassignments(ctx, func(r zkmeta.PartitionReassignment) bool {
			return failed[tp{r.Topic, r.Partition}]
		}); err != nil {
			return nil, err
		}
	}
	return done, nil
}

const reassignPartitionsPath = "/admin/reassign_partitions"

// removeFromZkReassignments takes the entries drop selects out of
// /admin/reassign_partitions, deleting the znode when none is left
// (Kafka's maybeRemoveFromZkReassignment).
func (st *state) removeFromZkReassignments(ctx context.Context, drop func(zkmeta.PartitionReassignment) bool) error {
	rs, err := st.zk.PartitionReassignments(ctx)
	if errors.Is(err, zkmeta.ErrNoNode) {
		return nil
	}
	if err != nil {
		// Unparsable or unreadable: nothing of it is being carried out.
		st.logger.Warn("read "+reassignPartitionsPath, zap.Error(err))
		return nil
	}
	keep := slices.DeleteFunc(slices.Clone(rs), drop)
	if len(keep) == len(rs) {
		return nil
	}
	if err := st.zk.SetPartitionReassignments(ctx, st.ce, keep); err != nil {
		return fenced(err)
	}
	if len(keep) == 0 {
		st.logger.Info("every partition of " + reassignPartitionsPath + " is reassigned; znode deleted")
	}
	return nil
}

// validReassignment applies Kafka's checks of a target replica list
// (validateReplicas) but the liveness one.
func validReassignment(replicas []int32) error {
	if len(replicas) == 0 {
		return errors.New("Empty replica list specified in partition reassignment.")
	}
	for i, r := range replicas {
		if slices.Contains(replicas[:i], r) {
			return fmt.Errorf("Duplicate replica ids in partition reassignment replica list: %s", fmtIDs(replicas))
		}
	}
	for _, r := range replicas {
		if r < 0 {
			return fmt.Errorf("Invalid broker id in replica list: %s", fmtIDs(replicas))
		}
	}
	return nil
}

// fmtIDs writes ids as Scala prints a Seq of them: List(1, 2, 3).
func fmtIDs(ids []int32) string {
	s := "List("
	for i, id := range ids {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprint(id)
	}
	return s + ")"
}

// alterReassignments applies AlterPartitionReassignments (Kafka's
// processApiPartitionReassignment). Per partition: a replica list that is
// empty, has duplicates or negative ids, or adds a broker that is not live
// is INVALID_REPLICA_ASSIGNMENT; cancelling a partition that is not being
// reassigned is NO_REASSIGNMENT_IN_PROGRESS; a partition that does not
// exist (or whose topic is marked for deletion) is
// UNKNOWN_TOPIC_OR_PARTITION. Partitions reassigned here leave
// /admin/reassign_partitions, whose reassignment they replace.
func (st *state) alterReassignments(ctx context.Context, e evAlterReassignments) error {
	req := e.req
	resp := req.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
	resp.Version = req.Version
	defer func() { e.reply <- resp }()

	var items []*reassignItem
	at := map[tp]*reassignItem{}
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			p := tp{rt.Topic, rp.Partition}
			it, ok := at[p]
			if !ok {
				it = &reassignItem{p: p}
				at[p] = it
				items = append(items, it)
			}
			it.target = rp.Replicas
			if rp.Replicas != nil && len(rp.Replicas) == 0 {
				it.target = []int32{}
			}
		}
	}
	fail := func(it *reassignItem, err *kerr.Error, msg string) {
		it.code = err.Code
		if msg != "" {
			it.msg = &msg
		}
	}
	var todo []*reassignItem
	for _, it := range items {
		cur, known := st.assignmentOf(it.p)
		if it.target != nil {
			if err := validReassignment(it.target); err != nil {
				fail(it, kerr.InvalidReplicaAssignment, err.Error())
				continue
			}
			next := cur.reassignTo(it.target)
			var dead []int32
			for _, r := range next.adding {
				if !st.live(r) {
					dead = append(dead, r)
				}
			}
			if len(dead) > 0 {
				fail(it, kerr.InvalidReplicaAssignment, fmt.Sprintf("Replica assignment has brokers that are not alive. Replica list: %s, live broker list: %s",
					fmtIDs(next.adding), fmtIDs(sortedIDs(st.brokers))))
				continue
			}
			it.next = next
		} else {
			if !cur.reassigning() {
				fail(it, kerr.NoReassignmentInProgress, "")
				continue
			}
			it.next = cur.reassignTo(cur.origin())
		}
		if !known || st.queuedForDeletion(it.p.topic) {
			// A topic marked for deletion is gone as far as a new
			// reassignment is concerned.
			fail(it, kerr.UnknownTopicOrPartition, "The partition does not exist.")
			continue
		}
		todo = append(todo, it)
	}
	// The latest reassignment wins over one asked through ZooKeeper.
	if len(todo) > 0 {
		if err := st.removeFromZkReassignments(ctx, func(r zkmeta.PartitionReassignment) bool {
			_, ok := at[tp{r.Topic, r.Partition}]
			return ok && at[tp{r.Topic, r.Partition}].code == 0
		}); err != nil {
			for _, it := range todo {
				fail(it, kerr.NotController, "")
			}
			st.fillAlterResponse(resp, items)
			return err
		}
	}
	b := st.newBatch()
	defer st.send(b)
	for i, it := range todo {
		if err := st.reassign(ctx, it.p, it.next, b); err != nil {
			if errors.Is(err, errResign) {
				for _, rest := range todo[i:] {
					fail(rest, kerr.NotController, "")
				}
				st.fillAlterResponse(resp, items)
				return err
			}
			st.logger.Error("partition reassignment", zap.String("partition", it.p.String()), zap.Error(err))
			fail(it, kerr.UnknownServerError, "")
		}
	}
	st.fillAlterResponse(resp, items)
	return nil
}

// reassignItem is one partition of an AlterPartitionReassignments request.
type reassignItem struct {
	p      tp
	target []int32 // nil: cancel
	code   int16
	msg    *string
	next   assignment
}

// fillAlterResponse writes the per-partition results, grouped by topic in
// the order the request named them.
func (st *state) fillAlterResponse(resp *kmsg.AlterPartitionAssignmentsResponse, items []*reassignItem) {
	byTopic := map[string]int{}
	for _, it := range items {
		i, ok := byTopic[it.p.topic]
		if !ok {
			t := kmsg.NewAlterPartitionAssignmentsResponseTopic()
			t.Topic = it.p.topic
			resp.Topics = append(resp.Topics, t)
			i = len(resp.Topics) - 1
			byTopic[it.p.topic] = i
		}
		rp := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
		rp.Partition = it.p.partition
		rp.ErrorCode = it.code
		rp.ErrorMessage = it.msg
		resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, rp)
	}
}

// listReassignments answers ListPartitionReassignments (Kafka's
// processListPartitionReassignments): of the partitions named (all when
// the request names no topics), those being reassigned. Partitions that do
// not exist or are not being moved are simply absent.
func (st *state) listReassignments(e evListReassignments) error {
	req := e.req
	resp := req.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
	resp.Version = req.Version
	defer func() { e.reply <- resp }()
	var ps []tp
	if req.Topics == nil {
		ps = st.reassigningPartitions()
	} else {
		seen := map[tp]bool{}
		for _, t := range req.Topics {
			for _, p := range t.Partitions {
				if k := (tp{t.Topic, p}); !seen[k] {
					seen[k] = true
					ps = append(ps, k)
				}
			}
		}
	}
	byTopic := map[string]int{}
	for _, p := range ps {
		a, ok := st.assignmentOf(p)
		if !ok || !a.reassigning() {
			continue
		}
		i, ok := byTopic[p.topic]
		if !ok {
			t := kmsg.NewListPartitionReassignmentsResponseTopic()
			t.Topic = p.topic
			resp.Topics = append(resp.Topics, t)
			i = len(resp.Topics) - 1
			byTopic[p.topic] = i
		}
		rp := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
		rp.Partition = p.partition
		rp.Replicas = slices.Clone(a.replicas)
		rp.AddingReplicas = slices.Clone(a.adding)
		rp.RemovingReplicas = slices.Clone(a.removing)
		resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, rp)
	}
	return nil
}
