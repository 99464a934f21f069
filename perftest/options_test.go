package perftest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseProducerArgs(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "producer.properties")
	if err := os.WriteFile(cfgFile, []byte("bootstrap.servers=file:1\nacks=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	o, err := ParseProducerArgs([]string{
		"--topic", "t", "--num-records", "5000000", "--record-size", "100", "--throughput", "-1",
		"--producer.config", cfgFile, "--producer-props", "bootstrap.servers=cmd:2", "linger.ms=5", "--print-metrics",
	})
	if err != nil {
		t.Fatal(err)
	}
	if o.Topic != "t" || o.NumRecords != 5000000 || o.RecordSize != 100 || o.Throughput != -1 || !o.PrintMetrics {
		t.Fatalf("options %+v", o)
	}
	// --producer-props overrides the file, which still contributes the rest.
	if o.Props["bootstrap.servers"] != "cmd:2" || o.Props["acks"] != "1" || o.Props["linger.ms"] != "5" {
		t.Fatalf("props %v", o.Props)
	}

	bad := []struct {
		args []string
		want string
	}{
		{[]string{"--num-records", "1", "--record-size", "1", "--throughput", "-1", "--producer-props", "a=b"}, "--topic"},
		{[]string{"--topic", "t", "--num-records", "0", "--record-size", "1", "--throughput", "-1", "--producer-props", "a=b"}, "greater than zero"},
		{[]string{"--topic", "t", "--num-records", "x", "--record-size", "1", "--throughput", "-1", "--producer-props", "a=b"}, "not an integer"},
		{[]string{"--topic", "t", "--num-records", "1", "--record-size", "0", "--throughput", "-1", "--producer-props", "a=b"}, "greater than zero"},
		{[]string{"--topic", "t", "--num-records", "1", "--throughput", "-1", "--producer-props", "a=b"}, "exactly one"},
		{[]string{"--topic", "t", "--num-records", "1", "--record-size", "1", "--payload-monotonic", "--throughput", "-1", "--producer-props", "a=b"}, "exactly one"},
		{[]string{"--topic", "t", "--num-records", "1", "--record-size", "1", "--throughput", "-1"}, "--producer-props or --producer.config"},
		{[]string{"--topic", "t", "--num-records", "1", "--record-size", "1", "--throughput", "fast", "--producer-props", "a=b"}, "not a number"},
		{[]string{"--topic", "t", "--num-records", "1", "--record-size", "1", "--throughput", "-1", "--producer-props", "novalue"}, "invalid property"},
		{[]string{"--topic", "t", "--num-records", "1", "--record-size", "1", "--throughput", "-1", "--producer.config", filepath.Join(dir, "missing")}, "read properties"},
	}
	for _, tt := range bad {
		if _, err := ParseProducerArgs(tt.args); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: err = %v, want one mentioning %q", tt.args, err, tt.want)
		}
	}
}

