// Package zktest runs a real ZooKeeper (Debian's zookeeper package) on
// loopback ports for tests and development tools: a standalone server
// (Start) or an ensemble of several (StartEnsemble).
//
// Each Server is one JVM running QuorumPeerMain with its own zoo.cfg and data
// directory; a standalone one runs in standalone mode, an ensemble member
// with a myid and the server.N lines of every member. The configuration
// favours fast, small test servers: a 500 ms tick (so sessions can time out
// in a second or two), no fsync, no AdminServer, and only the "ruok", "srvr"
// and "mntr" four-letter words.
// The JVM runs in its own process group and is killed together with the test
// process (Pdeathsig on Linux), so a crashed test does not leave ZooKeeper
// running.
package zktest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gokafka/gokafka/internal/procs"
)

// TickTime is the tickTime of test servers. ZooKeeper accepts session
// timeouts between 2 and MaxSessionTimeout/TickTime ticks, so the shortest
// session a client can get is 2*TickTime.
const TickTime = 500 * time.Millisecond

// MaxSessionTimeout is the largest session timeout the test server grants;
// it covers Kafka's default zookeeper.session.timeout.ms of 18 s.
const MaxSessionTimeout = 60 * time.Second

// StartTimeout bounds how long Start waits for the JVM to serve.
// The JVM takes a few seconds to start on a small shared machine.
const StartTimeout = 30 * time.Second

// startAttempts is how many times Start picks a new port when the one it
// chose was taken between probing and the JVM binding it.
const startAttempts = 3

// fourLetterWords is 4lw.commands.whitelist: readiness ("ruok", "srvr":
// a server reports its Mode only while it serves) and state ("mntr").
const fourLetterWords = "ruok,srvr,mntr"

// Server is a running ZooKeeper. Addr is its client address
// ("127.0.0.1:port"), suitable for zookeeper.connect.
type Server struct {
	Addr string
	// Dir holds zoo.cfg, the data directory and zookeeper.log.
	Dir string

	port      int
	classpath []string

	// myid and quorum are set for an ensemble member: its server id and the
	// server.N lines of every member (zoo.cfg). A standalone server has
	// neither.
	myid   int
	quorum []string

	mu   sync.Mutex
	proc *process // nil when stopped
}

// process is one JVM run. done is closed when the JVM has exited and err
// holds what Wait returned.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	log  *os.File
}

// Start runs a ZooKeeper server in a fresh t.TempDir() and stops it when the
// test ends. It fails the test at once when Java or ZooKeeper's jars are not
// installed, naming what to install.
func Start(t testing.TB) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout*startAttempts)
	defer cancel()
	s, err := StartDir(ctx, t.TempDir())
	if err != nil {
		t.Fatalf("zktest: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("zktest: stop: %v", err)
		}
	})
	return s
}

// StartDir runs a ZooKeeper server whose configuration, data and log live in
// dir (created if missing). The caller must call Stop. It retries with a new
// port if the chosen port was taken by someone else in the meantime.
func StartDir(ctx context.Context, dir string) (*Server, error) {
	cp, err := Classpath()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create zookeeper dir: %w", err)
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < startAttempts; attempt++ {
		port, err := procs.FreeLoopbackPort()
		if err != nil {
			return nil, err
		}
		s := &Server{
			Addr:      net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
			Dir:       dir,
			port:      port,
			classpath: cp,
		}
		if err := s.writeConfig(); err != nil {
			return nil, err
		}
		err = s.start(ctx)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if !errors.Is(err, errPortInUse) || ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

// Stop kills the JVM (its whole process group) and waits for it to exit.
// Stopping a stopped server is a no-op.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopLocked()
}

// Restart kills the JVM and starts a new one on the same port and data
// directory, waiting until it serves again. Sessions survive a restart if
// clients reconnect within their timeout, as with a real ZooKeeper outage.
func (s *Server) Restart(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.stopLocked(); err != nil {
		return err
	}
	return s.startLocked(ctx)
}

// Kill stops the JVM without starting it again, simulating an outage that
// lasts until Resume. It is Stop under a name that reads well in tests.
func (s *Server) Kill() error { return s.Stop() }

// Resume starts a stopped server again on the same port and data directory.
func (s *Server) Resume(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return nil
	}
	return s.startLocked(ctx)
}

// Launch starts a stopped server's JVM and returns without waiting for it
// to serve; Ready tells when it does. An ensemble member serves only once a
// quorum of members runs, so a test that restarts members of an ensemble
// that lost its quorum launches them all and then waits
// (Ensemble.WaitQuorum). Launching a running server is a no-op.
func (s *Server) Launch() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return nil
	}
	_, _, err := s.launchLocked()
	return err
}

// Running reports whether the JVM is alive (it may not serve yet).
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return false
	}
	select {
	case <-s.proc.done:
		return false
	default:
		return true
	}
}

// Mode is the server's role as its "srvr" answer reports it: "standalone",
// "leader" or "follower" while it serves, "" when it does not answer or does
// not serve (an ensemble member without a quorum).
func (s *Server) Mode(ctx context.Context) string {
	out, _ := FourLetterWord(ctx, s.Addr, "srvr")
	for _, line := range strings.Split(out, "\n") {
		if m, ok := strings.CutPrefix(line, "Mode: "); ok {
			return strings.TrimSpace(m)
		}
	}
	return ""
}

// ID is the server's myid in its ensemble, 0 for a standalone server.
func (s *Server) ID() int { return s.myid }

// Pid is the JVM's process id, or 0 when the server is stopped. Benchmarks
// read its CPU time from /proc/<pid>/stat to tell it apart from other load.
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return 0
	}
	return s.proc.cmd.Process.Pid
}

