package compattests

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/gokafka/gokafka/internal/testcluster"
)

// TestToolConsolePipe pipes 100,000 lines through `gokafka
// console-producer` and reads them back with `gokafka console-consumer`:
// every line must come back unchanged and in order (one partition), the
// summary line must count them, and the producer must exit 0 only after
// every line was acknowledged.
func TestToolConsolePipe(t *testing.T) {
	_, b := startBroker(t, nil)
	const n = 100000
	mustTool(t, nil, "topics", "--bootstrap-server", b.Addr(), "--create", "--topic", "pipe", "--partitions", "1")
	var in bytes.Buffer
	for i := range n {
		// Varied lengths, spaces, tabs and non-ASCII: the tool must not
		// split, trim or re-encode a line.
		fmt.Fprintf(&in, "line %d\tπ %s\n", i, strings.Repeat("x", i%97))
	}
	want := in.String()

	// The consumer runs while the producer writes, as in
	// `... | console-producer` in one terminal and console-consumer in
	// another; its stdout goes through an OS pipe.
	cons := exec.CommandContext(testCtx(t), testcluster.Binary(t), "console-consumer", "--bootstrap-server", b.Addr(), "--topic", "pipe",
		"--from-beginning", "--max-messages", fmt.Sprint(n), "--timeout-ms", "60000")
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var consErr strings.Builder
	cons.Stdout, cons.Stderr = pw, &consErr
	if err := cons.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	outc := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(pr)
		outc <- string(b)
	}()
	mustTool(t, &in, "console-producer", "--bootstrap-server", b.Addr(), "--topic", "pipe")
	werr := cons.Wait()
	r := toolRun{stdout: <-outc, stderr: consErr.String()}
	if werr != nil {
		t.Fatalf("console-consumer: %v\nstderr:\n%s", werr, r.stderr)
	}
	if r.stdout != want {
		got, wantLines := strings.Split(r.stdout, "\n"), strings.Split(want, "\n")
		for i := range min(len(got), len(wantLines)) {
			if got[i] != wantLines[i] {
				t.Fatalf("line %d: got %q, want %q (%d lines in all, want %d)", i, got[i], wantLines[i], len(got)-1, n)
			}
		}
		t.Fatalf("got %d lines, want %d", len(got)-1, n)
	}
	if !strings.Contains(r.stderr, fmt.Sprintf("Processed a total of %d messages\n", n)) {
		t.Fatalf("console-consumer stderr lacks the summary:\n%s", r.stderr)
	}
}

// TestToolConsoleProperties checks the reader's parse.key/key.separator
// and the formatter's print.* properties against the stock tools' format,
// consuming one partition from an offset.
func TestToolConsoleProperties(t *testing.T) {
	_, b := startBroker(t, nil)
	mustTool(t, nil, "topics", "--bootstrap-server", b.Addr(), "--create", "--topic", "props", "--partitions", "1")
	mustTool(t, strings.NewReader("k1:v1\nk2:v:2\n"), "console-producer", "--bootstrap-server", b.Addr(), "--topic", "props",
		"--property", "parse.key=true", "--property", "key.separator=:", "--sync")

	r := runToolIO(t, nil, "console-consumer", "--bootstrap-server", b.Addr(), "--topic", "props", "--partition", "0",
		"--offset", "earliest", "--max-messages", "2", "--property", "print.key=true", "--property", "print.partition=true",
		"--property", "print.offset=true", "--property", "print.headers=true")
	want := "Partition:0\tOffset:0\tNO_HEADERS\tk1\tv1\nPartition:0\tOffset:1\tNO_HEADERS\tk2\tv:2\n"
	if r.code != 0 || r.stdout != want {
		t.Fatalf("console-consumer: exit %d\nstdout %q\nwant   %q\nstderr:\n%s", r.code, r.stdout, want, r.stderr)
	}
	r = runToolIO(t, nil, "console-consumer", "--bootstrap-server", b.Addr(), "--topic", "props", "--partition", "0",
		"--offset", "1", "--timeout-ms", "1000", "--property", "print.timestamp=true")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "CreateTime:") || !strings.HasSuffix(r.stdout, "\tv:2\n") ||
		!strings.Contains(r.stderr, "Processed a total of 1 messages") {
		t.Fatalf("console-consumer --offset 1 --timeout-ms: exit %d\nstdout %q\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}

	// With --group the consumer commits what it printed when it stops, so
	// consumer-groups sees no lag.
	r = runToolIO(t, nil, "console-consumer", "--bootstrap-server", b.Addr(), "--topic", "props", "--group", "cg",
		"--from-beginning", "--max-messages", "2")
	if r.code != 0 || r.stdout != "v1\nv:2\n" {
		t.Fatalf("console-consumer --group: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	desc := mustTool(t, nil, "consumer-groups", "--bootstrap-server", b.Addr(), "--describe", "--group", "cg")
	if row := "\ncg              props           0          2               2               0               -               -               -\n"; !strings.HasSuffix(desc, row) {
		t.Fatalf("consumer-groups after the console consumer:\n%s", desc)
	}

	r = runToolIO(t, strings.NewReader("no separator here\n"), "console-producer", "--bootstrap-server", b.Addr(), "--topic", "props",
		"--property", "parse.key=true")
	if r.code == 0 || !strings.Contains(r.stderr, "No key separator found on line number 1") {
		t.Fatalf("producer with a line lacking the key separator: exit %d, stderr %q", r.code, r.stderr)
	}
	// A record the broker refuses (over the topic's max.message.bytes)
	// is reported, and the producer exits non-zero although the other
	// lines were acknowledged.
	mustTool(t, nil, "topics", "--bootstrap-server", b.Addr(), "--create", "--topic", "small", "--partitions", "1", "--config", "max.message.bytes=1000")
	r = runToolIO(t, strings.NewReader("ok\n"+strings.Repeat("x", 5000)+"\nok\n"), "console-producer", "--bootstrap-server", b.Addr(), "--topic", "small")
	if r.code == 0 || !strings.Contains(r.stderr, "Error when sending message to topic small with key: null, value: 5000 bytes with error:") {
		t.Fatalf("producer with a refused record: exit %d, stderr %q", r.code, r.stderr)
	}

	r = runToolIO(t, strings.NewReader("x\n"), "console-producer", "--bootstrap-server", "127.0.0.1:1", "--topic", "props")
	if r.code == 0 || !strings.Contains(r.stderr, "127.0.0.1:1") {
		t.Fatalf("producer to an unreachable server: exit %d, stderr %q", r.code, r.stderr)
	}
}
