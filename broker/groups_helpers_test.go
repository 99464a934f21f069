package broker

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
)

// groupOverrides make group tests fast: no initial rebalance delay and
// short sessions allowed, so a crashed member expires in about a second.
var groupOverrides = []string{
	"group.initial.rebalance.delay.ms=0",
	"group.min.session.timeout.ms=500",
}

// groupMember is one kgo consumer-group member whose assignment the test
// follows through the rebalance callbacks, and whose network the test can
// cut to play a crash (no LeaveGroup, no heartbeats).
type groupMember struct {
	name string
	cl   *kgo.Client

	mu       sync.Mutex
	owned    map[int32]bool
	assigns  int // OnPartitionsAssigned calls
	revokes  int // OnPartitionsRevoked and OnPartitionsLost calls
	cut      bool
	conns    []net.Conn
	records  []*kgo.Record
	closeOne sync.Once
}

// newGroupMember joins group on topic; opts come after the defaults.
func newGroupMember(t testing.TB, addr, name, group, topic string, opts ...kgo.Opt) *groupMember {
	t.Helper()
	m := &groupMember{name: name, owned: make(map[int32]bool)}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	base := []kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.ClientID(name),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.SessionTimeout(1500 * time.Millisecond),
		kgo.HeartbeatInterval(150 * time.Millisecond),
		kgo.RebalanceTimeout(10 * time.Second),
		kgo.FetchMaxWait(200 * time.Millisecond),
		kgo.MetadataMinAge(100 * time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
		kgo.Dialer(func(ctx context.Context, network, host string) (net.Conn, error) {
			m.mu.Lock()
			cut := m.cut
			m.mu.Unlock()
			if cut {
				return nil, fmt.Errorf("%s: network cut by the test", name)
			}
			c, err := dialer.DialContext(ctx, network, host)
			if err == nil {
				m.mu.Lock()
				m.conns = append(m.conns, c)
				m.mu.Unlock()
			}
			return c, err
		}),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, as map[string][]int32) {
			m.mu.Lock()
			defer m.mu.Unlock()
			m.assigns++
			for _, p := range as[topic] {
				m.owned[p] = true
			}
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, rs map[string][]int32) {
			// Setting this callback turns off kgo's own commit on revoke;
			// do it here so the next owner starts after what was read.
			_ = cl.CommitUncommittedOffsets(ctx)
			m.mu.Lock()
			defer m.mu.Unlock()
			m.revokes++
			for _, p := range rs[topic] {
				delete(m.owned, p)
			}
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, ls map[string][]int32) {
			m.mu.Lock()
			defer m.mu.Unlock()
			m.revokes++
			for _, p := range ls[topic] {
				delete(m.owned, p)
			}
		}),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	m.cl = cl
	t.Cleanup(m.close)
	return m
}

// poll keeps the member consuming (kgo only rejoins and heartbeats while
// the application polls) and collects what it reads, until ctx ends.
func (m *groupMember) poll(ctx context.Context) {
	for ctx.Err() == nil {
		fs := m.cl.PollFetches(ctx)
		if fs.IsClientClosed() {
			return
		}
		rs := fs.Records()
		m.mu.Lock()
		m.records = append(m.records, rs...)
		m.mu.Unlock()
	}
}

// close leaves the group cleanly (LeaveGroup), once.
func (m *groupMember) close() { m.closeOne.Do(m.cl.Close) }

// crash cuts the member off the network: its connections close and new
// dials fail, so it neither heartbeats nor leaves; the coordinator must
// notice through the session timeout.
func (m *groupMember) crash() {
	m.mu.Lock()
	m.cut = true
	conns := m.conns
	m.conns = nil
	m.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// assignment is a copy of the partitions the member owns now.
func (m *groupMember) assignment() []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ps []int32
	for p := range m.owned {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	return ps
}

func (m *groupMember) counts() (assigns, revokes int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.assigns, m.revokes
}

// exclusiveCover reports "" when the members' assignments together hold
// every partition in [0, partitions) exactly once, else what is wrong.
func exclusiveCover(members []*groupMember, partitions int32) string {
	owner := make(map[int32]string)
	var problems []string
	for _, m := range members {
		for _, p := range m.assignment() {
			if o, dup := owner[p]; dup {
				problems = append(problems, fmt.Sprintf("partition %d owned by %s and %s", p, o, m.name))
			}
			owner[p] = m.name
		}
	}
	for p := int32(0); p < partitions; p++ {
		if _, ok := owner[p]; !ok {
			problems = append(problems, fmt.Sprintf("partition %d unowned", p))
		}
	}
	return strings.Join(problems, "; ")
}

// rawZooKeeper is a plain go-zookeeper session on the server's ZooKeeper
// and the chroot to prefix, to read znodes the way Burrow or zkCli would.
func rawZooKeeper(t testing.TB, s *Server) (*zk.Conn, string) {
	t.Helper()
	hosts, chroot, _ := strings.Cut(s.cfg.ZooKeeperConnect, "/")
	if chroot != "" {
		chroot = "/" + chroot
	}
	conn, _, err := zk.Connect(strings.Split(hosts, ","), 6*time.Second, zk.WithLogInfo(false), zk.WithLogger(zkQuiet{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	return conn, chroot
}

type zkQuiet struct{}

func (zkQuiet) Printf(string, ...any) {}

// wireCall is one request a client sent through a wireRecorder, with the
// response the broker gave.
type wireCall struct {
	key, version int16
	req          kmsg.Request
	resp         kmsg.Response
}

// wireRecorder is a TCP proxy in front of a broker that decodes every
// request and response passing through it, to check what a client sends
// on the wire. The broker advertises the proxy's address, so every
// connection the client makes goes through it.
type wireRecorder struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	calls []wireCall
}

func newWireRecorder(t testing.TB) *wireRecorder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &wireRecorder{ln: ln}
	t.Cleanup(func() { ln.Close() })
	return r
}

func (r *wireRecorder) port() int { return r.ln.Addr().(*net.TCPAddr).Port }

// start forwards to target until the listener closes.
func (r *wireRecorder) start(target string) {
	r.target = target
	go func() {
		for {
			c, err := r.ln.Accept()
			if err != nil {
				return
			}
			go r.proxy(c)
		}
	}()
}

func (r *wireRecorder) proxy(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", r.target)
	if err != nil {
		return
	}
	defer server.Close()
	var mu sync.Mutex
	pending := make(map[int32]kmsg.Request)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			frame, err := readFrame(server)
			if err != nil {
				client.Close()
				return
			}
			if len(frame) >= 4 {
				corr := int32(binary.BigEndian.Uint32(frame))
				mu.Lock()
				req := pending[corr]
				delete(pending, corr)
				mu.Unlock()
				if req != nil {
					body := frame[4:]
					if req.IsFlexible() && req.Key() != 18 && len(body) > 0 {
						body = body[1:] // empty tagged fields of header v1
					}
					resp := req.ResponseKind()
					resp.SetVersion(req.GetVersion())
					if resp.ReadFrom(body) == nil {
						r.mu.Lock()
						r.calls = append(r.calls, wireCall{req.Key(), req.GetVersion(), req, resp})
						r.mu.Unlock()
					}
				}
			}
			if writeFrame(client, frame) != nil {
				return
			}
		}
	}()
	for {
		frame, err := readFrame(client)
		if err != nil {
			break
		}
		if hdr, req, err := wire.ParseRequest(frame, apiVersions()); err == nil {
			mu.Lock()
			pending[hdr.CorrelationID] = req
			mu.Unlock()
		}
		if writeFrame(server, frame) != nil {
			break
		}
	}
	server.Close()
	<-done
}

