package compattests

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// topicIDRE matches the TopicId column, which differs on every run.
var topicIDRE = regexp.MustCompile(`TopicId: [A-Za-z0-9_-]{22}`)

// TestToolTopics drives `gokafka topics` against a real broker as a script
// written for kafka-topics.sh would: create (with configs, with a manual
// assignment, twice), list, describe (golden, tab-separated), alter
// partitions and delete, checking outputs, error messages and exit codes.
func TestToolTopics(t *testing.T) {
	_, b := startBroker(t, nil)
	bs := []string{"topics", "--bootstrap-server", b.Addr()}
	id := b.ID
	tool := func(args ...string) []string { return append(append([]string(nil), bs...), args...) }

	if got := mustTool(t, nil, tool("--create", "--topic", "orders", "--partitions", "3", "--replication-factor", "1", "--config", "retention.ms=3600000", "--config", "cleanup.policy=delete")...); got != "Created topic orders.\n" {
		t.Fatalf("create printed %q", got)
	}
	mustTool(t, nil, tool("--create", "--topic", "manual", "--replica-assignment", fmt.Sprintf("%d,%d", id, id))...)

	r := runToolIO(t, nil, tool("--create", "--topic", "orders", "--partitions", "1")...)
	if r.code != 1 || r.stderr != "Error while executing topic command : Topic 'orders' already exists.\n" {
		t.Fatalf("second create: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := runToolIO(t, nil, tool("--create", "--topic", "orders", "--partitions", "1", "--if-not-exists")...); r.code != 0 || r.stdout != "" {
		t.Fatalf("create --if-not-exists of an existing topic: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	if got := mustTool(t, nil, tool("--list")...); got != "manual\norders\n" {
		t.Fatalf("list printed %q", got)
	}
	if got := mustTool(t, nil, tool("--list", "--topic", "ord.*")...); got != "orders\n" {
		t.Fatalf("list --topic ord.* printed %q", got)
	}
	cfg := filepath.Join(t.TempDir(), "admin.properties")
	if err := os.WriteFile(cfg, []byte("client.id=my-admin\nrequest.timeout.ms=5000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := mustTool(t, nil, tool("--list", "--command-config", cfg)...); got != "manual\norders\n" {
		t.Fatalf("list --command-config printed %q", got)
	}

	desc := waitTool(t, func(s string) bool { return strings.Count(s, "Leader: none") == 0 && strings.Count(s, "\n") == 4 },
		tool("--describe", "--topic", "orders")...)
	golden := strings.Join([]string{
		"Topic: orders\tTopicId: <id>\tPartitionCount: 3\tReplicationFactor: 1\tConfigs: cleanup.policy=delete,retention.ms=3600000",
		"\tTopic: orders\tPartition: 0\tLeader: {id}\tReplicas: {id}\tIsr: {id}",
		"\tTopic: orders\tPartition: 1\tLeader: {id}\tReplicas: {id}\tIsr: {id}",
		"\tTopic: orders\tPartition: 2\tLeader: {id}\tReplicas: {id}\tIsr: {id}",
		"",
	}, "\n")
	golden = strings.ReplaceAll(golden, "{id}", fmt.Sprint(id))
	if got := topicIDRE.ReplaceAllString(desc, "TopicId: <id>"); got != golden {
		t.Fatalf("describe:\n got %q\nwant %q", got, golden)
	}
	if got := mustTool(t, nil, tool("--describe", "--topic", "orders", "--under-replicated-partitions")...); got != "" {
		t.Fatalf("describe --under-replicated-partitions printed %q for a healthy topic", got)
	}
	if got := mustTool(t, nil, tool("--describe", "--topics-with-overrides")...); !strings.HasPrefix(got, "Topic: orders\t") || strings.Contains(got, "manual") || strings.Contains(got, "Partition:") {
		t.Fatalf("describe --topics-with-overrides printed %q", got)
	}

	r = runToolIO(t, nil, tool("--describe", "--topic", "missing")...)
	if r.code != 1 || r.stderr != "Topic 'missing' does not exist as expected\n" {
		t.Fatalf("describe of a missing topic: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := runToolIO(t, nil, tool("--describe", "--topic", "missing", "--if-exists")...); r.code != 0 || r.stdout != "" {
		t.Fatalf("describe --if-exists of a missing topic: exit %d, stdout %q", r.code, r.stdout)
	}

	mustTool(t, nil, tool("--alter", "--topic", "orders", "--partitions", "5")...)
	waitTool(t, func(s string) bool { return strings.Contains(s, "PartitionCount: 5\t") }, tool("--describe", "--topic", "orders")...)
	r = runToolIO(t, nil, tool("--alter", "--topic", "orders", "--partitions", "2")...)
	if r.code != 1 || !strings.HasPrefix(r.stderr, "Error while executing topic command : ") {
		t.Fatalf("shrinking alter: exit %d, stderr %q", r.code, r.stderr)
	}

	mustTool(t, nil, tool("--delete", "--topic", "manual")...)
	waitTool(t, func(s string) bool { return s == "orders\n" }, tool("--list")...)
}

// TestToolTopicsErrors checks the failures a user meets first, for every
// tool: a broker that is not there (named in the message), a missing
// action or option, an unknown option, and --help.
func TestToolTopicsErrors(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       []string
		code       int
		stderrHas  string
		stdoutHave string
	}{
		{"unreachable", []string{"topics", "--bootstrap-server", "127.0.0.1:1", "--list"}, 1, "127.0.0.1:1", ""},
		{"no action", []string{"topics", "--bootstrap-server", "127.0.0.1:1"}, 1, "Command must include exactly one action", ""},
		{"unknown option", []string{"topics", "--bootstrap-server", "127.0.0.1:1", "--list", "--frobnicate"}, 1, "frobnicate is not a recognized option", ""},
		{"no server", []string{"topics", "--list"}, 1, "--bootstrap-server must be specified", ""},
		{"groups unreachable", []string{"consumer-groups", "--bootstrap-server", "127.0.0.1:1", "--list"}, 1, "127.0.0.1:1", ""},
		{"consumer unreachable", []string{"console-consumer", "--bootstrap-server", "127.0.0.1:1", "--topic", "t"}, 1, "127.0.0.1:1", ""},
		{"consumer no topic", []string{"console-consumer", "--bootstrap-server", "127.0.0.1:1"}, 1, "Exactly one of --include/--topic is required.", ""},
		{"groups help", []string{"consumer-groups", "--help"}, 0, "", "--reset-offsets"},
		{"producer help", []string{"console-producer", "--help"}, 0, "", "--producer-property"},
		{"consumer help", []string{"console-consumer", "--help"}, 0, "", "--from-beginning"},
		{"help", []string{"topics", "--help"}, 0, "", "--bootstrap-server"},
		{"gokafka help", []string{"--help"}, 0, "", "gokafka topics"},
		{"version", []string{"version"}, 0, "", "gokafka "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runToolIO(t, nil, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.stderrHas) || !strings.Contains(r.stdout, tc.stdoutHave) {
				t.Fatalf("gokafka %v: exit %d (want %d)\nstdout:\n%s\nstderr:\n%s", tc.args, r.code, tc.code, r.stdout, r.stderr)
			}
		})
	}
}

// TestToolTopicsZooKeeper drives `gokafka topics --zookeeper` as Kafka
// 2.x's tool was used: the topic is written into ZooKeeper, the controller
// picks it up (leaders elected, a topic id added), and the broker then
// serves it; --alter and --delete go through the znodes too.
func TestToolTopicsZooKeeper(t *testing.T) {
	c, b := startBroker(t, nil)
	zk := []string{"topics", "--zookeeper", c.ZKConnect()}
	tool := func(args ...string) []string { return append(append([]string(nil), zk...), args...) }

	if got := mustTool(t, nil, tool("--create", "--topic", "legacy", "--partitions", "2", "--replication-factor", "1", "--config", "retention.ms=60000")...); got != "Created topic legacy.\n" {
		t.Fatalf("create printed %q", got)
	}
	r := runToolIO(t, nil, tool("--create", "--topic", "legacy", "--partitions", "2", "--replication-factor", "1")...)
	if r.code != 1 || r.stderr != "Error while executing topic command : Topic 'legacy' already exists.\n" {
		t.Fatalf("second create: exit %d, stderr %q", r.code, r.stderr)
	}
	r = runToolIO(t, nil, tool("--create", "--topic", "big", "--partitions", "1", "--replication-factor", "3")...)
	if r.code != 1 || !strings.Contains(r.stderr, "Replication factor: 3 larger than available brokers: 1.") {
		t.Fatalf("create with rf 3 on one broker: exit %d, stderr %q", r.code, r.stderr)
	}
	r = runToolIO(t, nil, tool("--create", "--topic", "bad", "--partitions", "1", "--replication-factor", "1", "--config", "no.such.config=1")...)
	if r.code != 1 || !strings.Contains(r.stderr, "no.such.config") {
		t.Fatalf("create with an unknown config: exit %d, stderr %q", r.code, r.stderr)
	}

	// The broker serves the topic once the controller elected leaders.
	id := fmt.Sprint(b.ID)
	want := strings.Join([]string{
		"Topic: legacy\tTopicId: <id>\tPartitionCount: 2\tReplicationFactor: 1\tConfigs: retention.ms=60000",
		"\tTopic: legacy\tPartition: 0\tLeader: " + id + "\tReplicas: " + id + "\tIsr: " + id,
		"\tTopic: legacy\tPartition: 1\tLeader: " + id + "\tReplicas: " + id + "\tIsr: " + id,
		"",
	}, "\n")
	same := func(s string) bool { return topicIDRE.ReplaceAllString(s, "TopicId: <id>") == want }
	waitTool(t, same, tool("--describe", "--topic", "legacy")...)
	waitTool(t, same, "topics", "--bootstrap-server", b.Addr(), "--describe", "--topic", "legacy")

	mustTool(t, nil, tool("--alter", "--topic", "legacy", "--partitions", "4")...)
	waitTool(t, func(s string) bool {
		return strings.Contains(s, "PartitionCount: 4\t") && !strings.Contains(s, "Leader: none")
	},
		"topics", "--bootstrap-server", b.Addr(), "--describe", "--topic", "legacy")

	if got := mustTool(t, nil, tool("--delete", "--topic", "legacy")...); !strings.HasPrefix(got, "Topic legacy is marked for deletion.\n") {
		t.Fatalf("delete printed %q", got)
	}
	waitTool(t, func(s string) bool { return s == "\n" }, tool("--list")...)
}
