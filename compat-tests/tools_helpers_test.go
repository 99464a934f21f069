package compattests

import (
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/gokafka/internal/testcluster"
)

// toolRun is one finished run of a gokafka tool.
type toolRun struct {
	stdout, stderr string
	code           int
}

// runToolIO runs a gokafka subcommand with stdin (may be nil) and returns
// both streams and the exit status, failing the test only if the process
// could not run at all.
func runToolIO(t *testing.T, stdin io.Reader, args ...string) toolRun {
	t.Helper()
	cmd := exec.CommandContext(testCtx(t), testcluster.Binary(t), args...)
	var stdout, stderr strings.Builder
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("gokafka %v: %v", args, err)
	}
	return toolRun{stdout.String(), stderr.String(), code}
}

// mustTool runs a tool that must exit 0 and returns its stdout.
func mustTool(t *testing.T, stdin io.Reader, args ...string) string {
	t.Helper()
	r := runToolIO(t, stdin, args...)
	if r.code != 0 {
		t.Fatalf("gokafka %v: exit %d\nstdout:\n%s\nstderr:\n%s", args, r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// waitTool reruns a tool until its stdout satisfies ok or the deadline
// passes (metadata reaches every broker a moment after a change).
func waitTool(t *testing.T, ok func(string) bool, args ...string) string {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		r := runToolIO(t, nil, args...)
		if r.code == 0 && ok(r.stdout) {
			return r.stdout
		}
		if time.Now().After(deadline) {
			t.Fatalf("gokafka %v never gave the expected output; last exit %d\nstdout:\n%s\nstderr:\n%s", args, r.code, r.stdout, r.stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
