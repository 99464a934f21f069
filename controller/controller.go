package controller

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gokafka/gokafka/zkmeta"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// Config is what the controller needs from its broker.
type Config struct {
	BrokerID int32
	ZK       *zkmeta.Client
	Logger   *zap.Logger
	// ListenerName picks the endpoint of each broker's registration that
	// controller requests go to (inter.broker.listener.name); empty means
	// the first endpoint.
	ListenerName string
	// UncleanLeaderElection is the broker default of
	// unclean.leader.election.enable (Kafka: false); a topic's own setting
	// in /config/topics overrides it.
	UncleanLeaderElection bool
	// UncleanLeaderElectionNow, when set, replaces UncleanLeaderElection
	// with the broker default in force at the time of the election, so a
	// dynamic change of the broker key (KIP-226) applies without a
	// restart.
	UncleanLeaderElectionNow func() bool
	// AutoLeaderRebalance is auto.leader.rebalance.enable and its
	// settings (preferred_election.go).
	AutoLeaderRebalance AutoLeaderRebalance
	// DeleteTopicEnable is delete.topic.enable (Kafka: true). When false,
	// topics marked in /admin/delete_topics are left alone and logged.
	DeleteTopicEnable bool
	// DeadSessions lists ZooKeeper sessions of this broker's earlier,
	// exited processes: a /controller one of them holds is deleted at
	// once instead of waiting for the session to expire.
	DeadSessions func() []int64
}

// Controller runs elections for /controller and, while it holds it, the
// controller's event loop.
type Controller struct {
	cfg    Config
	logger *zap.Logger

	// term is the current term's event queue while this broker is the
	// active controller, nil otherwise.
	term  atomic.Pointer[term]
	epoch atomic.Int32
}

// term is one stretch of holding /controller: its events and its end.
type term struct {
	events chan event
	ctx    context.Context
}

// eventQueueSize bounds queued events; watchers and request handlers block
// (bounded by their contexts) when the loop falls that far behind.
const eventQueueSize = 1024

// New returns a controller that Run starts.
func New(cfg Config) *Controller {
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.DeadSessions == nil {
		cfg.DeadSessions = func() []int64 { return nil }
	}
	return &Controller{cfg: cfg, logger: cfg.Logger}
}

// Active reports whether this broker is the active controller.
func (c *Controller) Active() bool { return c.term.Load() != nil }

// Epoch is the controller epoch of the current (or last) term.
func (c *Controller) Epoch() int32 { return c.epoch.Load() }

