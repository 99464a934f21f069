package compattests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestToolsMatchJavaTools runs Kafka's own kafka-topics.sh and
// kafka-consumer-groups.sh and gokafka's tools on the same cluster and
// compares what they print. It needs a Kafka download in $KAFKA_HOME (and
// Java); the CI machines have neither, so it is skipped there and the
// golden tests stand in.
func TestToolsMatchJavaTools(t *testing.T) {
	home := os.Getenv("KAFKA_HOME")
	if home == "" {
		t.Skip("KAFKA_HOME is not set: no Kafka tools to compare with")
	}
	_, b := startBroker(t, nil)
	adm := newAdmin(t, b)
	createTopic(t, adm, "compare", 3, map[string]*string{"retention.ms": kadm.StringPtr("3600000")})
	produceSync(t, newClient(t, b), &kgo.Record{Topic: "compare", Value: []byte("x")})
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: "compare", Partition: 0, At: 0, LeaderEpoch: -1})
	if _, err := adm.CommitOffsets(testCtx(t), "compare-group", offs); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		script string
		args   []string
	}{
		{"kafka-topics.sh", []string{"--describe", "--topic", "compare"}},
		{"kafka-topics.sh", []string{"--list"}},
		{"kafka-consumer-groups.sh", []string{"--describe", "--group", "compare-group"}},
		{"kafka-consumer-groups.sh", []string{"--list"}},
	} {
		args := append([]string{"--bootstrap-server", b.Addr()}, tc.args...)
		cmd := exec.CommandContext(testCtx(t), filepath.Join(home, "bin", tc.script), args...)
		var stdout strings.Builder
		cmd.Stdout = &stdout
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s %v: %v", tc.script, args, err)
		}
		tool := strings.TrimSuffix(strings.TrimPrefix(tc.script, "kafka-"), ".sh")
		ours := mustTool(t, nil, append([]string{tool}, args...)...)
		if ours != stdout.String() {
			t.Errorf("%s %v:\n kafka %q\ngokafka %q", tc.script, tc.args, stdout.String(), ours)
		}
	}
}