func TestPayloadSource(t *testing.T) {
	s, err := newPayloadSource(ProducerOptions{RecordSize: 100, NumRecords: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	v := s.value(0)
	if len(v) != 100 || strings.Trim(string(v), "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		t.Fatalf("payload %q: want 100 random capital letters", v)
	}
	if string(s.value(0)) == string(s.value(1)) {
		t.Fatal("consecutive payloads are identical")
	}
	if small, _ := newPayloadSource(ProducerOptions{RecordSize: 10, NumRecords: 3}); len(small.payloads) != 3 {
		t.Fatalf("prepared %d payloads for 3 records", len(small.payloads))
	}

	m, _ := newPayloadSource(ProducerOptions{PayloadMonotonic: true})
	if string(m.value(42)) != "42" {
		t.Fatalf("monotonic payload %q", m.value(42))
	}

	file := filepath.Join(t.TempDir(), "payloads")
	if err := os.WriteFile(file, []byte("a|bb||c"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := newPayloadSource(ProducerOptions{PayloadFile: file, PayloadDelimiter: "|"})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(f.value(0)) + string(f.value(1)) + string(f.value(2)) + string(f.value(3)); got != "abbca" {
		t.Fatalf("file payloads cycle %q", got)
	}
}

func TestParseConsumerArgs(t *testing.T) {
	o, err := ParseConsumerArgs([]string{"--bootstrap-server", "h:1,h:2", "--topic", "t", "--messages", "100", "--fetch-size", "2048", "--timeout", "500", "--show-detailed-stats", "--reporting-interval", "1000"})
	if err != nil {
		t.Fatal(err)
	}
	if len(o.BootstrapServers) != 2 || o.Topic != "t" || o.Messages != 100 || o.FetchSize != 2048 ||
		o.Timeout != 500*time.Millisecond || !o.ShowDetailedStats || o.ReportingInterval != time.Second || o.Group != "" {
		t.Fatalf("options %+v", o)
	}
	d, err := ParseConsumerArgs([]string{"--bootstrap-server", "h:1", "--topic", "t", "--messages", "1"})
	if err != nil {
		t.Fatal(err)
	}
	if d.FetchSize != 1<<20 || d.Timeout != 10*time.Second || d.ReportingInterval != 5*time.Second {
		t.Fatalf("defaults %+v", d)
	}

	bad := []struct {
		args []string
		want string
	}{
		{[]string{"--topic", "t", "--messages", "1"}, "--bootstrap-server"},
		{[]string{"--bootstrap-server", "h:1", "--messages", "1"}, "--topic or --include"},
		{[]string{"--bootstrap-server", "h:1", "--topic", "t", "--include", "x", "--messages", "1"}, "--topic or --include"},
		{[]string{"--bootstrap-server", "h:1", "--include", "(", "--messages", "1"}, "--include"},
		{[]string{"--bootstrap-server", "h:1", "--topic", "t"}, "--messages"},
		{[]string{"--bootstrap-server", "h:1", "--topic", "t", "--messages", "-1"}, "--messages"},
		{[]string{"--bootstrap-server", "h:1", "--topic", "t", "--messages", "1", "--reporting-interval", "0"}, "greater than 0"},
		{[]string{"--bootstrap-server", "h:1", "--topic", "t", "--messages", "1", "--fetch-size", "0"}, "--fetch-size"},
		{[]string{"--bootstrap-server", "h:1", "--topic", "t", "--messages", "1", "--date-format", "QQ"}, "unsupported"},
	}
	for _, tt := range bad {
		if _, err := ParseConsumerArgs(tt.args); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: err = %v, want one mentioning %q", tt.args, err, tt.want)
		}
	}
}

func TestConsumerClientOpts(t *testing.T) {
	o, err := ParseConsumerArgs([]string{"--bootstrap-server", "h:1", "--topic", "t", "--messages", "1", "--fetch-size", "4096"})
	if err != nil {
		t.Fatal(err)
	}
	o.Props = map[string]string{"client.id": "c", "fetch.min.bytes": "10", "max.partition.fetch.bytes": "1", "foo": "bar"}
	_, id, warnings, err := consumerClientOpts(o)
	if err != nil {
		t.Fatal(err)
	}
	if id != "c" || len(warnings) != 1 || !strings.Contains(warnings[0], "foo") {
		t.Fatalf("client id %q, warnings %v", id, warnings)
	}
	o.Props = map[string]string{"isolation.level": "dirty"}
	if _, _, _, err := consumerClientOpts(o); err == nil {
		t.Fatal("bad isolation.level: want error")
	}
}

func TestPrintMetrics(t *testing.T) {
	var b strings.Builder
	printMetrics(&b, map[string]any{"producer-metrics:request-total:{client-id=x}": 3.0, "g:n:{}": "s"})
	want := "\nMetric Name                                    Value\n" +
		"g:n:{}                                       : s\n" +
		"producer-metrics:request-total:{client-id=x} : 3.000\n"
	if b.String() != want {
		t.Fatalf("got\n%q\nwant\n%q", b.String(), want)
	}
}
