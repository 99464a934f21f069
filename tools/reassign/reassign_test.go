package reassign

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gokafka/gokafka/tools/cmdline"
)

// The command-line rules of validateAndParseArgs, with its messages.
func TestCheckArgs(t *testing.T) {
	tests := []struct {
		args    []string
		action  string
		wantErr string
	}{
		{[]string{"--bootstrap-server", "h:1", "--list"}, "list", ""},
		{[]string{"--bootstrap-server", "h:1", "--execute", "--reassignment-json-file", "f", "--throttle", "100", "--additional"}, "execute", ""},
		{[]string{"--bootstrap-server", "h:1", "--generate", "--topics-to-move-json-file", "f", "--broker-list", "1,2"}, "generate", ""},
		{[]string{"--bootstrap-server", "h:1"}, "", "Command must include exactly one action: --generate, --execute, --verify, --cancel, --list"},
		{[]string{"--bootstrap-server", "h:1", "--list", "--verify"}, "", "Command must include exactly one action"},
		{[]string{"--list"}, "", "Please specify --bootstrap-server"},
		{[]string{"--bootstrap-server", "h:1", "--verify"}, "", `Missing required argument "[reassignment-json-file]"`},
		{[]string{"--bootstrap-server", "h:1", "--generate", "--topics-to-move-json-file", "f"}, "", `Missing required argument "[broker-list]"`},
		{[]string{"--bootstrap-server", "h:1", "--verify", "--reassignment-json-file", "f", "--throttle", "5"}, "", `Option "[throttle]" can't be used with action "[verify]"`},
		{[]string{"--bootstrap-server", "h:1", "--list", "--additional"}, "", `Option "[additional]" can't be used with action "[list]"`},
	}
	for _, tc := range tests {
		v, err := Tool.Parse(tc.args)
		if err != nil {
			t.Fatalf("%v: parse: %v", tc.args, err)
		}
		action, err := checkArgs(v)
		var ue *cmdline.UsageError
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%v: %v", tc.args, err)
		case tc.wantErr == "" && action != tc.action:
			t.Errorf("%v: action %q, want %q", tc.args, action, tc.action)
		case tc.wantErr != "" && (!errors.As(err, &ue) || !strings.HasPrefix(ue.Msg, tc.wantErr)):
			t.Errorf("%v: error %v, want a usage error %q", tc.args, err, tc.wantErr)
		}
	}
}

// The reassignment JSON: the tool's own output format reads back, and
// Kafka's checks refuse what it refuses.
func TestReassignmentFile(t *testing.T) {
	dir := t.TempDir()
	file := func(s string) string {
		p := filepath.Join(dir, "r.json")
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	out := formatJSON(map[tp][]int32{{"b", 0}: {2, 1}, {"a", 1}: {3}, {"a", 0}: {1, 2}})
	want := `{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[1,2],"log_dirs":["any","any"]},{"topic":"a","partition":1,"replicas":[3],"log_dirs":["any"]},{"topic":"b","partition":0,"replicas":[2,1],"log_dirs":["any","any"]}]}`
	if out != want {
		t.Errorf("formatJSON:\n%s\nwant\n%s", out, want)
	}
	es, err := readReassignment(file(out))
	if err != nil || len(es) != 3 || es[2].p != (tp{"b", 0}) || !slices.Equal(es[2].replicas, []int32{2, 1}) {
		t.Fatalf("read back: %+v, %v", es, err)
	}
	for _, tc := range []struct{ json, want string }{
		{`{"version":1,"partitions":[]}`, "Partition reassignment list cannot be empty"},
		{`{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[]}]}`, "Partition replica list cannot be empty"},
		{`{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[1]},{"topic":"a","partition":0,"replicas":[2]}]}`, "Partition reassignment contains duplicate topic partitions: a-0"},
		{`{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[1,2,1]}]}`, "Partition replica lists may not contain duplicate entries: a-0 contains multiple entries for 1"},
		{`{"version":2,"partitions":[]}`, "Not supported version field value 2"},
		{`{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[1,2],"log_dirs":["any"]}]}`, "Size of replicas list [1, 2] is different from size of log dirs list [any] for partition a-0"},
		{`nope`, "The input string is not a valid JSON"},
	} {
		es, err := readReassignment(file(tc.json))
		if err == nil {
			err = checkExecute(es)
		}
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: %v; want %q", tc.json, err, tc.want)
		}
	}
}

