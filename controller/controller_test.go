package controller_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"testing"

	"github.com/go-zookeeper/zk"
	"github.com/gokafka/gokafka/controller"
	"github.com/gokafka/gokafka/zkmeta"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Two brokers run for controller: exactly one wins, /controller names it
// and /controller_epoch goes from 0 to 1; the other answers controller
// requests with NOT_CONTROLLER. When the winner's session ends the other
// takes over with epoch 2.
func TestElectionAndFailover(t *testing.T) {
	e := newEnv(t)
	c1 := e.startController(1)
	c2 := e.startController(2)

	waitFor(t, "one controller to become active", func() bool { return c1.c.Active() || c2.c.Active() })
	active, standby := c1, c2
	if c2.c.Active() {
		active, standby = c2, c1
	}
	if standby.c.Active() {
		t.Fatalf("both controllers are active")
	}
	if got := e.controllerHolder(); got != active.id {
		t.Fatalf("/controller names broker %d, want the active controller %d", got, active.id)
	}
	epoch, _ := e.controllerEpochZnode()
	if epoch != 1 || active.c.Epoch() != 1 {
		t.Fatalf("after the first election /controller_epoch is %d and the controller's epoch %d, want 1 and 1", epoch, active.c.Epoch())
	}

	// The standby refuses what only the active controller may do.
	ap := kmsg.NewPtrAlterPartitionRequest()
	ap.Version = 1
	ap.BrokerID = standby.id
	if r := standby.c.AlterPartition(e.ctx, ap); r.ErrorCode != kerr.NotController.Code {
		t.Errorf("AlterPartition on the standby: %v, want NOT_CONTROLLER", kerr.ErrorForCode(r.ErrorCode))
	}
	cs := kmsg.NewPtrControlledShutdownRequest()
	cs.Version = 3
	cs.BrokerID = standby.id
	if r := standby.c.ControlledShutdown(e.ctx, cs); r.ErrorCode != kerr.NotController.Code {
		t.Errorf("ControlledShutdown on the standby: %v, want NOT_CONTROLLER", kerr.ErrorForCode(r.ErrorCode))
	}
	if err := standby.c.AddPartitions(e.ctx, "t", map[int32][]int32{1: {1}}); !errors.Is(err, controller.ErrNotController) {
		t.Errorf("AddPartitions on the standby: %v, want ErrNotController", err)
	}

	// The active controller's broker dies.
	active.zk.Close()
	waitFor(t, "the standby to take over", standby.c.Active)
	waitFor(t, "the old controller to resign", func() bool { return !active.c.Active() })
	if got := e.controllerHolder(); got != standby.id {
		t.Fatalf("/controller names broker %d, want %d", got, standby.id)
	}
	epoch, _ = e.controllerEpochZnode()
	if epoch != 2 || standby.c.Epoch() != 2 {
		t.Fatalf("after failover /controller_epoch is %d and the new controller's epoch %d, want 2 and 2", epoch, standby.c.Epoch())
	}
}

