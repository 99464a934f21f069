package compattests

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestSIGKILLRestartTakesOverSession kills the broker with SIGKILL and starts
// it again at once on the same log dirs. ZooKeeper keeps the killed
// process's session, and with it /brokers/ids/<id> and /controller, for
// zookeeper.session.timeout.ms (30 s here). The new process holds the log
// dirs' .lock, so the session recorded there is known dead and its znodes
// are taken over: the broker must serve a produce and a fetch, and the
// znodes must have been deleted while the killed session still owned them
// (the broker logs each takeover with the session it took the znode from),
// which cannot happen by waiting for the expiry: an expired session's
// ephemerals are gone before anyone could take them. How long the restart
// took is logged, not judged.
func TestSIGKILLRestartTakesOverSession(t *testing.T) {
	const sessionTimeout = 30 * time.Second
	c, b := startBroker(t, map[string]string{"zookeeper.session.timeout.ms": "30000"})
	const topic = "takeover"
	createTopic(t, newAdmin(t, b), topic, 1, nil)
	before := &kgo.Record{Topic: topic, Partition: 0, Value: []byte("before the kill")}
	produceSync(t, newClient(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner())), before)

	zkc := c.ZKClient(t)
	brokerZnode := "/brokers/ids/" + strconv.Itoa(int(b.ID))
	owners := map[string]int64{}
	for _, p := range []string{brokerZnode, "/controller"} {
		_, stat, err := zkc.Conn.Get(zkc.Path(p))
		if err != nil {
			t.Fatalf("read %s: %v", p, err)
		}
		owners[p] = stat.EphemeralOwner
	}
	// The broker writes the record off its start path, so it may land
	// after the first produce; the kill waits for it.
	eventually(t, "the broker records its ZooKeeper session in its log dir", func() error {
		recorded, err := os.ReadFile(filepath.Join(b.LogDirs()[0], ".gokafka-zk-session"))
		if err != nil {
			return err
		}
		if got, want := strings.TrimSpace(string(recorded)), strconv.FormatUint(uint64(owners[brokerZnode]), 16); got != want {
			return fmt.Errorf(".gokafka-zk-session = %q, want the registration's session %s", got, want)
		}
		return nil
	})

	b.Kill()
	killed := time.Now()
	// The killed session is still alive in ZooKeeper: that is the case
	// under test.
	if ok, err := zkc.Exists(brokerZnode); err != nil || !ok {
		t.Fatalf("%s gone right after SIGKILL (exists=%v, err=%v); the test needs it to linger", brokerZnode, ok, err)
	}

	// A deadline for the test, not a measure of the takeover.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatalf("broker not serving after SIGKILL: %v", err)
	}
	cl := newClient(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchMaxWait(200*time.Millisecond))
	after := &kgo.Record{Topic: topic, Partition: 0, Value: []byte("after the restart")}
	if err := cl.ProduceSync(ctx, after).FirstErr(); err != nil {
		t.Fatalf("produce after the restart: %v", err)
	}
	var got []string
	for len(got) < 2 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("fetched %q after the restart; want both records", got)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		for _, r := range fs.Records() {
			got = append(got, string(r.Value))
		}
	}
	took := time.Since(killed)
	if len(got) != 2 || got[0] != string(before.Value) || got[1] != string(after.Value) || after.Offset != 1 {
		t.Fatalf("fetched %q (new record at offset %d); want %q then %q at offset 1", got, after.Offset, before.Value, after.Value)
	}
	t.Logf("produce+fetch served %s after SIGKILL (session timeout %s)", took.Round(time.Millisecond), sessionTimeout)

	// Both ephemerals now belong to a new session, and the log says they
	// were taken from the killed one: deleted while it still owned them.
	for p, old := range owners {
		_, stat, err := zkc.Conn.Get(zkc.Path(p))
		if err != nil {
			t.Fatalf("read %s: %v", p, err)
		}
		if stat.EphemeralOwner == old {
			t.Errorf("%s still owned by the killed session 0x%x", p, old)
		}
		oldHex := fmt.Sprintf("0x%x", old)
		taken := slices.ContainsFunc(strings.Split(b.Log(), "\n"), func(line string) bool {
			return strings.Contains(line, "took over "+p) && strings.Contains(line, oldHex)
		})
		if !taken {
			t.Errorf("log does not say %s was taken over from the killed session %s", p, oldHex)
		}
	}
}

// TestSecondBrokerOnSameLogDirFails starts a second broker process, with the
// same broker.id, on a log dir a running broker holds: it must exit non-zero
// with Kafka's lock error naming the dir, and the first broker keeps serving.
func TestSecondBrokerOnSameLogDirFails(t *testing.T) {
	c, b := startBroker(t, nil)
	dir := b.LogDirs()[0]
	second := c.NewBroker(t, map[string]string{"broker.id": strconv.Itoa(int(b.ID)), "log.dirs": dir})
	if err := second.Launch(); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, second); code == 0 {
		t.Errorf("second broker on %s exited with status 0; want non-zero", dir)
	}
	want := "Failed to acquire lock on file .lock in " + dir + ". A Kafka instance in another process or thread is using this directory"
	if !strings.Contains(second.Log(), want) {
		t.Errorf("second broker's log does not say %q:\n%s", want, second.Log())
	}
	createTopic(t, newAdmin(t, b), "still-mine", 1, nil)
	produceSync(t, newClient(t, b), &kgo.Record{Topic: "still-mine", Value: []byte("x")})
}
