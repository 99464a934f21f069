package testcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gokafka/gokafka/internal/procs"
)

// StartTimeout bounds how long StartBroker waits for a broker to serve.
// It is generous: a cold JVM ZooKeeper and a shared 2-core machine are slow,
// and nothing here is gated on speed.
const StartTimeout = 90 * time.Second

// StopTimeout bounds how long Stop waits for an orderly shutdown before it
// kills the broker and reports the hang.
const StopTimeout = 60 * time.Second

// logTailLines is how much of a broker's log is printed when a test fails.
const logTailLines = 60

// Broker is one gokafka process (started or not) with a fixed port, broker.id
// and log dirs that survive restarts.
type Broker struct {
	// ID is the broker.id.
	ID int32

	t       testing.TB
	cluster *Cluster
	port    int
	dirs    []string
	workDir string
	props   map[string]string
	args    []string
	prefix  []string

	mu     sync.Mutex
	proc   *run
	runs   int
	paused bool // the current run was sent SIGSTOP and not SIGCONT yet
}

// run is one execution of the binary. done is closed when it has exited.
type run struct {
	cmd     *exec.Cmd
	done    chan struct{}
	err     error
	logPath string
}

// NewBroker prepares a broker without starting it: it picks the next
// broker.id, a free loopback port and one log dir in t.TempDir(). overrides
// replace or add server.properties keys (a key set to "" is removed); they
// are written to the properties file, as a user would.
//
// A valid "broker.id" override fixes the id (ID reports it; later brokers
// without one get higher ids), and a valid "listeners" override fixes Addr:
// the host (127.0.0.1 when empty) and port of its first listener, which
// must not be 0.
func (c *Cluster) NewBroker(t testing.TB, overrides map[string]string) *Broker {
	t.Helper()
	// An override that does not parse (a test of the broker's config
	// checks) is passed through as it is; the broker gets the next id or a
	// free port for Addr.
	id := c.nextID
	if v, ok := overrides["broker.id"]; ok && v != "" {
		if n, err := strconv.ParseInt(v, 10, 32); err == nil && n >= 0 {
			id = int32(n)
		}
	}
	c.nextID = max(c.nextID, id+1)
	port := 0
	if v, ok := overrides["listeners"]; ok && v != "" {
		if p, err := firstListenerPort(v); err == nil {
			port = p
		}
	}
	if port == 0 {
		p, err := procs.FreeLoopbackPort()
		if err != nil {
			t.Fatalf("testcluster: %v", err)
		}
		port = p
	}
	work := t.TempDir()
	dirs := []string{filepath.Join(work, "kafka-logs")}
	b := &Broker{ID: id, t: t, cluster: c, port: port, dirs: dirs, workDir: work}
	b.props = map[string]string{
		"broker.id":                       strconv.Itoa(int(id)),
		"listeners":                       "PLAINTEXT://" + b.Addr(),
		"log.dirs":                        strings.Join(dirs, ","),
		"zookeeper.connect":               c.ZKConnect(),
		"zookeeper.session.timeout.ms":    "6000",
		"zookeeper.connection.timeout.ms": "30000",
		"num.partitions":                  "1",
		"default.replication.factor":      "1",
		"auto.create.topics.enable":       "true",
	}
	for k, v := range overrides {
		if v == "" {
			delete(b.props, k)
			continue
		}
		b.props[k] = v
		if k == "log.dirs" {
			b.dirs = strings.Split(v, ",")
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			b.dumpLog()
		}
		b.Kill()
	})
	return b
}

// firstListenerPort returns the port of the first entry of a listeners
// value ("PLAINTEXT://127.0.0.1:9093,INTERNAL://127.0.0.1:9193").
func firstListenerPort(listeners string) (int, error) {
	_, port, err := firstListener(listeners)
	return port, err
}

// firstListener returns the host (127.0.0.1 when empty) and port of the
// first listener of a listeners value.
func firstListener(listeners string) (string, int, error) {
	first, _, _ := strings.Cut(listeners, ",")
	_, hostport, ok := strings.Cut(strings.TrimSpace(first), "://")
	if !ok {
		return "", 0, fmt.Errorf("listeners override %q: want NAME://host:port", listeners)
	}
	host, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", 0, fmt.Errorf("listeners override %q: %w", listeners, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("listeners override %q: want a fixed port, not %q", listeners, p)
	}
	if host == "" || host == "0.0.0.0" {
		host = "127.0.0.1"
	}
	return host, port, nil
}

// Addr is the broker's listener address ("127.0.0.1:port", or the host of
// a listeners override), the same across restarts.
func (b *Broker) Addr() string {
	host := "127.0.0.1"
	if v := b.props["listeners"]; v != "" {
		if h, _, err := firstListener(v); err == nil {
			host = h
		}
	}
	return net.JoinHostPort(host, strconv.Itoa(b.port))
}