// A new controller tells every live broker the whole state (Kafka's
// onControllerFailover): LeaderAndIsr for every partition it replicates
// and UpdateMetadata, under the new controller epoch, without changing
// partitions whose leaders are live.
func TestFailoverResendsStateToBrokers(t *testing.T) {
	e := newEnv(t)
	bs := e.startBrokers(1, 2, 3)
	first := e.startController(100)
	first.waitActive(t)
	parts := map[int32][]int32{0: {1, 2, 3}, 1: {2, 3, 1}}
	e.createTopic("t", parts, nil)
	before := map[int32]zkmeta.LeaderAndIsr{}
	for p, reps := range parts {
		before[p] = e.waitLeader("t", p, reps[0], reps...)
	}

	second := e.startController(101)
	first.zk.Close()
	second.waitActive(t)
	epoch := second.c.Epoch()
	if epoch <= first.c.Epoch() {
		t.Fatalf("new controller epoch %d, want more than the old %d", epoch, first.c.Epoch())
	}
	for _, b := range bs {
		for p, reps := range parts {
			got := b.waitLeaderAndIsr(t, "t", p, "the new controller epoch", func(l lisrPartition) bool {
				return l.req.ControllerEpoch == epoch
			})
			if got.req.ControllerID != 101 || got.state.Leader != reps[0] || got.state.LeaderEpoch != 0 || !slices.Equal(got.state.ISR, reps) || got.state.IsNew {
				t.Errorf("broker %d: LeaderAndIsr for t-%d from the new controller: controller %d leader %d leader_epoch %d isr %v is_new %v; want controller 101, leader %d, leader_epoch 0, isr %v, not new",
					b.id, p, got.req.ControllerID, got.state.Leader, got.state.LeaderEpoch, got.state.ISR, got.state.IsNew, reps[0], reps)
			}
			b.waitUpdateMetadata(t, "t", p, "the new controller epoch", func(u umPartition) bool { return u.req.ControllerEpoch == epoch })
		}
	}
	for p := range parts {
		if s, _ := e.state("t", p); s.ZkVersion != before[p].ZkVersion {
			t.Errorf("t-%d: state rewritten by a failover that changed nothing: %s, before %s", p, fmtState(s), fmtState(before[p]))
		}
	}
}

// A broker that dies while no controller runs (typically the controller's
// own broker) leaves the ISRs it followed in when the next controller
// starts, as Kafka's onControllerFailover does (the replica state machine
// puts the replicas of dead brokers offline, which removes them from ISRs).
// Partitions it led get a new leader.
func TestFailoverRemovesDeadBrokersFromISRs(t *testing.T) {
	e := newEnv(t)
	bs := e.startBrokers(1, 2, 3)
	first := e.startController(100)
	first.waitActive(t)
	e.createTopic("t", map[int32][]int32{0: {1, 2, 3}, 1: {3, 1, 2}}, nil)
	e.waitLeader("t", 0, 1, 1, 2, 3)
	e.waitLeader("t", 1, 3, 3, 1, 2)

	// No controller runs while broker 3 dies.
	first.stop()
	first.zk.Close()
	bs[3].kill()
	waitFor(t, "/controller to be free", func() bool { return e.controllerHolder() == -1 })

	second := e.startController(101)
	second.waitActive(t)
	e.waitLeader("t", 1, 1, 1, 2) // its leader was broker 3
	e.waitLeader("t", 0, 1, 1, 2) // broker 3 only followed
}

// A /controller left by a session of this broker's exited process
// (Config.DeadSessions) is taken over at once instead of after that
// session times out.
func TestTakeOverControllerOfDeadSession(t *testing.T) {
	e := newEnv(t)
	old := e.connect("old-process")
	if _, won, err := old.ElectController(e.ctx, 1); err != nil || !won {
		t.Fatalf("old process election: won %v, %v", won, err)
	}
	dead := old.SessionID()
	c := e.startController(1, func(cfg *controller.Config) {
		cfg.DeadSessions = func() []int64 { return []int64{dead} }
	})
	c.waitActive(t)
	if epoch, _ := e.controllerEpochZnode(); epoch != 2 || c.c.Epoch() != 2 {
		t.Fatalf("/controller_epoch %d, controller epoch %d; want 2 and 2", epoch, c.c.Epoch())
	}
	// The old session is still alive: the takeover did not wait for it
	// to expire.
	if id, err := old.Controller(e.ctx); err != nil || id != 1 || old.SessionID() != dead {
		t.Fatalf("old session: /controller %d (%v), session 0x%x; want it alive (0x%x) and reading broker 1", id, err, old.SessionID(), dead)
	}
}