func readFrame(c net.Conn) ([]byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(size[:])
	if n > 64<<20 {
		return nil, fmt.Errorf("frame of %d bytes", n)
	}
	frame := make([]byte, n)
	_, err := io.ReadFull(c, frame)
	return frame, err
}

func writeFrame(c net.Conn, frame []byte) error {
	var size [4]byte
	binary.BigEndian.PutUint32(size[:], uint32(len(frame)))
	_, err := c.Write(append(size[:], frame...))
	return err
}

// snapshot returns the calls recorded so far.
func (r *wireRecorder) snapshot() []wireCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]wireCall(nil), r.calls...)
}

// of returns the recorded calls of one API key.
func (r *wireRecorder) of(key int16) []wireCall {
	var out []wireCall
	for _, c := range r.snapshot() {
		if c.key == key {
			out = append(out, c)
		}
	}
	return out
}

// logTape keeps log lines in memory (safe for concurrent writers) so a test
// can print them only when it fails: kgo's and the broker's Info logs of a
// rebalance are too many to print on every run.
type logTape struct {
	mu    sync.Mutex
	lines []string
}

func (l *logTape) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// clientLogger returns a kgo option that logs the client's Info lines to the
// tape, each prefixed with the time and the member's name.
func (l *logTape) clientLogger(name string) kgo.Opt {
	return kgo.WithLogger(kgo.BasicLogger(l, kgo.LogLevelInfo, func() string {
		return time.Now().Format("15:04:05.000000 ") + name + " "
	}))
}

// grep returns the lines that contain every one of words.
func (l *logTape) grep(words ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
next:
	for _, line := range l.lines {
		for _, w := range words {
			if !strings.Contains(line, w) {
				continue next
			}
		}
		out = append(out, line)
	}
	return out
}

// runTapedServer is runTestServer with the broker's Info logs also kept on
// tape (its Warn and above still go to the test log).
func runTapedServer(t testing.TB, cfg Config, tape *logTape) (*Server, string) {
	t.Helper()
	enc := zap.NewDevelopmentEncoderConfig()
	enc.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05.000000")
	core := zapcore.NewTee(
		zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)).Core(),
		zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.AddSync(tape), zap.InfoLevel),
	)
	s, addr, _ := runTestServerLogged(t, cfg, zap.New(core))
	return s, addr
}

// describeGroup renders DescribeGroups of group as the coordinator sees it
// now: state, generation, protocol, leader and each member's id, client id
// and assignment size.
func describeGroup(addr, group string) string {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return fmt.Sprintf("describe %s: %v", group, err)
	}
	defer cl.Close()
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Groups = []string{group}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil || len(resp.Groups) != 1 {
		return fmt.Sprintf("describe %s: %v %+v", group, err, resp)
	}
	g := resp.Groups[0]
	var b strings.Builder
	fmt.Fprintf(&b, "group %s: error %d, state %s, protocol %s/%s, %d members", g.Group, g.ErrorCode, g.State, g.ProtocolType, g.Protocol, len(g.Members))
	for _, m := range g.Members {
		var a kmsg.ConsumerMemberAssignment
		parts := fmt.Sprintf("undecodable %x", m.MemberAssignment)
		if len(m.MemberAssignment) == 0 {
			parts = "none (not Stable)"
		} else if a.ReadFrom(m.MemberAssignment) == nil {
			var ps []int32
			for _, t := range a.Topics {
				ps = append(ps, t.Partitions...)
			}
			parts = fmt.Sprint(ps)
		}
		fmt.Fprintf(&b, "\n  member %s (%s): assignment %s", m.MemberID, m.ClientID, parts)
	}
	return b.String()
}