// LogDirs are the broker's log.dirs.
func (b *Broker) LogDirs() []string { return append([]string(nil), b.dirs...) }

// ZKConnect is the broker's zookeeper.connect value.
func (b *Broker) ZKConnect() string { return b.props["zookeeper.connect"] }

// PropertiesPath is the server.properties file the broker is started with.
func (b *Broker) PropertiesPath() string { return filepath.Join(b.workDir, "server.properties") }

// LogPath is the file receiving the current (or last) run's stdout and
// stderr.
func (b *Broker) LogPath() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.proc == nil {
		return ""
	}
	return b.proc.logPath
}

// Pid is the process id of the current run, or 0 when the broker has not
// been started or its last run has exited. Benchmarks read the broker's CPU
// time from /proc/<pid>/stat with it.
func (b *Broker) Pid() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.proc == nil {
		return 0
	}
	select {
	case <-b.proc.done:
		return 0
	default:
		return b.proc.cmd.Process.Pid
	}
}

// Log returns everything the current (or last) run has written so far.
func (b *Broker) Log() string {
	p := b.LogPath()
	if p == "" {
		return ""
	}
	data, _ := os.ReadFile(p)
	return string(data)
}

// SetArgs sets extra command-line arguments passed after the properties file
// (e.g. "--override", "k=v") on the next start.
func (b *Broker) SetArgs(args ...string) { b.args = args }

// SetCommandPrefix runs the broker under a command from the next start on,
// e.g. "ip", "netns", "exec", "<ns>" to put it in a network namespace (the
// prefix must exec the binary in place, so signals reach the broker).
func (b *Broker) SetCommandPrefix(prefix ...string) { b.prefix = prefix }

// Launch starts the process and returns without waiting for it to serve
// (for tests that expect the broker to fail). Use Start to wait.
func (b *Broker) Launch() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.proc != nil {
		select {
		case <-b.proc.done:
		default:
			return fmt.Errorf("broker %d already running", b.ID)
		}
	}
	bin, err := process.bin.binaryPath()
	if err != nil {
		return err
	}
	if err := os.WriteFile(b.PropertiesPath(), []byte(b.properties()), 0o644); err != nil {
		return fmt.Errorf("write server.properties: %w", err)
	}
	b.runs++
	logPath := filepath.Join(b.workDir, fmt.Sprintf("broker-%d.run%d.log", b.ID, b.runs))
	logf, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("create broker log: %w", err)
	}
	args := append([]string{"server", b.PropertiesPath()}, b.args...)
	if len(b.prefix) > 0 {
		args = append(append(b.prefix[1:], bin), args...)
		bin = b.prefix[0]
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = b.workDir
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", bin, err)
	}
	r := &run{cmd: cmd, done: make(chan struct{}), logPath: logPath}
	go func() {
		r.err = cmd.Wait()
		logf.Close()
		close(r.done)
	}()
	b.proc = r
	b.paused = false
	return nil
}

// Start launches the broker and waits until it answers ApiVersions and a
// Metadata request naming itself and a controller, or ctx ends, or the
// process exits.
func (b *Broker) Start(ctx context.Context) error {
	if err := b.Launch(); err != nil {
		return err
	}
	return b.WaitReady(ctx)
}

// WaitReady polls the broker until it serves (see Start).
func (b *Broker) WaitReady(ctx context.Context) error {
	b.mu.Lock()
	r := b.proc
	b.mu.Unlock()
	if r == nil {
		return fmt.Errorf("broker %d not started", b.ID)
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		last = probe(ctx, b.Addr(), b.ID)
		if last == nil {
			return nil
		}
		select {
		case <-r.done:
			return fmt.Errorf("broker %d exited during start (%v); log %s:\n%s", b.ID, r.err, r.logPath, procs.LastLines(b.Log(), logTailLines))
		case <-ctx.Done():
			return fmt.Errorf("broker %d on %s not ready: %w (last probe: %v); log %s:\n%s", b.ID, b.Addr(), ctx.Err(), last, r.logPath, procs.LastLines(b.Log(), logTailLines))
		case <-tick.C:
		}
	}
}

// Wait waits for the current run to exit and returns its exit code (-1 if
// it was killed by a signal).
func (b *Broker) Wait(ctx context.Context) (int, error) {
	b.mu.Lock()
	r := b.proc
	b.mu.Unlock()
	if r == nil {
		return 0, fmt.Errorf("broker %d not started", b.ID)
	}
	select {
	case <-r.done:
		return r.cmd.ProcessState.ExitCode(), nil
	case <-ctx.Done():
		return 0, fmt.Errorf("broker %d still running: %w", b.ID, ctx.Err())
	}
}

