package groupcoord

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokafka/gokafka/zkmeta"
	"github.com/twmb/franz-go/pkg/kerr"
	"go.uber.org/zap"
)

// Error codes the coordinator answers with, named once.
var (
	errUnknownMemberID        = kerr.UnknownMemberID.Code
	errIllegalGeneration      = kerr.IllegalGeneration.Code
	errRebalanceInProgress    = kerr.RebalanceInProgress.Code
	errFencedInstanceID       = kerr.FencedInstanceID.Code
	errInconsistentProtocol   = kerr.InconsistentGroupProtocol.Code
	errCoordinatorUnavailable = kerr.CoordinatorNotAvailable.Code
	errNotCoordinator         = kerr.NotCoordinator.Code
	errInvalidGroupID         = kerr.InvalidGroupID.Code
)

// errClosed is returned by lookups once Close has begun.
var errClosed = errors.New("group coordinator closed")

// errNotOwned is returned by lookups of groups Config.Owns rejects.
var errNotOwned = errors.New("group not owned by this coordinator")

// Coordinator is the consumer-group coordinator: it runs the membership
// protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) and keeps committed
// offsets through an OffsetStore. Its methods take kmsg requests and return
// kmsg responses of the request's version; they are safe for concurrent use,
// and JoinGroup and SyncGroup block until the rebalance step they wait for
// completes or ctx ends.
type Coordinator struct {
	cfg   Config
	log   *zap.Logger
	store OffsetStore

	// mu guards the group table. It is the innermost lock and is never held
	// while waiting or doing I/O.
	mu       sync.Mutex
	groups   map[string]*group
	deleting map[string]chan struct{} // groups whose store deletion is in flight
	removals uint64                   // bumped whenever a group leaves the table
	// txnGuards holds TxnOffsetCommit's verification guards
	// (txn_offset_verification.go).
	txnGuards map[txnGuardKey]*TxnOffsetGuard

	closed atomic.Bool
	stop   chan struct{}
	// timers counts scheduled timer callbacks and the expiry loop, so
	// Close can wait until none runs.
	timers sync.WaitGroup
}

// New returns a coordinator with cfg (zero fields take Kafka's defaults) and
// starts its periodic offset-expiry pass. Close stops it.
func New(cfg Config) (*Coordinator, error) {
	if cfg.Store == nil {
		return nil, errors.New("groupcoord: Config.Store is required")
	}
	cfg = cfg.withDefaults()
	if cfg.MinSessionTimeout > cfg.MaxSessionTimeout {
		return nil, fmt.Errorf("groupcoord: group.min.session.timeout.ms %d > group.max.session.timeout.ms %d",
			cfg.MinSessionTimeout.Milliseconds(), cfg.MaxSessionTimeout.Milliseconds())
	}
	c := &Coordinator{
		cfg:      cfg,
		log:      cfg.Logger,
		store:    cfg.Store,
		groups:   make(map[string]*group),
		deleting: make(map[string]chan struct{}),
		stop:     make(chan struct{}),
	}
	if cfg.OffsetsRetentionCheckInterval > 0 {
		c.timers.Add(1)
		go c.expiryLoop()
	}
	return c, nil
}

// Close stops the coordinator: every group is unloaded (waiting JoinGroup
// and SyncGroup requests answer NOT_COORDINATOR, as when Kafka moves a
// group away), every timer is stopped and the expiry pass ends. Close waits
// for all of them; calls after Close answer NOT_COORDINATOR.
func (c *Coordinator) Close() {
	if c.closed.Swap(true) {
		return
	}
	close(c.stop)
	c.mu.Lock()
	gs := make([]*group, 0, len(c.groups))
	for _, g := range c.groups {
		gs = append(gs, g)
	}
	c.mu.Unlock()
	for _, g := range gs {
		g.mu.Lock()
		c.unloadLocked(g)
		g.mu.Unlock()
	}
	c.timers.Wait()
}

// Unload drops a group this coordinator no longer owns (its coordinator
// moved to another broker): waiting requests answer NOT_COORDINATOR and the
// group's timers stop. Its offsets stay in the store for the new owner.
func (c *Coordinator) Unload(groupID string) {
	c.mu.Lock()
	g := c.groups[groupID]
	c.mu.Unlock()
	if g == nil {
		return
	}
	g.mu.Lock()
	c.unloadLocked(g)
	g.mu.Unlock()
}

// UnloadMoved unloads every group in memory that Config.Owns no longer
// accepts (see Unload) and returns their ids.
func (c *Coordinator) UnloadMoved() []string {
	if c.cfg.Owns == nil {
		return nil
	}
	c.mu.Lock()
	var moved []*group
	for id, g := range c.groups {
		if !c.cfg.Owns(id) {
			moved = append(moved, g)
		}
	}
	c.mu.Unlock()
	ids := make([]string, 0, len(moved))
	for _, g := range moved {
		g.mu.Lock()
		c.unloadLocked(g)
		g.mu.Unlock()
		ids = append(ids, g.id)
	}
	return ids
}

// unloadLocked marks g Dead, removes it from the table, answers its waiters
// with NOT_COORDINATOR and stops its timers. g.mu is held.
func (c *Coordinator) unloadLocked(g *group) {
	if g.state == stateDead {
		return
	}
	c.killLocked(g)
	for _, m := range g.members {
		m.answerJoin(joinResult{errorCode: errNotCoordinator, memberID: m.id, generation: -1})
		m.answerSync(syncResult{errorCode: errNotCoordinator})
	}
}