// A controller that finds its epoch superseded stops acting rather than
// writing under the old epoch.
func TestControllerResignsWhenSuperseded(t *testing.T) {
	// Another broker won an election behind this controller's back: it
	// bumped /controller_epoch and holds /controller. The controller
	// resigns, and a topic created meanwhile gets no state znode from it.
	// When the other broker goes, it is elected again with a higher
	// epoch and creates the state then.
	t.Run("another controller took over", func(t *testing.T) {
		e := newEnv(t)
		b := e.startBroker(1)
		c := e.startController(100)
		c.waitActive(t)
		b.waitLiveBrokers(t, 1)
		old := c.c.Epoch()

		epoch, version := e.controllerEpochZnode()
		data, _ := json.Marshal(map[string]any{"version": 2, "brokerid": 99, "timestamp": "0", "kraftControllerEpoch": -1})
		if _, err := e.raw.Multi(
			&zk.CheckVersionRequest{Path: e.rawPath("/controller_epoch"), Version: version},
			&zk.SetDataRequest{Path: e.rawPath("/controller_epoch"), Data: []byte(strconv.Itoa(int(epoch + 1))), Version: version},
			&zk.DeleteRequest{Path: e.rawPath("/controller"), Version: -1},
			&zk.CreateRequest{Path: e.rawPath("/controller"), Data: data, Acl: zk.WorldACL(zk.PermAll), Flags: zk.FlagEphemeral},
		); err != nil {
			t.Fatalf("take over /controller: %v", err)
		}
		waitFor(t, "the controller to resign", func() bool { return !c.c.Active() })

		e.createTopic("t", map[int32][]int32{0: {1}}, nil)
		ap := kmsg.NewPtrAlterPartitionRequest()
		ap.Version = 1
		ap.BrokerID = 1
		if r := c.c.AlterPartition(e.ctx, ap); r.ErrorCode != kerr.NotController.Code {
			t.Errorf("AlterPartition after resigning: %v, want NOT_CONTROLLER", kerr.ErrorForCode(r.ErrorCode))
		}

		// Broker 99 goes away; our controller wins again.
		if err := e.raw.Delete(e.rawPath("/controller"), -1); err != nil {
			t.Fatalf("delete /controller: %v", err)
		}
		c.waitActive(t)
		s := e.waitLeader("t", 0, 1, 1)
		if want := old + 2; c.c.Epoch() != want || s.ControllerEpoch != want {
			t.Errorf("controller epoch %d, state written under controller epoch %d; want %d for both", c.c.Epoch(), s.ControllerEpoch, want)
		}
		for _, r := range b.leaderAndIsrs() {
			if r.ControllerEpoch < old+2 && len(r.TopicStates) > 0 {
				t.Errorf("broker 1 got a LeaderAndIsr for %s under controller epoch %d after it was superseded", r.TopicStates[0].Topic, r.ControllerEpoch)
			}
		}
	})

	// Only /controller_epoch moved: the controller's next write fails its
	// epoch check, and it resigns instead of writing under the stale epoch.
	t.Run("controller epoch bumped", func(t *testing.T) {
		e := newEnv(t)
		b := e.startBroker(1)
		c := e.startController(100)
		c.waitActive(t)
		b.waitLiveBrokers(t, 1)
		old := c.c.Epoch()

		epoch, version := e.controllerEpochZnode()
		if _, err := e.raw.Set(e.rawPath("/controller_epoch"), []byte(strconv.Itoa(int(epoch+1))), version); err != nil {
			t.Fatalf("bump /controller_epoch: %v", err)
		}
		e.createTopic("t", map[int32][]int32{0: {1}}, nil)
		c.waitLog(t, "resigned as controller")
		s := e.waitLeader("t", 0, 1, 1)
		if s.ControllerEpoch == old {
			t.Errorf("state of t-0 written under the superseded controller epoch %d", old)
		}
		for _, r := range b.leaderAndIsrs() {
			if r.ControllerEpoch == old && len(r.TopicStates) > 0 {
				t.Errorf("broker 1 got a LeaderAndIsr for %s under the superseded controller epoch %d", r.TopicStates[0].Topic, old)
			}
		}
	})
}
