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
// and every record reads back.
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
	logDirThrottle := func(b *testcluster.Broker) string {
		rc, err := adm.DescribeBrokerConfigs(ctx, b.ID)
		if err == nil {
			err = rc[0].Err
		}
		if err != nil {
			t.Fatalf("describe broker %d configs: %v", b.ID, err)
		}
		for _, c := range rc[0].Configs {
			if c.Key == "replica.alter.log.dirs.io.max.bytes.per.second" && c.Source.String() == "DYNAMIC_BROKER_CONFIG" {
				return c.MaybeValue()
			}
		}
		return ""
	}
	waitUntil(t, testTimeout, "the log dir throttle on the moving broker", func() bool { return logDirThrottle(dst) == "5000000" })
	if v := logDirThrottle(src); v != "" {
		t.Errorf("broker %d (no replica moving between its dirs) has the log dir throttle %q", src.ID, v)
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
}
