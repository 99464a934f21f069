package topics

import (
	"reflect"
	"strings"
	"testing"
)

func TestWriteDescription(t *testing.T) {
	id := [16]byte{1}
	healthy := topicInfo{Name: "t", ID: id, MinISR: 2, Configs: []configEntry{{"retention.ms", "1"}, {"cleanup.policy", "compact"}}, Partitions: []partitionInfo{
		{ID: 0, Leader: 1, Replicas: []int32{1, 2}, ISR: []int32{1, 2}},
		{ID: 1, Leader: 2, Replicas: []int32{2, 1}, ISR: []int32{2}},
		{ID: 2, Leader: -1, Replicas: []int32{3, 1}, ISR: nil},
	}}
	plain := topicInfo{Name: "u", MinISR: 1, Partitions: []partitionInfo{{ID: 0, Leader: 1, Replicas: []int32{1}, ISR: []int32{1}}}}
	live := map[int32]bool{1: true, 2: true}
	head := "Topic: t\tTopicId: AQAAAAAAAAAAAAAAAAAAAA\tPartitionCount: 3\tReplicationFactor: 2\tConfigs: retention.ms=1,cleanup.policy=compact\n"
	p0 := "\tTopic: t\tPartition: 0\tLeader: 1\tReplicas: 1,2\tIsr: 1,2\n"
	p1 := "\tTopic: t\tPartition: 1\tLeader: 2\tReplicas: 2,1\tIsr: 2\n"
	p2 := "\tTopic: t\tPartition: 2\tLeader: none\tReplicas: 3,1\tIsr: \n"
	u := "Topic: u\tPartitionCount: 1\tReplicationFactor: 1\tConfigs: \n\tTopic: u\tPartition: 0\tLeader: 1\tReplicas: 1\tIsr: 1\n"
	for _, tc := range []struct {
		name string
		f    describeFilter
		want string
	}{
		{"all", describeFilter{}, head + p0 + p1 + p2 + u},
		{"under-replicated", describeFilter{underReplicated: true}, p1 + p2},
		{"unavailable", describeFilter{unavailable: true}, p2},
		{"under-min-isr", describeFilter{underMinISR: true}, p1 + p2},
		{"at-min-isr", describeFilter{atMinISR: true}, p0 + "\tTopic: u\tPartition: 0\tLeader: 1\tReplicas: 1\tIsr: 1\n"},
		{"with-overrides", describeFilter{withOverrides: true}, head},
	} {
		var b strings.Builder
		writeDescription(&b, []topicInfo{healthy, plain}, tc.f, live)
		if b.String() != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, b.String(), tc.want)
		}
	}
}

func TestFilterTopics(t *testing.T) {
	all := []string{"__consumer_offsets", "a.b", "ab", "orders", "orders-dlq"}
	for _, tc := range []struct {
		include string
		exclude bool
		want    []string
	}{
		{"", false, all},
		{"", true, []string{"a.b", "ab", "orders", "orders-dlq"}},
		{"orders", false, []string{"orders"}}, // whole-name match
		{"orders.*", false, []string{"orders", "orders-dlq"}},
		{"ab,orders", false, []string{"ab", "orders"}}, // commas are alternatives
		{"a.b", false, []string{"a.b"}},                // a regex, but "ab" is too short for it
		{"__.*", true, nil},
	} {
		got, err := filterTopics(all, tc.include, tc.exclude)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("filterTopics(%q, %v) = %q, %v; want %q", tc.include, tc.exclude, got, err, tc.want)
		}
	}
}

func TestParseReplicaAssignment(t *testing.T) {
	got, err := parseReplicaAssignment("1:2, 2:3,3 : 1")
	if want := [][]int32{{1, 2}, {2, 3}, {3, 1}}; err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("parseReplicaAssignment = %v, %v", got, err)
	}
	for in, msg := range map[string]string{
		"1:1":   "Partition replica lists may not contain duplicate entries: 1",
		"1:2,3": "Partition 1 has different replication factor: [3]",
		"1:x":   `For input string: "x"`,
	} {
		if _, err := parseReplicaAssignment(in); err == nil || err.Error() != msg {
			t.Errorf("parseReplicaAssignment(%q) error %v, want %q", in, err, msg)
		}
	}
}

func TestParseConfigs(t *testing.T) {
	got, err := parseConfigs([]string{"retention.ms = 10", "cleanup.policy=compact"})
	if want := map[string]string{"retention.ms": "10", "cleanup.policy": "compact"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("parseConfigs = %v, %v", got, err)
	}
	if _, err := parseConfigs([]string{"a=b=c"}); err == nil {
		t.Fatal("a=b=c accepted")
	}
}

func TestCheckArgs(t *testing.T) {
	bs := []string{"--bootstrap-server", "h:1"}
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{append(bs, "--list"), ""},
		{append(bs, "--create", "--topic", "t"), ""},
		{bs, "Command must include exactly one action"},
		{append(bs, "--list", "--create"), "Command must include exactly one action"},
		{[]string{"--list"}, "--bootstrap-server must be specified"},
		{append(bs, "--zookeeper", "z:2181", "--list"), "Only one of --bootstrap-server or --zookeeper"},
		{append(bs, "--create"), `Missing required argument "[topic]"`},
		{append(bs, "--alter", "--topic", "t"), `Missing required argument "[partitions]"`},
		{append(bs, "--describe", "--partitions", "3"), `Option "[partitions]" can't be used with option "[describe]"`},
		{append(bs, "--create", "--topic", "t", "--replica-assignment", "1", "--partitions", "1"), `Option "[replica-assignment]" can't be used with option "[partitions]"`},
		{append(bs, "--describe", "--under-replicated-partitions", "--topics-with-overrides"), "can't be used with option"},
		{[]string{"--zookeeper", "z:2181", "--create", "--topic", "t"}, `Missing required argument "[partitions]"`},
	} {
		v, err := Tool.Parse(tc.args)
		if err == nil {
			err = checkArgs(v)
		}
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.args, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: error %v, want %q", tc.args, err, tc.err)
		}
	}
}