// killLocked moves g to Dead, takes it out of the table and stops every
// timer it owns. g.mu is held.
func (c *Coordinator) killLocked(g *group) {
	g.state = stateDead
	g.stateSince = c.cfg.Now()
	c.mu.Lock()
	if c.groups[g.id] == g {
		delete(c.groups, g.id)
		c.removals++
	}
	c.mu.Unlock()
	g.joinTimer.stop()
	g.joinTimer = nil
	g.syncTimer.stop()
	g.syncTimer = nil
	for id, t := range g.pending {
		t.stop()
		delete(g.pending, id)
	}
	for _, m := range g.members {
		m.expiry.stop()
		m.expiry = nil
	}
}

// timer is a stoppable callback owned by the coordinator: Close waits for
// every callback that was scheduled and not stopped.
type timer struct {
	c *Coordinator
	t *time.Timer
}

// afterFunc runs f after d unless the returned timer is stopped first. It is
// called with the lock of the group f belongs to held, and f takes that lock
// itself, so f never runs before afterFunc's caller has stored the timer.
func (c *Coordinator) afterFunc(d time.Duration, f func()) *timer {
	c.timers.Add(1)
	return &timer{c: c, t: time.AfterFunc(d, func() {
		defer c.timers.Done()
		f()
	})}
}

// stop cancels the timer; a nil timer is a no-op.
func (t *timer) stop() {
	if t != nil && t.t.Stop() {
		t.c.timers.Done()
	}
}

// lookup returns the group named id, loading its offsets from the store on
// first touch. A group that is neither in memory nor in the store is created
// when create is set and nil otherwise.
func (c *Coordinator) lookup(ctx context.Context, id string, create bool) (*group, error) {
	for {
		if c.closed.Load() {
			return nil, errClosed
		}
		if c.cfg.Owns != nil && !c.cfg.Owns(id) {
			return nil, errNotOwned
		}
		c.mu.Lock()
		if g := c.groups[id]; g != nil {
			c.mu.Unlock()
			return g, nil
		}
		if wait := c.deleting[id]; wait != nil {
			c.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		removals := c.removals
		c.mu.Unlock()

		offsets, err := c.store.Fetch(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("load offsets of group %q: %w", id, err)
		}
		pending, err := c.loadPendingTxn(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("load pending transactional offsets of group %q: %w", id, err)
		}
		if len(offsets) == 0 && len(pending) == 0 && !create {
			return nil, nil
		}
		c.mu.Lock()
		if c.closed.Load() {
			c.mu.Unlock()
			return nil, errClosed
		}
		if g := c.groups[id]; g != nil {
			c.mu.Unlock()
			return g, nil
		}
		if c.removals != removals || c.deleting[id] != nil {
			// A group left the table while we read the store: what we
			// read may predate its last writes or its deletion.
			c.mu.Unlock()
			continue
		}
		g := newGroup(id, offsets, c.cfg.Now())
		g.setPendingTxn(pending)
		c.groups[id] = g
		c.mu.Unlock()
		if len(offsets) > 0 {
			c.log.Info("loaded group offsets", zap.String("group", id), zap.Int("partitions", len(offsets)))
		}
		return g, nil
	}
}

// acquire is lookup plus the group's lock: it returns a live (not Dead)
// group with g.mu held, or nil when the group does not exist (and create is
// false). A group that died between the lookup and the lock is looked up
// again, so callers never see a Dead group.
func (c *Coordinator) acquire(ctx context.Context, id string, create bool) (*group, error) {
	for {
		g, err := c.lookup(ctx, id, create)
		if err != nil || g == nil {
			return nil, err
		}
		g.mu.Lock()
		if g.state != stateDead {
			return g, nil
		}
		g.mu.Unlock()
	}
}

// errorCode maps an error of a lookup or of the store to the Kafka code a
// client should see: NOT_COORDINATOR when this coordinator is not (or no
// longer) responsible, the store's own Kafka code if it carries one, and
// COORDINATOR_NOT_AVAILABLE (retriable) otherwise.
func errorCode(err error) int16 {
	var ke *kerr.Error
	switch {
	case errors.Is(err, errClosed), errors.Is(err, errNotOwned):
		return errNotCoordinator
	case errors.As(err, &ke):
		return ke.Code
	default:
		return errCoordinatorUnavailable
	}
}

// newMemberID returns "<client.id>-<uuid>", the form Kafka gives members
// (GroupMetadata.generateMemberId): the UUID in java.util.UUID's hex form.
func newMemberID(clientID string) string {
	b := zkmeta.NewUUID()
	return fmt.Sprintf("%s-%x-%x-%x-%x-%x", clientID, b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// waitCode is the code a waiting request answers when its wait ends without
// a result: NOT_COORDINATOR when the coordinator is closing, otherwise
// COORDINATOR_NOT_AVAILABLE, which every client retries after looking the
// coordinator up again.
func (c *Coordinator) waitCode() int16 {
	if c.closed.Load() {
		return errNotCoordinator
	}
	return errCoordinatorUnavailable
}
