package compattests

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/gokafka/gokafka/internal/testcluster"
)

// runTool runs one gokafka subcommand to completion and returns its
// standard output, failing the test with both streams if it exits non-zero.
func runTool(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(testCtx(t), testcluster.Binary(t), args...)
	var stderr, stdout = new(limitedBuffer), new(limitedBuffer)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("gokafka %v: %v\nstdout:\n%s\nstderr:\n%s", args, err, stdout, stderr)
	}
	return stdout.String()
}

// limitedBuffer keeps the last 64 KiB written to it: enough for a tool's
// report, bounded however chatty a failing run is.
type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.b = append(l.b, p...)
	if over := len(l.b) - 64<<10; over > 0 {
		l.b = l.b[over:]
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string { return string(l.b) }

// TestPerfTools drives the perf tools against the real broker as a user
// would: producer-perf-test writes N records, consumer-perf-test reads the
// same N back, and end-to-end-latency (both of its modes) reports a
// latency for every record it sent. Each report is checked for the counts
// a user reads off it, not for speed.
func TestPerfTools(t *testing.T) {
	_, b := startBroker(t, nil)
	const n = 20000
	const size = 200
	dir := t.TempDir()

	prodOut := runTool(t, "producer-perf-test", "--topic", "perf-tools", "--num-records", strconv.Itoa(n),
		"--record-size", strconv.Itoa(size), "--throughput", "-1",
		"--producer-props", "bootstrap.servers="+b.Addr(), "acks=all", "linger.ms=1")
	final := regexp.MustCompile(`(?m)^(\d+) records sent, [0-9.]+ records/sec \([0-9.]+ MB/sec\), [0-9.]+ ms avg latency, [0-9.]+ ms max latency, \d+ ms 50th, \d+ ms 95th, \d+ ms 99th, \d+ ms 99.9th\.$`)
	m := final.FindStringSubmatch(prodOut)
	if m == nil {
		t.Fatalf("producer-perf-test printed no final report line in Kafka's format:\n%s", prodOut)
	}
	if m[1] != strconv.Itoa(n) {
		t.Fatalf("producer-perf-test reports %s records sent, want %d", m[1], n)
	}

	consJSON := filepath.Join(dir, "consumer.json")
	consOut := runTool(t, "consumer-perf-test", "--bootstrap-server", b.Addr(), "--topic", "perf-tools",
		"--messages", strconv.Itoa(n), "--timeout", "30000", "--summary-json", consJSON)
	if !regexp.MustCompile(`(?m)^start\.time, end\.time, data\.consumed\.in\.MB, MB\.sec, data\.consumed\.in\.nMsg, nMsg\.sec`).MatchString(consOut) {
		t.Fatalf("consumer-perf-test printed no header line in Kafka's format:\n%s", consOut)
	}
	var cons map[string]any
	readJSON(t, consJSON, &cons)
	if got := cons["records"]; got != float64(n) {
		t.Fatalf("consumer-perf-test consumed %v records, want %d (summary %v)", got, n, cons)
	}
	if got := cons["bytes"]; got != float64(n*size) {
		t.Fatalf("consumer-perf-test consumed %v bytes, want %d (summary %v)", got, n*size, cons)
	}

	// A consumer asked for more records than the topic holds idles at the
	// end of the log until --timeout. Its progress lines must count every
	// record it read while it idles, not only when the timeout ends it:
	// bench.sh's backlog drain watches them to see that a group has read
	// everything.
	idleCount := consumerProgressWhileIdle(t, b.Addr(), "perf-tools", n)
	if idleCount != n {
		t.Fatalf("while idle at the end of the log, consumer-perf-test's progress lines count %d records, want all %d", idleCount, n)
	}

	for _, tc := range []struct {
		name string
		args []string
		recs int
	}{
		{"sequential", []string{b.Addr(), "perf-e2e-seq", "200", "all", "100"}, 200},
		{"rated", []string{b.Addr(), "perf-e2e-rated", "2000", "all", "1024", "--throughput-mb", "1"}, 2000},
	} {
		t.Run("end-to-end-latency "+tc.name, func(t *testing.T) {
			js := filepath.Join(dir, tc.name+".json")
			out := runTool(t, append(append([]string{"end-to-end-latency"}, tc.args...), "--summary-json", js)...)
			if !regexp.MustCompile(`(?m)^Avg latency: [0-9.]+ ms$`).MatchString(out) ||
				!regexp.MustCompile(`(?m)^Percentiles: 50th = [0-9.]+, 99th = [0-9.]+, 99\.9th = [0-9.]+`).MatchString(out) {
				t.Fatalf("end-to-end-latency printed no report in Kafka's format:\n%s", out)
			}
			var s struct {
				Records int64   `json:"records"`
				P50Ms   float64 `json:"p50_ms"`
				MaxMs   float64 `json:"max_ms"`
				Ack     *struct {
					Records int64 `json:"records"`
				} `json:"ack"`
			}
			readJSON(t, js, &s)
			if s.Records != int64(tc.recs) {
				t.Fatalf("latencies for %d records, want %d", s.Records, tc.recs)
			}
			if s.P50Ms <= 0 || s.MaxMs < s.P50Ms {
				t.Fatalf("implausible latencies: p50 %v ms, max %v ms", s.P50Ms, s.MaxMs)
			}
			if tc.name == "rated" && (s.Ack == nil || s.Ack.Records != int64(tc.recs)) {
				t.Fatalf("rated mode: acknowledgement latencies %+v, want %d records", s.Ack, tc.recs)
			}
		})
	}
}

// consumerProgressWhileIdle runs consumer-perf-test --show-detailed-stats
// on topic, which holds n records, asking for twice as many with a --timeout
// of a minute. It returns the record count of the last progress line printed
// within 20 s, before that timeout could end the tool, or as soon as a line
// counts n; the tool is killed then.
func consumerProgressWhileIdle(t *testing.T, addr, topic string, n int) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(testCtx(t), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, testcluster.Binary(t), "consumer-perf-test", "--bootstrap-server", addr,
		"--topic", topic, "--messages", strconv.Itoa(2*n), "--timeout", "60000",
		"--show-detailed-stats", "--reporting-interval", "500", "--hide-header")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("consumer-perf-test stdout: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start consumer-perf-test: %v", err)
	}
	defer func() {
		cancel()
		_ = cmd.Wait()
	}()
	progress := regexp.MustCompile(`^[^,]+, 0, [0-9.]+, [0-9.]+, (\d+), `)
	last := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if m := progress.FindStringSubmatch(sc.Text()); m != nil {
			last, _ = strconv.Atoi(m[1])
		}
		if last == n {
			break
		}
	}
	return last
}

// readJSON decodes the JSON file at path into v.
func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v\n%s", path, err, b)
	}
}