// Kafka's rack-unaware assignment: leaders round-robin from the start,
// followers at a shift that grows after each round over the brokers.
func TestAssign(t *testing.T) {
	got := assign([]int32{1, 2, 3}, 6, 2, 0, 0)
	want := map[int32][]int32{0: {1, 2}, 1: {2, 3}, 2: {3, 1}, 3: {1, 3}, 4: {2, 1}, 5: {3, 2}}
	for p, w := range want {
		if !slices.Equal(got[p], w) {
			t.Errorf("partition %d: %v, want %v", p, got[p], w)
		}
	}
	for p, reps := range assign([]int32{4, 5, 6, 7}, 16, 3, 2, 1) {
		if len(reps) != 3 || len(slices.Compact(slices.Sorted(slices.Values(reps)))) != 3 {
			t.Errorf("partition %d: %v; want 3 distinct brokers", p, reps)
		}
	}
}

// The throttles of a move: leaders throttle the sources, followers the
// destinations not among them, as "partition:broker" lists.
func TestMoveMap(t *testing.T) {
	m := moveMap(nil, map[tp][]int32{{"t", 0}: {1, 4}, {"t", 1}: {2, 3}}, map[tp][]int32{{"t", 0}: {1, 2}, {"t", 1}: {2, 3}})
	if got := m[tp{"t", 0}]; !slices.Equal(got.sources, []int32{1, 2}) || !slices.Equal(got.destinations, []int32{4}) {
		t.Errorf("t-0 move %+v; want sources [1 2] destinations [4]", got)
	}
	if got := m[tp{"t", 1}]; len(got.destinations) != 0 {
		t.Errorf("t-1 move %+v; want no destinations", got)
	}
	if s := sortedSet([]string{"1:2", "0:1", "0:2", "0:1"}); s != "0:1,0:2,1:2" {
		t.Errorf("sortedSet = %q", s)
	}
}

// log_dirs: the replicas naming a dir (not "any") are the log dir moves,
// keyed by replica.
func TestLogDirTargets(t *testing.T) {
	p := filepath.Join(t.TempDir(), "r.json")
	if err := os.WriteFile(p, []byte(`{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[1,2],"log_dirs":["/d1","any"]},{"topic":"a","partition":1,"replicas":[3]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	es, err := readReassignment(p)
	if err != nil {
		t.Fatal(err)
	}
	got := logDirTargets(es)
	if len(got) != 1 || got[replica{tp{"a", 0}, 1}] != "/d1" {
		t.Errorf("logDirTargets = %v; want only a-0-1 to /d1", got)
	}
}

// The --verify lines of each move state, Kafka's sentences, sorted by
// broker then partition.
func TestMoveStatesString(t *testing.T) {
	states := map[replica]dirMove{
		{tp{"t", 0}, 2}: {kind: moveCompleted, current: "/a", target: "/a"},
		{tp{"t", 1}, 1}: {kind: moveActive, current: "/a", target: "/b", future: "/b"},
		{tp{"t", 2}, 1}: {kind: moveActive, current: "/a", target: "/b", future: "/c"},
		{tp{"t", 0}, 1}: {kind: moveCancelled, current: "/a", target: "/b"},
		{tp{"u", 0}, 3}: {kind: moveMissingLogDir, target: "/b"},
		{tp{"u", 1}, 3}: {kind: moveMissingReplica, target: "/b"},
	}
	want := strings.Join([]string{
		"Partition t-0 on broker 1 is not being moved from log dir /a to /b.",
		"Reassignment of replica t-1-1 is still in progress.",
		"Partition t-2 on broker 1 is being moved to log dir /c instead of /b.",
		"Reassignment of replica t-0-2 completed successfully.",
		"Partition u-0 is not found in any live log dir on broker 3. There is likely an offline log directory on the broker.",
		"Partition u-1 cannot be found in any live log directory on broker 3.",
	}, "\n")
	if got := moveStatesString(states); got != want {
		t.Errorf("moveStatesString:\n%s\nwant:\n%s", got, want)
	}
	for r, m := range states {
		if wantDone := m.kind == moveCompleted || m.kind == moveCancelled; m.done() != wantDone {
			t.Errorf("%s (%v): done %v", r, m.kind, m.done())
		}
	}
}
