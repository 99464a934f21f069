package compattests

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/gokafka/gokafka/internal/testcluster"
)

// TestToolReassignLogDirs moves a replica to another broker and into a
// named log dir there with `gokafka reassign-partitions`, as an operator
// does with kafka-reassign-partitions.sh and log_dirs in the JSON: the
// tool starts the reassignment, then sends AlterReplicaLogDirs until the
// new broker hosts the replica, and sets
// --replica-alter-log-dirs-throttle on that broker only; --verify reports
// the replica move completed in Kafka 3.9's words and clears the
// throttle; the replica's files are in the named dir and not the other,
// and every record reads back. Then the replica moves back to the first
// dir under a throttle of 0 bytes/s: the broker copies one step and
// holds the move there (--verify says it is still in progress and leaves
// the throttle, which DescribeConfigs shows), until --execute --additional
// raises the throttle and the move finishes.
func TestToolReassignLogDirs(t *testing.T) {
	const topic = "ld"
	c := testcluster.New(t)
	src := c.StartBroker(t, nil)
	jbodDirs := []string{filepath.Join(t.TempDir(), "dir-a"), filepath.Join(t.TempDir(), "dir-b")}
	dst := c.StartBroker(t, map[string]string{"log.dirs": strings.Join(jbodDirs, ",")})
	ctx := testCtx(t)
	seeds := []string{src.Addr(), dst.Addr()}
	cl := newClient(t, src, kgo.MaxVersions(kversion.V3_9_0()))
	adm := kadm.NewClient(cl)
	createAssigned(ctx, t, cl, topic, []int32{src.ID}, nil)
	if err := produceValues(ctx, t, seeds, topic, kgo.AllISRAcks(), values("ld", 200)...); err != nil {
		t.Fatal(err)
	}
	// The target is the dir the broker would not pick first, so that the
	// move is the tool's doing.
	target := jbodDirs[1]

	plan := filepath.Join(t.TempDir(), "plan.json")
	if err := os.WriteFile(plan, []byte(fmt.Sprintf(`{"version":1,"partitions":[{"topic":%q,"partition":0,"replicas":[%d],"log_dirs":[%q]}]}`, topic, dst.ID, target)), 0o644); err != nil {
		t.Fatal(err)
	}
	tool := func(args ...string) []string {
		return append([]string{"reassign-partitions", "--bootstrap-server", strings.Join(seeds, ",")}, args...)
	}
	out := mustTool(t, nil, tool("--execute", "--reassignment-json-file", plan, "--replica-alter-log-dirs-throttle", "5000000")...)
	cur := fmt.Sprintf(`{"version":1,"partitions":[{"topic":%q,"partition":0,"replicas":[%d],"log_dirs":["any"]}]}`, topic, src.ID)
	want := "Current partition replica assignment\n\n" + cur + "\n\nSave this to use as the --reassignment-json-file option during rollback\n" +
		"Warning: You must run --verify periodically, until the reassignment completes, to ensure the throttle is removed.\n" +
		"The replica-alter-dir throttle limit was set to 5000000 B/s\n" +
		"Successfully started partition reassignment for ld-0\n" +
		fmt.Sprintf("Successfully started moving log directory to %s for replica ld-0 with broker %d \n", target, dst.ID)
	if out != want {
		t.Errorf("--execute printed:\n%q\nwant:\n%q", out, want)
	}
	logDirThrottleConfig := func(b *testcluster.Broker) (string, string) {
		rc, err := adm.DescribeBrokerConfigs(ctx, b.ID)
		if err == nil {
			err = rc[0].Err
		}
		if err != nil {
			t.Fatalf("describe broker %d configs: %v", b.ID, err)
		}
		for _, c := range rc[0].Configs {
			if c.Key == "replica.alter.log.dirs.io.max.bytes.per.second" {
				return c.MaybeValue(), c.Source.String()
			}
		}
		return "", ""
	}
	logDirThrottle := func(b *testcluster.Broker) string {
		v, source := logDirThrottleConfig(b)
		if source != "DYNAMIC_BROKER_CONFIG" {
			return ""
		}
		return v
	}
	waitUntil(t, testTimeout, "the log dir throttle on the moving broker", func() bool { return logDirThrottle(dst) == "5000000" })
	if v := logDirThrottle(src); v != "" {
		t.Errorf("broker %d (no replica moving between its dirs) has the log dir throttle %q", src.ID, v)
	}

	if v, source := logDirThrottleConfig(src); v != "9223372036854775807" || source != "DEFAULT_CONFIG" {
		t.Errorf("broker %d describes replica.alter.log.dirs.io.max.bytes.per.second as %q (%s); want Kafka's default, Long.MAX_VALUE", src.ID, v, source)
	}

	ids := []int32{src.ID, dst.ID}
	slices.Sort(ids)
	want = "Status of partition reassignment:\nReassignment of partition ld-0 is completed.\n" +
		fmt.Sprintf("Reassignment of replica ld-0-%d completed successfully.\n", dst.ID) +
		fmt.Sprintf("Clearing broker-level throttles on brokers %d,%d\nClearing topic-level throttles on topic ld\n", ids[0], ids[1])
	waitTool(t, func(out string) bool { return out == want }, tool("--verify", "--reassignment-json-file", plan)...)
	waitUntil(t, testTimeout, "--verify to clear the log dir throttle", func() bool { return logDirThrottle(dst) == "" })

	if _, err := os.Stat(filepath.Join(target, "ld-0")); err != nil {
		t.Errorf("ld-0 is not in the target dir %s: %v", target, err)
	}
	waitUntil(t, testTimeout, "no ld-0 in the other dir", func() bool {
		_, err := os.Stat(filepath.Join(jbodDirs[0], "ld-0"))
		return os.IsNotExist(err)
	})
	waitUntil(t, testTimeout, "the old broker to delete its replica", func() bool { return !partitionDir(src, topic, 0) })
	if got := readAll(ctx, t, seeds, topic); !slices.Equal(got, values("ld", 200)) {
		t.Errorf("read %d records after the move; want the 200 written", len(got))
	}

	// Back to the first dir, throttled to nothing: one batch of the 200
	// is copied, then the move waits.
	back := filepath.Join(t.TempDir(), "back.json")
	if err := os.WriteFile(back, []byte(fmt.Sprintf(`{"version":1,"partitions":[{"topic":%q,"partition":0,"replicas":[%d],"log_dirs":[%q]}]}`, topic, dst.ID, jbodDirs[0])), 0o644); err != nil {
		t.Fatal(err)
	}
	startedBack := fmt.Sprintf("Successfully started moving log directory to %s for replica ld-0 with broker %d \n", jbodDirs[0], dst.ID)
	out = mustTool(t, nil, tool("--execute", "--reassignment-json-file", back, "--replica-alter-log-dirs-throttle", "0")...)
	if !strings.Contains(out, "The replica-alter-dir throttle limit was set to 0 B/s\n") || !strings.HasSuffix(out, startedBack) {
		t.Errorf("--execute of the throttled move printed:\n%s", out)
	}
	inProgress := fmt.Sprintf("Status of partition reassignment:\nReassignment of partition ld-0 is completed.\nReassignment of replica ld-0-%d is still in progress.\n", dst.ID)
	if out := mustTool(t, nil, tool("--verify", "--reassignment-json-file", back)...); out != inProgress {
		t.Errorf("--verify of the throttled move printed:\n%q\nwant:\n%q", out, inProgress)
	}
	if v := logDirThrottle(dst); v != "0" {
		t.Errorf("log dir throttle %q on broker %d during the move; want 0 kept by --verify", v, dst.ID)
	}
	// Resubmitting with --additional changes the throttle, as the stock
	// tool's help says.
	out = mustTool(t, nil, tool("--execute", "--additional", "--reassignment-json-file", back, "--replica-alter-log-dirs-throttle", "100000000")...)
	if !strings.Contains(out, "The replica-alter-dir throttle limit was set to 100000000 B/s\n") || !strings.HasSuffix(out, startedBack) {
		t.Errorf("--execute --additional printed:\n%s", out)
	}
	want = fmt.Sprintf("Status of partition reassignment:\nReassignment of partition ld-0 is completed.\nReassignment of replica ld-0-%d completed successfully.\n", dst.ID) +
		fmt.Sprintf("Clearing broker-level throttles on brokers %d,%d\nClearing topic-level throttles on topic ld\n", ids[0], ids[1])
	waitTool(t, func(out string) bool { return out == want }, tool("--verify", "--reassignment-json-file", back)...)
	if _, err := os.Stat(filepath.Join(jbodDirs[0], "ld-0")); err != nil {
		t.Errorf("ld-0 is not back in %s: %v", jbodDirs[0], err)
	}
	if got := readAll(ctx, t, seeds, topic); !slices.Equal(got, values("ld", 200)) {
		t.Errorf("read %d records after the second move; want the 200 written", len(got))
	}
}
