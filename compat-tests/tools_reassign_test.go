package compattests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestToolReassignPartitions drives `gokafka reassign-partitions` against
// three real brokers as an operator drives kafka-reassign-partitions.sh:
// --generate proposes a plan over a broker list, --execute starts it and
// prints the rollback JSON, --verify reports it complete and clears the
// throttles --throttle set, --list shows a reassignment that cannot finish
// (its new replica's broker is paused), and --cancel rolls it back. The
// outputs are Kafka 3.9's.
func TestToolReassignPartitions(t *testing.T) {
	const topic = "rt"
	sc := newSmallCluster(t, topic, func(ctrl int32, others []int32) []int32 { return []int32{ctrl, others[0]} }, "v", 50)
	ctx, z, adm, ctrl, others := sc.ctx, sc.z, sc.adm, sc.ctrl, sc.others
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tool := func(args ...string) []string {
		return append([]string{"reassign-partitions", "--bootstrap-server", strings.Join(sc.seeds, ",")}, args...)
	}
	ids := []int32{ctrl, others[0], others[1]}
	slices.Sort(ids)
	brokerList := fmt.Sprintf("%d,%d,%d", ids[0], ids[1], ids[2])

	// --generate: the current assignment and a proposal over the list.
	topics := write("topics.json", `{"topics":[{"topic":"rt"}],"version":1}`)
	out := mustTool(t, nil, tool("--generate", "--topics-to-move-json-file", topics, "--broker-list", brokerList)...)
	lines := strings.Split(out, "\n")
	cur := fmt.Sprintf(`{"version":1,"partitions":[{"topic":"rt","partition":0,"replicas":[%d,%d],"log_dirs":["any","any"]}]}`, ctrl, others[0])
	if len(lines) != 6 || lines[0] != "Current partition replica assignment" || lines[1] != cur || lines[2] != "" ||
		lines[3] != "Proposed partition reassignment configuration" || lines[5] != "" {
		t.Fatalf("--generate printed:\n%s", out)
	}
	var proposal struct {
		Partitions []struct {
			Replicas []int32 `json:"replicas"`
		} `json:"partitions"`
	}
	if err := json.Unmarshal([]byte(lines[4]), &proposal); err != nil || len(proposal.Partitions) != 1 || len(proposal.Partitions[0].Replicas) != 2 {
		t.Fatalf("--generate proposal %q: %v", lines[4], err)
	}

	// --execute with a throttle, then --verify until done.
	target := []int32{ctrl, others[1]}
	plan := write("plan.json", fmt.Sprintf(`{"version":1,"partitions":[{"topic":"rt","partition":0,"replicas":[%d,%d]}]}`, target[0], target[1]))
	out = mustTool(t, nil, tool("--execute", "--reassignment-json-file", plan, "--throttle", "50000000")...)
	want := "Current partition replica assignment\n\n" + cur + "\n\nSave this to use as the --reassignment-json-file option during rollback\n" +
		"Warning: You must run --verify periodically, until the reassignment completes, to ensure the throttle is removed.\n" +
		"The inter-broker throttle limit was set to 50000000 B/s\n" +
		"Successfully started partition reassignment for rt-0\n"
	if out != want {
		t.Errorf("--execute printed:\n%s\nwant:\n%s", out, want)
	}
	throttles := func() map[string]string {
		rc, err := adm.DescribeTopicConfigs(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, c := range rc[0].Configs {
			if strings.Contains(c.Key, "throttled") && c.Source.String() == "DYNAMIC_TOPIC_CONFIG" {
				out[c.Key] = c.MaybeValue()
			}
		}
		return out
	}
	leaders := []string{fmt.Sprintf("0:%d", ctrl), fmt.Sprintf("0:%d", others[0])}
	slices.Sort(leaders)
	waitUntil(t, testTimeout, fmt.Sprintf("throttled replicas: leaders %v (the sources), followers 0:%d (the destination)", leaders, others[1]), func() bool {
		got := throttles()
		return got["leader.replication.throttled.replicas"] == strings.Join(leaders, ",") &&
			got["follower.replication.throttled.replicas"] == fmt.Sprintf("0:%d", others[1])
	})
	waitReassigned(ctx, t, adm, z, topic, map[int32][]int32{0: target})
	// The brokers learn the new replica set from the controller's
	// UpdateMetadata a moment after ZooKeeper has it: --verify is run
	// periodically, as the tool asks, until it reports completion.
	want = "Status of partition reassignment:\nReassignment of partition rt-0 is completed.\n\n" +
		"Clearing broker-level throttles on brokers " + brokerList + "\nClearing topic-level throttles on topic rt\n"
	waitTool(t, func(out string) bool { return out == want }, tool("--verify", "--reassignment-json-file", plan)...)
	// Every broker learns of the config change through
	// /config/changes, a moment later.
	waitUntil(t, testTimeout, "--verify to clear the topic's throttles", func() bool { return len(throttles()) == 0 })
	if out := mustTool(t, nil, tool("--list")...); out != "No partition reassignments found.\n" {
		t.Errorf("--list printed %q", out)
	}

	// A move that cannot finish (its new replica's broker is paused):
	// listed, refused a second time without --additional, then cancelled.
	// The tool may pick the paused broker for a Metadata request: a short
	// request timeout lets it go on to another.
	paused := sc.brokers[others[0]]
	if err := paused.Pause(); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			if err := paused.Resume(); err != nil {
				t.Error(err)
			}
		}
	}
	defer resume()
	cfg := write("admin.properties", "request.timeout.ms=2000\n")
	live := strings.Join([]string{sc.brokers[ctrl].Addr(), sc.brokers[others[1]].Addr()}, ",")
	liveTool := func(args ...string) []string {
		return append([]string{"reassign-partitions", "--bootstrap-server", live, "--command-config", cfg}, args...)
	}
	back := write("back.json", fmt.Sprintf(`{"version":1,"partitions":[{"topic":"rt","partition":0,"replicas":[%d,%d]}]}`, ctrl, others[0]))
	mustTool(t, nil, liveTool("--execute", "--reassignment-json-file", back)...)
	out = mustTool(t, nil, liveTool("--list")...)
	want = fmt.Sprintf("Current partition reassignments:\nrt-0: replicas: %d,%d,%d. adding: %d. removing: %d.\n", ctrl, others[0], others[1], others[0], others[1])
	if out != want {
		t.Errorf("--list during the move printed:\n%s\nwant:\n%s", out, want)
	}
	if r := runToolIO(t, nil, liveTool("--execute", "--reassignment-json-file", back)...); r.code != 1 || !strings.Contains(r.stdout+r.stderr, "Cannot execute because there is an existing partition assignment.") {
		t.Errorf("--execute during a reassignment: exit %d, %q %q; want exit 1 and Kafka's message", r.code, r.stdout, r.stderr)
	}
	out = mustTool(t, nil, liveTool("--cancel", "--reassignment-json-file", back, "--preserve-throttles")...)
	if want := "Successfully cancelled partition reassignment for: rt-0\nNone of the specified partition moves are active.\n"; out != want {
		t.Errorf("--cancel printed:\n%s\nwant:\n%s", out, want)
	}
	resume()
	waitReassigned(ctx, t, adm, z, topic, map[int32][]int32{0: target})
	waitUntil(t, testTimeout, "the paused broker to delete the replica the cancelled move started", func() bool {
		return !partitionDir(paused, topic, 0)
	})
	out = mustTool(t, nil, tool("--verify", "--reassignment-json-file", back, "--preserve-throttles")...)
	want = fmt.Sprintf("Status of partition reassignment:\nThere is no active reassignment of partition rt-0, but replica set is %d,%d rather than %d,%d.\n\n", ctrl, others[1], ctrl, others[0])
	if out != want {
		t.Errorf("--verify after the cancel printed:\n%s\nwant:\n%s", out, want)
	}
	if got := readAll(ctx, t, sc.seeds, topic); !slices.Equal(got, values("v", 50)) {
		t.Errorf("read %d records after the moves; want the 50 written", len(got))
	}
}
