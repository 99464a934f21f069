// Package groupcoord is the consumer-group coordinator: Kafka's classic group
// membership protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup), the
// group admin APIs and committed offsets. It knows neither the network nor
// ZooKeeper: the broker hands it decoded kmsg requests and sends back the
// kmsg responses it returns, and committed offsets go through an
// OffsetStore (zkmeta implements it on /consumers/<group>/offsets).
//
// # State machine
//
// A group is in one of Kafka's five states:
//
//	Empty               -> PreparingRebalance   a member joins
//	PreparingRebalance  -> CompletingRebalance  all members rejoined, or the rebalance timeout
//	PreparingRebalance  -> Empty                the join phase ends with no members
//	CompletingRebalance -> Stable               the leader's SyncGroup brings the assignment
//	CompletingRebalance -> PreparingRebalance   join with new protocols, leave, session or sync expiry
//	Stable              -> PreparingRebalance   leader rejoin, new protocols, new member, leave, expiry
//	any                 -> Dead                 DeleteGroups, expiry of the last offset, Unload, Close
//
// What each state means:
//
//   - Empty: no members; may hold offsets. The first JoinGroup moves it to
//     PreparingRebalance and arms group.initial.rebalance.delay.ms, which
//     each new member extends up to the rebalance timeout.
//   - PreparingRebalance: JoinGroups park until every member has rejoined
//     (and no MEMBER_ID_REQUIRED id is outstanding) or the largest
//     rebalance timeout passes; dynamic members that did not rejoin are
//     removed. The members' votes pick the protocol, the generation is
//     bumped, every parked JoinGroup answers, and the leader's answer lists
//     all members with their metadata.
//   - CompletingRebalance: SyncGroups park until the leader's SyncGroup
//     brings the assignment; then all answer and the group is Stable.
//     Members that do not sync within the rebalance timeout are removed.
//   - Stable: heartbeats keep sessions alive; a member whose session timeout
//     passes is removed, which starts a rebalance. Static members
//     (group.instance.id, KIP-345) that rejoin with a new member id take
//     their old place without a rebalance unless that changes the
//     selected protocol; the old id is fenced (FENCED_INSTANCE_ID).
//   - Dead: the group left the coordinator's table; a request that still
//     holds it looks the group up again.
//
// Eager and cooperative (incremental) rebalancing are both plain join/sync
// rounds here; the difference lives in the clients' assignors.
//
// # Request memory
//
// Byte slices inside a request (JoinGroup protocol metadata, SyncGroup
// assignments) alias the broker's request frame, which goes back to a pool
// shared by all connections as soon as the handler returns. Whatever the
// coordinator keeps beyond the call it copies; a member that synced after
// its leader once received another connection's bytes as its assignment.
//
// # Concurrency and lock order
//
// There is no global lock on the request path. Each group has:
//
//   - group.commitMu: serializes the group's writes to the OffsetStore
//     (OffsetCommit, OffsetDelete, DeleteGroups, expiry), held across the
//     store call so writes and the in-memory offsets stay in one order;
//   - group.mu: guards the group's membership, state and offsets; never
//     held across store I/O or while a request waits.
//
// Coordinator.mu guards only the table of groups. The order is
//
//	group.commitMu  →  group.mu  →  Coordinator.mu
//
// and no goroutine holds two groups' locks at once. Waiting requests park
// on a per-member buffered channel that receives exactly one result, sent
// under group.mu, so no send ever blocks. Timers (session, rebalance,
// initial delay, pending member, pending sync) are time.AfterFunc callbacks
// that take group.mu and check that they are still the group's current
// timer; Close stops them all and waits for those already running.
//
// # Offsets
//
// A group's offsets are read from the store when the group is first
// touched, so a coordinator that takes a group over after a broker failure
// continues from its commits. All offsets of one OffsetCommit are written
// in one Commit call (atomic per partition; see OffsetStore.Commit). ExpireOffsets (run every
// offsets.retention.check.interval.ms) applies offsets.retention.minutes.
package groupcoord
