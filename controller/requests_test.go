package controller_test

import (
	"net"
	"slices"
	"testing"

	"github.com/gokafka/gokafka/controller"
	"github.com/gokafka/gokafka/zkmeta"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Requests go to the endpoint of Config.ListenerName
// (inter.broker.listener.name), not to the first endpoint a broker
// registered, and LeaderAndIsr names leaders at that endpoint too.
func TestRequestsUseTheInterBrokerListener(t *testing.T) {
	e := newEnv(t)
	b := e.startBroker(1)
	// Re-register broker 1 with an EXTERNAL endpoint first, on a port
	// where nothing listens.
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadPort := int32(dead.Addr().(*net.TCPAddr).Port)
	dead.Close()
	b.kill()
	b.registerWith([]zkmeta.Endpoint{
		{Name: "EXTERNAL", SecurityProtocol: "PLAINTEXT", Host: "127.0.0.1", Port: deadPort},
		{Name: "INTERNAL", SecurityProtocol: "PLAINTEXT", Host: "127.0.0.1", Port: b.port()},
	})
	c := e.startController(100, func(cfg *controller.Config) { cfg.ListenerName = "INTERNAL" })
	c.waitActive(t)
	um := b.waitLiveBrokers(t, 1)
	if len(um.LiveBrokers) != 1 || len(um.LiveBrokers[0].Endpoints) != 2 {
		t.Fatalf("UpdateMetadata live brokers %+v, want broker 1 with both endpoints", um.LiveBrokers)
	}
	e.createTopic("t", map[int32][]int32{0: {1}}, nil)
	l := b.waitLeaderAndIsr(t, "t", 0, "leader 1", func(l lisrPartition) bool { return l.state.Leader == 1 })
	if !slices.ContainsFunc(l.req.LiveLeaders, func(x kmsg.LeaderAndISRRequestLiveLeader) bool {
		return x.BrokerID == 1 && x.Port == b.port()
	}) {
		t.Errorf("LeaderAndIsr live leaders %+v, want broker 1 at its INTERNAL port %d", l.req.LiveLeaders, b.port())
	}
}

// A broker that is registered before it listens (or whose listener is
// briefly unreachable) gets the controller's requests once it answers:
// the sender retries instead of dropping them.
func TestRequestsReachABrokerThatListensLate(t *testing.T) {
	e := newEnv(t)
	c := e.startController(100)
	c.waitActive(t)
	b := e.startBrokerListeningLate(1)
	e.createTopic("t", map[int32][]int32{0: {1}}, nil)
	e.waitLeader("t", 0, 1, 1)
	c.waitLog(t, "new topic")
	b.listen()
	b.waitLiveBrokers(t, 1)
	b.waitLeaderAndIsr(t, "t", 0, "leader 1", func(l lisrPartition) bool { return l.state.Leader == 1 })
}

// StopReplica carries the broker's epoch, as Kafka's controller sends it
// (ControllerChannelManager: brokerEpoch from liveBrokerIdAndEpochs) and as
// the package doc says of every controller request, so that a broker can
// refuse one meant for an earlier registration (KIP-380).
func TestStopReplicaCarriesBrokerEpoch(t *testing.T) {
	e := newEnv(t)
	_, bs := startCluster(t, e, []int32{1, 2})
	e.createTopic("t", map[int32][]int32{0: {1, 2}}, nil)
	e.waitLeader("t", 0, 1, 1, 2)
	if err := e.admin.MarkTopicForDeletion(e.ctx, "t"); err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		var req *kmsg.StopReplicaRequest
		waitFor(t, "StopReplica for t-0", func() bool {
			var ok bool
			req, _, ok = b.stopReplicaFor("t", 0)
			return ok
		})
		if req.BrokerEpoch != b.brokerEpoch() {
			t.Errorf("broker %d: StopReplica broker epoch %d, want its epoch %d", b.id, req.BrokerEpoch, b.brokerEpoch())
		}
	}
}