// LogPath is the file that receives the JVM's output.
func (s *Server) LogPath() string { return filepath.Join(s.Dir, "zookeeper.log") }

func (s *Server) start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.startLocked(ctx)
}

func (s *Server) startLocked(ctx context.Context) error {
	p, logStart, err := s.launchLocked()
	if err != nil {
		return err
	}
	if err := s.waitReady(ctx, p, logStart, StartTimeout); err != nil {
		s.stopLocked()
		return err
	}
	return nil
}

// launchLocked starts the JVM and returns its process and the offset in
// zookeeper.log where this run's output begins.
func (s *Server) launchLocked() (*process, int64, error) {
	logf, err := os.OpenFile(s.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, 0, fmt.Errorf("open zookeeper log: %w", err)
	}
	logStart, _ := logf.Seek(0, 2)
	cmd := exec.Command("java",
		"-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Djava.net.preferIPv4Stack=true",
		"-cp", strings.Join(s.classpath, string(os.PathListSeparator)),
		"org.apache.zookeeper.server.quorum.QuorumPeerMain",
		filepath.Join(s.Dir, "zoo.cfg"))
	cmd.Dir = s.Dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, 0, fmt.Errorf("start zookeeper (java): %w", err)
	}
	p := &process{cmd: cmd, done: make(chan struct{}), log: logf}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	s.proc = p
	return p, logStart, nil
}

// errPortInUse marks a start that failed because the port was taken.
var errPortInUse = errors.New("port in use")

// waitReady polls "srvr" until the server reports its mode, the JVM exits,
// or timeout passes.
func (s *Server) waitReady(ctx context.Context, p *process, logStart int64, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		// "ruok" answers imok before the server serves requests; "srvr"
		// reports the mode only once it does.
		if out, _ := FourLetterWord(ctx, s.Addr, "srvr"); strings.Contains(out, "Mode: ") {
			return nil
		}
		select {
		case <-p.done:
			tail := s.logSince(logStart)
			if strings.Contains(tail, "Address already in use") {
				return fmt.Errorf("zookeeper on %s: %w", s.Addr, errPortInUse)
			}
			return fmt.Errorf("zookeeper on %s exited during start (%v); log %s:\n%s", s.Addr, p.err, s.LogPath(), procs.LastLines(tail, 20))
		case <-ctx.Done():
			tail := s.logSince(logStart)
			if strings.Contains(tail, "Address already in use") {
				// An ensemble member whose quorum or election port was
				// taken may keep running without ever serving.
				return fmt.Errorf("zookeeper on %s: %w", s.Addr, errPortInUse)
			}
			return fmt.Errorf("zookeeper on %s not ready after %s: %w; log %s:\n%s", s.Addr, timeout, ctx.Err(), s.LogPath(), procs.LastLines(tail, 20))
		case <-tick.C:
		}
	}
}

func (s *Server) stopLocked() error {
	p := s.proc
	if p == nil {
		return nil
	}
	s.proc = nil
	killGroup(p.cmd)
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("zookeeper pid %d did not exit after SIGKILL", p.cmd.Process.Pid)
	}
}

// killGroup sends SIGKILL to the JVM's process group (and the JVM itself,
// in case the group could not be made).
func killGroup(cmd *exec.Cmd) {
	pid := cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = cmd.Process.Kill()
}

// writeConfig writes zoo.cfg and, for an ensemble member, the myid file in
// the data directory.
func (s *Server) writeConfig() error {
	kind := "a standalone test server"
	if s.quorum != nil {
		kind = fmt.Sprintf("member %d of a test ensemble", s.myid)
	}
	dataDir := filepath.Join(s.Dir, "data")
	cfg := fmt.Sprintf(`# Written by gokafka's internal/zktest: %s.
tickTime=%d
dataDir=%s
clientPortAddress=127.0.0.1
clientPort=%d
maxSessionTimeout=%d
admin.enableServer=false
4lw.commands.whitelist=%s
forceSync=no
maxClientCnxns=0
`, kind, TickTime.Milliseconds(), dataDir, s.port, MaxSessionTimeout.Milliseconds(), fourLetterWords)
	if s.quorum != nil {
		cfg += fmt.Sprintf("initLimit=%d\nsyncLimit=%d\n", initLimitTicks, syncLimitTicks)
		cfg += strings.Join(s.quorum, "\n") + "\n"
		if err := os.MkdirAll(dataDir, 0o755); err != nil {
			return fmt.Errorf("create zookeeper data dir: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dataDir, "myid"), []byte(strconv.Itoa(s.myid)+"\n"), 0o644); err != nil {
			return fmt.Errorf("write myid: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "zoo.cfg"), []byte(cfg), 0o644); err != nil {
		return fmt.Errorf("write zoo.cfg: %w", err)
	}
	return nil
}

func (s *Server) logSince(off int64) string {
	b, err := os.ReadFile(s.LogPath())
	if err != nil || off > int64(len(b)) {
		return ""
	}
	return string(b[off:])
}

// FourLetterWord sends a ZooKeeper four-letter command ("ruok", "srvr") to
// addr and returns the whole answer.
func FourLetterWord(ctx context.Context, addr, cmd string) (string, error) {
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	deadline, _ := dctx.Deadline()
	_ = conn.SetDeadline(deadline)
	if _, err := conn.Write([]byte(cmd)); err != nil {
		return "", err
	}
	var sb strings.Builder
	buf := make([]byte, 512)
	for {
		n, err := conn.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
		if sb.Len() > 64<<10 {
			break
		}
	}
	return sb.String(), nil
}
