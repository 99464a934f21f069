package zkmeta

import (
	"errors"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// TestTakeOverDeadSession abandons a session without closing it (its
// network is cut, as a SIGKILLed broker's is), so its /brokers/ids/7 and
// /controller stay until ZooKeeper expires it. A new session told that
// session is dead takes both over at once; one told another session id
// leaves them alone and still has to wait. That B took the znodes over
// rather than waiting A's session out is shown by ZooKeeper itself: another
// ephemeral of A's session is still there afterwards.
func TestTakeOverDeadSession(t *testing.T) {
	chroot := testChroot(t)
	ctx := testCtx(t)
	const abandonedTimeout = 30 * time.Second // far longer than the test waits
	cut := &netCutter{}
	a := connect(t, chroot, func(cfg *Config) {
		cfg.SessionTimeout = abandonedTimeout
		cfg.dialer = cut.dial
	})
	b := BrokerInfo{ID: 7, Endpoints: []Endpoint{{Name: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: "127.0.0.1", Port: 9092}}}
	if err := a.RegisterBroker(ctx, b); err != nil {
		t.Fatal(err)
	}
	if _, won, err := a.ElectController(ctx, 7); err != nil || !won {
		t.Fatalf("A's election: won=%v err=%v", won, err)
	}
	dead := a.SessionID()
	// A sentinel that lives exactly as long as A's session.
	const sentinel = "/sentinel-of-a"
	if err := a.create(ctx, sentinel, nil, zk.FlagEphemeral); err != nil {
		t.Fatal(err)
	}
	cut.set(true) // A is gone without ending its session

	raw := rawConn(t)
	for _, p := range []string{"/brokers/ids/7", "/controller"} {
		if _, stat := rawGet(t, raw, chroot+p); stat.EphemeralOwner != dead {
			t.Fatalf("%s owned by 0x%x, want the abandoned session 0x%x", p, stat.EphemeralOwner, dead)
		}
	}

	// C is told a session that is not the owner: nothing is taken, and
	// registering waits out its own session timeout, then fails, while
	// the abandoned registration stays.
	c := connect(t, chroot)
	tests := []struct {
		name string
		dead []int64
	}{
		{"no recorded session", nil},
		{"another session", []int64{dead + 1}},
		{"its own session", []int64{c.SessionID()}},
	}
	for _, tc := range tests {
		if owner, err := c.TakeOverBroker(ctx, 7, tc.dead); err != nil || owner != 0 {
			t.Errorf("%s: TakeOverBroker = 0x%x, %v; want nothing taken", tc.name, owner, err)
		}
		if owner, err := c.TakeOverController(ctx, tc.dead); err != nil || owner != 0 {
			t.Errorf("%s: TakeOverController = 0x%x, %v; want nothing taken", tc.name, owner, err)
		}
	}
	start := time.Now()
	if err := c.RegisterBroker(ctx, b); !errors.Is(err, ErrBrokerIDInUse) {
		t.Fatalf("C registering broker 7: %v; want ErrBrokerIDInUse", err)
	}
	if waited := time.Since(start); waited < testSessionTimeout/2 {
		t.Errorf("C gave up after %s, without waiting for the registration to go", waited)
	}
	if _, won, err := c.ElectController(ctx, 7); err != nil || won {
		t.Fatalf("C's election while A's /controller stands: won=%v err=%v", won, err)
	}

	// B is told A's session (as the broker's log dirs tell it): it takes
	// over both znodes and registers and wins at once, long before ZooKeeper
	// would expire A.
	bc := connect(t, chroot)
	start = time.Now()
	owner, err := bc.TakeOverBroker(ctx, 7, []int64{dead + 1, dead})
	if err != nil || owner != dead {
		t.Fatalf("TakeOverBroker = 0x%x, %v; want 0x%x taken", owner, err, dead)
	}
	if err := bc.RegisterBroker(ctx, b); err != nil {
		t.Fatalf("B registering after the takeover: %v", err)
	}
	if owner, err := bc.TakeOverController(ctx, []int64{dead}); err != nil || owner != dead {
		t.Fatalf("TakeOverController = 0x%x, %v; want 0x%x taken", owner, err, dead)
	}
	if _, won, err := bc.ElectController(ctx, 7); err != nil || !won {
		t.Fatalf("B's election after the takeover: won=%v err=%v", won, err)
	}
	t.Logf("takeover and election took %s; the abandoned session's timeout is %s", time.Since(start), abandonedTimeout)
	for _, p := range []string{"/brokers/ids/7", "/controller"} {
		if _, stat := rawGet(t, raw, chroot+p); stat.EphemeralOwner != bc.SessionID() {
			t.Errorf("%s owned by 0x%x after the takeover, want B's session 0x%x", p, stat.EphemeralOwner, bc.SessionID())
		}
	}
	// A's session is still alive: B did not wait for it to expire.
	if _, stat, err := raw.Get(chroot + sentinel); err != nil || stat.EphemeralOwner != dead {
		t.Errorf("A's sentinel after the takeover: %v, %+v; want it still owned by the abandoned session 0x%x", err, stat, dead)
	}

	// Taking over again finds B's live znodes and leaves them alone.
	if owner, err := c.TakeOverBroker(ctx, 7, []int64{dead}); err != nil || owner != 0 {
		t.Errorf("second TakeOverBroker = 0x%x, %v; want nothing taken", owner, err)
	}
	if _, stat := rawGet(t, raw, chroot+"/brokers/ids/7"); stat.EphemeralOwner != bc.SessionID() {
		t.Error("a second takeover removed the live registration")
	}
}
