package groups

import (
	"strings"
	"testing"
	"time"
)

func TestWriteOffsets(t *testing.T) {
	var b strings.Builder
	writeOffsets(&b, []offsetRow{
		{group: "g", topic: "a-rather-long-topic", partition: 0, offset: 3, logEnd: 10, hasTopic: true, hasOffset: true, hasLogEnd: true, consumerID: "c1", host: "/127.0.0.1", clientID: "cl"},
		{group: "g", topic: "t", partition: 1, logEnd: 5, hasTopic: true, hasLogEnd: true, consumerID: "-", host: "-", clientID: "-"},
	})
	want := "\n" +
		"GROUP           TOPIC               PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG             CONSUMER-ID     HOST            CLIENT-ID\n" +
		"g               a-rather-long-topic 0          3               10              7               c1              /127.0.0.1      cl\n" +
		"g               t                   1          -               5               -               -               -               -\n"
	if b.String() != want {
		t.Fatalf("got\n%q\nwant\n%q", b.String(), want)
	}
}

func TestWriteMembersAndState(t *testing.T) {
	var b strings.Builder
	writeMembers(&b, "g", []memberRow{{group: "g", consumerID: "c1", host: "/h", clientID: "cl", partitions: 2}})
	want := "\nGROUP           CONSUMER-ID     HOST            CLIENT-ID       #PARTITIONS     \n" +
		"g               c1              /h              cl              2               \n"
	if b.String() != want {
		t.Errorf("members: got %q, want %q", b.String(), want)
	}
	b.Reset()
	writeMembers(&b, "g", []memberRow{{group: "g", consumerID: "c1", instanceID: "i1", host: "/h", clientID: "cl", partitions: 1}})
	if !strings.HasPrefix(b.String(), "\nGROUP           CONSUMER-ID     GROUP-INSTANCE-ID HOST ") {
		t.Errorf("members with an instance id: %q", b.String())
	}
	b.Reset()
	writeState(&b, groupState{group: "g", coordinator: "h:9092  (1)", strategy: "range", state: "Stable", members: 1})
	want = "\nGROUP           COORDINATOR (ID)          ASSIGNMENT-STRATEGY  STATE                #MEMBERS" +
		"\ng               h:9092  (1)               range                Stable               1\n"
	if b.String() != want {
		t.Errorf("state: got %q, want %q", b.String(), want)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"PT0S": 0, "PT15M": 15 * time.Minute, "P1DT2H": 26 * time.Hour, "PT1.5S": 1500 * time.Millisecond,
		"-PT1H": -time.Hour, "pt10s": 10 * time.Second,
	} {
		if got, err := parseDuration(in); err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "P", "PT", "15M", "PT1X"} {
		if _, err := parseDuration(in); err == nil {
			t.Errorf("parseDuration(%q) accepted", in)
		}
	}
}

func TestParseDateTime(t *testing.T) {
	utc := time.Date(2024, 5, 6, 7, 8, 9, 123e6, time.UTC)
	for in, want := range map[string]time.Time{
		"2024-05-06T07:08:09.123Z":      utc,
		"2024-05-06T09:08:09.123+02:00": utc,
		"2024-05-06T09:08:09.123+0200":  utc,
		"2024-05-06T07:08:09Z":          utc.Truncate(time.Second),
		"2024-05-06T07:08:09.123":       time.Date(2024, 5, 6, 7, 8, 9, 123e6, time.Local),
	} {
		if got, err := parseDateTime(in); err != nil || !got.Equal(want) {
			t.Errorf("parseDateTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := parseDateTime("yesterday"); err == nil {
		t.Error("parseDateTime(yesterday) accepted")
	}
}

func TestCheckArgs(t *testing.T) {
	bs := []string{"--bootstrap-server", "h:1"}
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{append(bs, "--list"), ""},
		{append(bs, "--describe", "--group", "g", "--members"), ""},
		{append(bs, "--reset-offsets", "--group", "g", "--topic", "t", "--to-earliest"), ""},
		{bs, "Command must include exactly one action"},
		{append(bs, "--describe"), "Option [describe] takes one of these options: [all-groups], [group]"},
		{append(bs, "--describe", "--group", "g", "--members", "--state"), "at most one of"},
		{append(bs, "--reset-offsets", "--group", "g", "--topic", "t"), "takes exactly one of these options: [to-offset]"},
		{append(bs, "--reset-offsets", "--group", "g", "--to-latest"), "[all-topics], [topic]"},
		{append(bs, "--reset-offsets", "--group", "g", "--all-topics", "--to-latest", "--execute", "--dry-run"), "only accepts one of"},
		{append(bs, "--list", "--to-latest"), "Option [to-latest] takes one of these options: [reset-offsets]"},
		{[]string{"--list"}, `Missing required argument "[bootstrap-server]"`},
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