// Running reports whether the broker process is alive.
func (b *Broker) Running() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.proc == nil {
		return false
	}
	select {
	case <-b.proc.done:
		return false
	default:
		return true
	}
}

// pauseTimeout bounds how long Pause waits for every thread of the broker
// to stop after SIGSTOP.
const pauseTimeout = 10 * time.Second

// Pause freezes the broker with SIGSTOP: its sockets stay open but it
// answers nothing, sends no ZooKeeper heartbeats and so loses its session
// after zookeeper.session.timeout.ms, while it still believes it leads what
// it led (a zombie). It returns once every thread of the process has
// stopped (on Linux), not merely when the signal is sent. Resume continues
// it. Kill and Stop work on a paused broker.
func (b *Broker) Pause() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	r, err := b.liveRunLocked()
	if err != nil {
		return err
	}
	if err := r.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		return fmt.Errorf("pause broker %d: %w", b.ID, err)
	}
	b.paused = true
	deadline := time.Now().Add(pauseTimeout)
	for {
		ok, err := allThreadsStopped(r.cmd.Process.Pid)
		if ok {
			return nil
		}
		select {
		case <-r.done:
			return fmt.Errorf("pause broker %d: it exited (%v)", b.ID, r.err)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pause broker %d: not stopped %s after SIGSTOP (%v)", b.ID, pauseTimeout, err)
		}
		time.Sleep(time.Millisecond)
	}
}

// Resume continues a paused broker with SIGCONT. Resuming a broker that is
// not paused is harmless.
func (b *Broker) Resume() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	r, err := b.liveRunLocked()
	if err != nil {
		return err
	}
	if err := r.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		return fmt.Errorf("resume broker %d: %w", b.ID, err)
	}
	b.paused = false
	return nil
}

// Paused reports whether the broker was paused and not resumed since.
func (b *Broker) Paused() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.paused
}

// liveRunLocked returns the current run if its process is alive.
func (b *Broker) liveRunLocked() (*run, error) {
	if b.proc == nil {
		return nil, fmt.Errorf("broker %d not started", b.ID)
	}
	select {
	case <-b.proc.done:
		return nil, fmt.Errorf("broker %d not running (exited: %v)", b.ID, b.proc.err)
	default:
		return b.proc, nil
	}
}

// Kill sends SIGKILL (a crash: no flush, no deregistration) and waits for
// the process to be gone. Killing a stopped broker is a no-op.
func (b *Broker) Kill() {
	b.mu.Lock()
	r := b.proc
	b.mu.Unlock()
	if r == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.done
	b.mu.Lock()
	b.paused = false
	b.mu.Unlock()
}

// Stop asks the broker to shut down (SIGTERM) and waits for it; a broker
// that has not exited after StopTimeout is killed and the test fails. It
// returns the exit code.
func (b *Broker) Stop() int {
	b.t.Helper()
	b.mu.Lock()
	r := b.proc
	paused := b.paused
	b.paused = false
	b.mu.Unlock()
	if r == nil {
		return 0
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	if paused {
		// A stopped process handles SIGTERM only once it continues.
		_ = r.cmd.Process.Signal(syscall.SIGCONT)
	}
	select {
	case <-r.done:
	case <-time.After(StopTimeout):
		b.Kill()
		b.t.Errorf("testcluster: broker %d did not exit within %s of SIGTERM; killed", b.ID, StopTimeout)
	}
	return r.cmd.ProcessState.ExitCode()
}

// Restart stops the broker cleanly (SIGTERM) if it runs, starts it again on
// the same port, id and log dirs, and waits until it serves.
func (b *Broker) Restart() {
	b.t.Helper()
	if b.Running() {
		if code := b.Stop(); code != 0 {
			b.t.Errorf("testcluster: broker %d exited with status %d on SIGTERM", b.ID, code)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		b.t.Fatalf("testcluster: restart: %v", err)
	}
}

// properties renders server.properties, keys sorted for stable files.
func (b *Broker) properties() string {
	keys := make([]string, 0, len(b.props))
	for k := range b.props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	sb.WriteString("# Generated by internal/testcluster.\n")
	for _, k := range keys {
		fmt.Fprintf(&sb, "%s=%s\n", k, b.props[k])
	}
	return sb.String()
}

// dumpLog prints the tail of every run's log, so a failed test shows what
// the broker said.
func (b *Broker) dumpLog() {
	for i := 1; i <= b.runs; i++ {
		p := filepath.Join(b.workDir, fmt.Sprintf("broker-%d.run%d.log", b.ID, i))
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		b.t.Logf("broker %d run %d log (%s), last %d lines:\n%s", b.ID, i, p, logTailLines, procs.LastLines(string(data), logTailLines))
	}
}

// errNotReady marks a probe answer that shows the broker is up but not yet
// serving (no controller, not in its own metadata).
var errNotReady = errors.New("broker not ready")
