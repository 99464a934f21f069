package zkmeta

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestClusterIDCreateOrGet(t *testing.T) {
	chroot := testChroot(t)
	a, b := connect(t, chroot), connect(t, chroot)
	ctx := testCtx(t)
	ids := make([]string, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, c := range []*Client{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i], errs[i] = c.ClusterID(ctx, NewClusterID())
		}()
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("ClusterID errors: %v, %v", errs[0], errs[1])
	}
	if ids[0] != ids[1] || len(ids[0]) != 22 {
		t.Fatalf("two brokers got cluster ids %q and %q; want one 22-char id", ids[0], ids[1])
	}
	data, _ := rawGet(t, rawConn(t), chroot+"/cluster/id")
	jsonEqual(t, data, `{"version":"1","id":"`+ids[0]+`"}`)
	// Later calls keep the stored id.
	if id, err := a.ClusterID(ctx, "other"); err != nil || id != ids[0] {
		t.Fatalf("ClusterID again = %q, %v; want %q", id, err, ids[0])
	}
}

func TestControllerElection(t *testing.T) {
	chroot := testChroot(t)
	c1, c2 := connect(t, chroot), connect(t, chroot)
	raw := rawConn(t)
	ctx := testCtx(t)

	if id, err := c2.Controller(ctx); err != nil || id != -1 {
		t.Fatalf("Controller before any election = %d, %v; want -1", id, err)
	}
	ce1, won, err := c1.ElectController(ctx, 1)
	if err != nil || !won || ce1.Epoch != 1 {
		t.Fatalf("first election = %+v won=%v err=%v; want epoch 1 won", ce1, won, err)
	}
	if data, _ := rawGet(t, raw, chroot+"/controller_epoch"); string(data) != "1" {
		t.Fatalf("/controller_epoch = %q, want 1", data)
	}
	data, stat := rawGet(t, raw, chroot+"/controller")
	var ctl map[string]any
	if err := json.Unmarshal(data, &ctl); err != nil || ctl["brokerid"] != 1.0 || ctl["version"] != 2.0 || ctl["kraftControllerEpoch"] != -1.0 {
		t.Fatalf("/controller = %s", data)
	}
	if _, ok := ctl["timestamp"].(string); !ok {
		t.Fatalf("/controller timestamp is not a string: %s", data)
	}
	if stat.EphemeralOwner != c1.SessionID() {
		t.Fatalf("/controller is not c1's ephemeral")
	}

	// The loser sees the winner; the winner asking again keeps its epoch.
	if _, won, err := c2.ElectController(ctx, 2); err != nil || won {
		t.Fatalf("second broker's election: won=%v err=%v; want lost", won, err)
	}
	if id, err := c2.Controller(ctx); err != nil || id != 1 {
		t.Fatalf("Controller = %d, %v; want 1", id, err)
	}
	if again, won, err := c1.ElectController(ctx, 1); err != nil || !won || again != ce1 {
		t.Fatalf("winner re-electing = %+v won=%v err=%v; want %+v", again, won, err, ce1)
	}

	// When the controller's session ends the other broker takes over
	// with the next epoch, and the old epoch is fenced.
	id, changed, err := c2.WatchController(ctx)
	if err != nil || id != 1 {
		t.Fatalf("WatchController = %d, %v", id, err)
	}
	c1.Close()
	select {
	case <-changed:
	case <-time.After(20 * time.Second):
		t.Fatal("controller watch did not fire when the controller left")
	}
	ce2, won, err := c2.ElectController(ctx, 2)
	if err != nil || !won || ce2.Epoch != 2 {
		t.Fatalf("election after failover = %+v won=%v err=%v; want epoch 2", ce2, won, err)
	}
	if err := c2.CreateTopic(ctx, "t", TopicAssignment{Partitions: map[int32][]int32{0: {2}}}, nil); err != nil {
		t.Fatal(err)
	}
	err = c2.CreatePartitionStates(ctx, ce1, "t", map[int32]LeaderAndIsr{0: {Leader: 1, ISR: []int32{1}}})
	if !errors.Is(err, ErrControllerMoved) {
		t.Fatalf("write with the old epoch: %v; want ErrControllerMoved", err)
	}
	if err := c2.CreatePartitionStates(ctx, ce2, "t", map[int32]LeaderAndIsr{0: {Leader: 2, ISR: []int32{2}, ControllerEpoch: 2}}); err != nil {
		t.Fatalf("write with the current epoch: %v", err)
	}

	// Resigning frees /controller for the next election.
	if err := c2.ResignController(ctx, ce2); err != nil {
		t.Fatal(err)
	}
	if id, err := c2.Controller(ctx); err != nil || id != -1 {
		t.Fatalf("Controller after resign = %d, %v; want -1", id, err)
	}
}

// TestConcurrentElection lets several brokers race: exactly one wins.
func TestConcurrentElection(t *testing.T) {
	chroot := testChroot(t)
	ctx := testCtx(t)
	const n = 4
	clients := make([]*Client, n)
	for i := range clients {
		clients[i] = connect(t, chroot)
	}
	wins := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, wins[i], errs[i] = c.ElectController(ctx, int32(i))
		}()
	}
	wg.Wait()
	winners := 0
	for i := range clients {
		if errs[i] != nil {
			t.Fatalf("broker %d: %v", i, errs[i])
		}
		if wins[i] {
			winners++
			if id, _ := clients[0].Controller(ctx); id != int32(i) {
				t.Fatalf("broker %d won but /controller names %d", i, id)
			}
		}
	}
	if winners != 1 {
		t.Fatalf("%d winners, want 1", winners)
	}
}
