package compattests

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestToolConsumerGroups drives `gokafka consumer-groups` against a real
// broker: --list, the --describe tables (golden, Kafka's column layout)
// for an empty group with committed offsets and for one with a live
// member, --members and --state, the --reset-offsets scenarios with
// --dry-run and --execute, the refusal to reset an active group, and
// --delete.
func TestToolConsumerGroups(t *testing.T) {
	_, b := startBroker(t, map[string]string{"group.initial.rebalance.delay.ms": "0"})
	ctx := testCtx(t)
	adm := newAdmin(t, b)
	createTopic(t, adm, "events", 2, nil)
	cl := newClient(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := int32(0); p < 2; p++ {
		for i := range 10 {
			produceSync(t, cl, &kgo.Record{Topic: "events", Partition: p, Value: []byte(fmt.Sprint(i))})
		}
	}
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: "events", Partition: 0, At: 4, LeaderEpoch: -1})
	offs.Add(kadm.Offset{Topic: "events", Partition: 1, At: 7, LeaderEpoch: -1})
	if r, err := adm.CommitOffsets(ctx, "quiet", offs); err != nil || r.Error() != nil {
		t.Fatalf("commit offsets: %v %v", err, r.Error())
	}
	g := []string{"consumer-groups", "--bootstrap-server", b.Addr()}
	tool := func(args ...string) []string { return append(append([]string(nil), g...), args...) }

	if got := mustTool(t, nil, tool("--list")...); got != "quiet\n" {
		t.Fatalf("--list printed %q", got)
	}
	r := runToolIO(t, nil, tool("--describe", "--group", "quiet")...)
	golden := "\n" +
		"GROUP           TOPIC           PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG             CONSUMER-ID     HOST            CLIENT-ID\n" +
		"quiet           events          0          4               10              6               -               -               -\n" +
		"quiet           events          1          7               10              3               -               -               -\n"
	if r.code != 0 || r.stdout != golden || !strings.Contains(r.stderr, "Consumer group 'quiet' has no active members.") {
		t.Fatalf("--describe of an empty group: exit %d\nstdout %q\nwant   %q\nstderr %q", r.code, r.stdout, golden, r.stderr)
	}

	// Reset plans: dry runs leave the committed offsets alone.
	resetGolden := func(o0, o1 int) string {
		return fmt.Sprintf("\n%-30s %-30s %-10s %-15s\n%-30s %-30s %-10s %-15s\n%-30s %-30s %-10s %-15s\n",
			"GROUP", "TOPIC", "PARTITION", "NEW-OFFSET", "quiet", "events", "0", fmt.Sprint(o0), "quiet", "events", "1", fmt.Sprint(o1))
	}
	for _, tc := range []struct {
		args   []string
		o0, o1 int
	}{
		{[]string{"--to-earliest"}, 0, 0},
		{[]string{"--to-latest"}, 10, 10},
		{[]string{"--to-offset", "5"}, 5, 5},
		{[]string{"--to-offset", "50"}, 10, 10},
		{[]string{"--shift-by", "-5"}, 0, 2},
		{[]string{"--to-current"}, 4, 7},
		{[]string{"--to-datetime", "2000-01-01T00:00:00.000"}, 0, 0},
		{[]string{"--by-duration", "PT0S"}, 10, 10},
	} {
		args := append(tool("--reset-offsets", "--group", "quiet", "--topic", "events", "--dry-run"), tc.args...)
		if got := mustTool(t, nil, args...); got != resetGolden(tc.o0, tc.o1) {
			t.Errorf("%v:\n got %q\nwant %q", tc.args, got, resetGolden(tc.o0, tc.o1))
		}
	}
	if got := mustTool(t, nil, tool("--reset-offsets", "--group", "quiet", "--all-topics", "--to-offset", "2", "--execute")...); got != resetGolden(2, 2) {
		t.Fatalf("--execute printed %q", got)
	}
	co, err := adm.FetchOffsets(ctx, "quiet")
	if err != nil {
		t.Fatal(err)
	}
	for p := int32(0); p < 2; p++ {
		if o, _ := co.Lookup("events", p); o.At != 2 {
			t.Fatalf("after --execute partition %d is at %d, want 2", p, o.At)
		}
	}

	// A live member: its rows carry its ids; reset is refused.
	member := newClient(t, b, kgo.ConsumerGroup("live"), kgo.ConsumeTopics("events"), kgo.ClientID("live-client"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	pollN(t, member, 20)
	if err := member.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	out := waitTool(t, func(s string) bool { return strings.Count(s, " live-client\n") == 2 }, tool("--describe", "--group", "live")...)
	rowRE := regexp.MustCompile(`(?m)^live +events +([01]) +10 +10 +0 +(live-client-\S+|\S+) +(\S+) +live-client$`)
	if m := rowRE.FindAllStringSubmatch(out, -1); len(m) != 2 || !strings.HasPrefix(out, "\nGROUP ") {
		t.Fatalf("--describe of a live group:\n%s", out)
	}
	if out := mustTool(t, nil, tool("--describe", "--group", "live", "--members")...); !regexp.MustCompile(`(?m)^GROUP +CONSUMER-ID +HOST +CLIENT-ID +#PARTITIONS +$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^live +\S+ +\S+ +live-client +2 +$`).MatchString(out) {
		t.Fatalf("--members:\n%q", out)
	}
	if out := mustTool(t, nil, tool("--describe", "--group", "live", "--state")...); !regexp.MustCompile(`(?m)^live +\S+:\d+  \(\d+\) +\S+ +Stable +1$`).MatchString(out) {
		t.Fatalf("--state:\n%q", out)
	}
	if out := mustTool(t, nil, tool("--list", "--state")...); !regexp.MustCompile(`(?m)^live +Stable +$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^quiet +Empty +$`).MatchString(out) {
		t.Fatalf("--list --state:\n%q", out)
	}
	r = runToolIO(t, nil, tool("--reset-offsets", "--group", "live", "--all-topics", "--to-earliest", "--execute")...)
	if r.code != 1 || !strings.Contains(r.stderr, "Assignments can only be reset if the group 'live' is inactive, but the current state is Stable.") {
		t.Fatalf("reset of an active group: exit %d, stderr %q", r.code, r.stderr)
	}
	r = runToolIO(t, nil, tool("--delete", "--group", "live")...)
	if r.code != 1 || !strings.Contains(r.stderr, "* Group 'live' could not be deleted due to: org.apache.kafka.common.errors.GroupNotEmptyException") {
		t.Fatalf("delete of an active group: exit %d, stderr %q", r.code, r.stderr)
	}
	member.Close()

	if got := mustTool(t, nil, tool("--delete", "--group", "quiet")...); got != "Deletion of requested consumer groups ('quiet') was successful.\n" {
		t.Fatalf("--delete printed %q", got)
	}
	r = runToolIO(t, nil, tool("--describe", "--group", "quiet")...)
	if r.code != 1 || !strings.Contains(r.stderr, "Error: Consumer group 'quiet' does not exist.") {
		t.Fatalf("describe of a deleted group: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}