// Run takes part in controller elections until ctx ends: it watches
// /controller, runs for it whenever it is free, and while it holds it runs
// the event loop. It returns when ctx ends.
func (c *Controller) Run(ctx context.Context) {
	zk := c.cfg.ZK
	if _, err := zk.TakeOverController(ctx, c.cfg.DeadSessions()); err != nil && ctx.Err() == nil {
		c.logger.Warn("taking over the /controller of an exited run", zap.Error(err))
	}
	for ctx.Err() == nil {
		holder, changed, err := zk.WatchController(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.logger.Warn("watch /controller", zap.Error(err))
			sleep(ctx, time.Second)
			continue
		}
		if holder == -1 || holder == c.cfg.BrokerID {
			ce, won, err := zk.ElectController(ctx, c.cfg.BrokerID)
			switch {
			case err != nil:
				if ctx.Err() != nil {
					return
				}
				c.logger.Warn("controller election", zap.Error(err))
				sleep(ctx, time.Second)
				continue
			case won:
				c.lead(ctx, ce)
				continue
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-zk.SessionLost():
			// A new session re-registers; look again once it is up.
			sleep(ctx, 100*time.Millisecond)
		}
	}
}

// errResign ends a term: another broker is controller now, or this one's
// session is gone.
var errResign = errors.New("resigning as controller")

// lead runs one term as the active controller until it must resign.
func (c *Controller) lead(ctx context.Context, ce zkmeta.ControllerEpoch) {
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	t := &term{events: make(chan event, eventQueueSize), ctx: tctx}
	c.epoch.Store(ce.Epoch)
	c.logger.Info("elected controller", zap.Int32("controller_epoch", ce.Epoch))

	st := newState(c, ce, t)
	defer st.ch.close()
	c.term.Store(t)
	defer c.term.Store(nil)

	// Resign at once when /controller changes hands or the session ends.
	go func() {
		lost := c.cfg.ZK.SessionLost()
		for {
			holder, changed, err := c.cfg.ZK.WatchController(tctx)
			switch {
			case err != nil && tctx.Err() != nil:
				return
			case err != nil:
				changed = retryAfter(tctx)
			case holder != c.cfg.BrokerID:
				t.post(evResign{why: fmt.Sprintf("/controller is held by broker %d", holder)})
				return
			}
			select {
			case <-tctx.Done():
				return
			case <-lost:
				t.post(evResign{why: "zookeeper session lost"})
				return
			case <-changed:
			}
		}
	}()

	if err := st.startup(tctx); err != nil {
		c.resigned(err)
		return
	}
	for {
		select {
		case <-tctx.Done():
			return
		case ev := <-t.events:
			if err := st.apply(tctx, ev); err != nil {
				c.resigned(err)
				return
			}
		}
	}
}

func (c *Controller) resigned(err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	c.logger.Info("resigned as controller", zap.Error(err))
}

// post queues an event for the loop of term t; it gives up when the term
// ends.
func (t *term) post(ev event) bool {
	select {
	case t.events <- ev:
		return true
	case <-t.ctx.Done():
		return false
	}
}

// AlterPartition handles a leader's AlterPartition request (KIP-497): the
// loop checks the leader and partition epochs, writes the new ISR to the
// state znode with a conditional update and answers with the new state.
// A broker that is not the controller answers NOT_CONTROLLER.
func (c *Controller) AlterPartition(ctx context.Context, req *kmsg.AlterPartitionRequest) *kmsg.AlterPartitionResponse {
	return ask(ctx, c, func(reply chan<- *kmsg.AlterPartitionResponse) event {
		return evAlterPartition{req: req, reply: reply}
	}, func(code int16) *kmsg.AlterPartitionResponse {
		resp := req.ResponseKind().(*kmsg.AlterPartitionResponse)
		resp.ErrorCode = code
		return resp
	})
}

// ControlledShutdown handles a broker's ControlledShutdown request: the
// loop moves leadership of the partitions the broker leads to other ISR
// members and takes it out of the ISRs it follows in, and answers with the
// partitions it still leads (none when everything could move).
func (c *Controller) ControlledShutdown(ctx context.Context, req *kmsg.ControlledShutdownRequest) *kmsg.ControlledShutdownResponse {
	return ask(ctx, c, func(reply chan<- *kmsg.ControlledShutdownResponse) event {
		return evControlledShutdown{req: req, reply: reply}
	}, func(code int16) *kmsg.ControlledShutdownResponse {
		resp := req.ResponseKind().(*kmsg.ControlledShutdownResponse)
		resp.ErrorCode = code
		return resp
	})
}

// ask posts a request event to the current term's loop and waits for its
// answer: NOT_CONTROLLER when there is no term or it ends first,
// REQUEST_TIMED_OUT when ctx ends first (the loop may still apply it).
func ask[R any](ctx context.Context, c *Controller, event func(chan<- R) event, failed func(code int16) R) R {
	t := c.term.Load()
	if t == nil {
		return failed(kerr.NotController.Code)
	}
	reply := make(chan R, 1)
	if !t.post(event(reply)) {
		return failed(kerr.NotController.Code)
	}
	select {
	case r := <-reply:
		return r
	case <-ctx.Done():
		return failed(kerr.RequestTimedOut.Code)
	case <-t.ctx.Done():
		return failed(kerr.NotController.Code)
	}
}

// endpointAddr is the host:port of the endpoint named listener (the first
// one when listener is empty or absent).
func endpointAddr(b zkmeta.BrokerInfo, listener string) string {
	if len(b.Endpoints) == 0 {
		return ""
	}
	e := b.Endpoints[0]
	for _, x := range b.Endpoints {
		if x.Name == listener {
			e = x
			break
		}
	}
	return net.JoinHostPort(e.Host, strconv.Itoa(int(e.Port)))
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// watchOnce waits for ch (a zkmeta watch channel) in its own goroutine and
// posts ev when it fires, unless the term ended or the watch's own context
// (wctx, which cancels the watch and so also closes ch) ended first: a
// watch replaced by a newer one must not post.
func (t *term) watchOnce(wctx context.Context, ch <-chan struct{}, ev event) {
	if ch == nil {
		return
	}
	go func() {
		select {
		case <-ch:
			if t.ctx.Err() == nil && wctx.Err() == nil {
				t.post(ev)
			}
		case <-t.ctx.Done():
		}
	}()
}

// ErrNotController is returned by requests that only the active controller
// can carry out.
var ErrNotController = errors.New("this broker is not the active controller")

// ErrPartitionsExist is returned by AddPartitions when the topic already
// has one of the partitions (another request added them first).
var ErrPartitionsExist = errors.New("the topic already has some of these partitions")

// AddPartitions extends a topic's assignment with new partitions
// (CreatePartitions), through the loop: the topic znode is rewritten with a
// write fenced by the controller epoch and the new partitions are brought
// online at once.
func (c *Controller) AddPartitions(ctx context.Context, topic string, added map[int32][]int32) error {
	t := c.term.Load()
	if t == nil {
		return ErrNotController
	}
	reply := make(chan error, 1)
	if !t.post(evAddPartitions{topic: topic, added: added, reply: reply}) {
		return ErrNotController
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-t.ctx.Done():
		return ErrNotController
	}
}
