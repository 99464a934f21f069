package compattests

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gokafka/gokafka/internal/testcluster"
)

// groupRecords is how many records the group tests spread over a
// 4-partition topic.
const groupRecords = 200

// produceRoundRobin writes n records "v<i>" round-robin over the topic's
// partitions.
func produceRoundRobin(t *testing.T, b *testcluster.Broker, topic string, n int) {
	t.Helper()
	cl := newClient(t, b, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: topic, Value: fmt.Appendf(nil, "v%d", i)})
	}
	produceSync(t, cl, recs...)
}

// waitGroupSplit waits until the group is Stable with want members that
// each own at least one partition of topic, no partition twice, all
// partitions covered (kafka-consumer-groups --describe --members
// --verbose's view).
func waitGroupSplit(t *testing.T, adm *kadm.Client, group, topic string, partitions, want int) {
	t.Helper()
	eventually(t, fmt.Sprintf("group %s to split %s over %d members", group, topic, want), func() error {
		dg, err := adm.DescribeGroups(testCtx(t), group)
		if err != nil {
			return err
		}
		g := dg[group]
		if g.State != "Stable" || len(g.Members) != want {
			return fmt.Errorf("state %s with %d members", g.State, len(g.Members))
		}
		owned := map[int32]string{}
		for _, m := range g.Members {
			ca, ok := m.Assigned.AsConsumer()
			if !ok {
				return fmt.Errorf("member %s: assignment is not a consumer assignment", m.MemberID)
			}
			n := 0
			for _, tp := range ca.Topics {
				for _, p := range tp.Partitions {
					if o, dup := owned[p]; dup {
						return fmt.Errorf("partition %d owned by %s and %s", p, o, m.MemberID)
					}
					owned[p] = m.MemberID
					n++
				}
			}
			if n == 0 {
				return fmt.Errorf("member %s (%s) owns nothing", m.MemberID, m.ClientID)
			}
		}
		if len(owned) != partitions {
			return fmt.Errorf("%d of %d partitions owned", len(owned), partitions)
		}
		return nil
	})
}

// checkExactlyOnce checks consumed "member|partition|offset" lines: every
// one of n records exactly once, and every member consumed something.
func checkExactlyOnce(t *testing.T, lines []string, n int, members ...string) {
	t.Helper()
	seen := map[string]string{}
	per := map[string]int{}
	for _, l := range lines {
		member, rec, ok := strings.Cut(l, "|")
		if !ok {
			t.Fatalf("bad output line %q", l)
		}
		if prev, dup := seen[rec]; dup {
			t.Errorf("record %s consumed twice (by %s and %s)", rec, prev, member)
		}
		seen[rec] = member
		per[member]++
	}
	if len(seen) != n {
		t.Errorf("consumed %d distinct records, want %d", len(seen), n)
	}
	for _, m := range members {
		if per[m] == 0 {
			t.Errorf("member %s consumed nothing (per member: %v)", m, per)
		}
	}
}

// TestKcatBalancedConsumer runs two kcat -G members (librdkafka's
// balanced consumer) on a 4-partition topic: each owns two partitions and
// together they consume every record exactly once; a SIGKILLed member's
// partitions move to the other once its session times out; SIGTERM
// leaves cleanly and the group ends Empty with the offsets committed in ZooKeeper.
func TestKcatBalancedConsumer(t *testing.T) {
	requireCommand(t, kcatPath, "kcat")
	c, b := startBroker(t, nil)
	adm := newAdmin(t, b)
	createTopic(t, adm, "kcat-group", 4, nil)

	type member struct {
		cmd   *exec.Cmd
		lines chan string
	}
	var members []*member
	for i := range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		t.Cleanup(cancel)
		cmd := exec.CommandContext(ctx, kcatPath, "-b", b.Addr(), "-G", "kcat-g", "-q", "-u",
			"-X", "auto.offset.reset=earliest", "-X", "client.id=kcat-"+fmt.Sprint(i),
			"-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=500",
			"-f", fmt.Sprintf("kcat-%d|%%p/%%o\\n", i), "kcat-group")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var errOut strings.Builder
		cmd.Stderr = &errOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		m := &member{cmd: cmd, lines: make(chan string, 2*groupRecords)}
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				m.lines <- sc.Text()
			}
			close(m.lines)
		}()
		t.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
			if t.Failed() {
				t.Logf("kcat-%d stderr:\n%s", i, errOut.String())
			}
		})
		members = append(members, m)
	}
	waitGroupSplit(t, adm, "kcat-g", "kcat-group", 4, 2)
	produceRoundRobin(t, b, "kcat-group", groupRecords)

	var lines []string
	ctx := testCtx(t)
	for len(lines) < groupRecords {
		select {
		case l, ok := <-members[0].lines:
			if ok {
				lines = append(lines, l)
			}
		case l, ok := <-members[1].lines:
			if ok {
				lines = append(lines, l)
			}
		case <-ctx.Done():
			t.Fatalf("kcat members consumed %d of %d records", len(lines), groupRecords)
		}
	}
	checkExactlyOnce(t, lines, groupRecords, "kcat-0", "kcat-1")

	// kcat auto-commits every 5 s and on close; the commits are the
	// ZooKeeper-era znodes, decimal offsets adding up to all records.
	zk := c.ZKClient(t)
	committedInZK := func() {
		t.Helper()
		eventually(t, "auto-committed offsets in ZooKeeper", func() error {
			total := 0
			for p := range 4 {
				data, _, err := zk.Conn.Get(zk.Path(fmt.Sprintf("/consumers/kcat-g/offsets/kcat-group/%d", p)))
				if err != nil {
					return err
				}
				var off int
				if _, err := fmt.Sscan(string(data), &off); err != nil {
					return fmt.Errorf("partition %d: %q: %v", p, data, err)
				}
				total += off
			}
			if total != groupRecords {
				return fmt.Errorf("committed offsets add up to %d, want %d", total, groupRecords)
			}
			return nil
		})
	}
	committedInZK()

	// A crash: kcat-1 is SIGKILLed (no LeaveGroup); once its session
	// times out kcat-0 owns all four partitions.
	members[1].cmd.Process.Kill()
	waitGroupSplit(t, adm, "kcat-g", "kcat-group", 4, 1)

	members[0].cmd.Process.Signal(syscall.SIGTERM)
	eventually(t, "the group to be Empty after the last kcat left", func() error {
		dg, err := adm.DescribeGroups(testCtx(t), "kcat-g")
		if err != nil {
			return err
		}
		if s := dg["kcat-g"].State; s != "Empty" {
			return fmt.Errorf("state %s", s)
		}
		return nil
	})
	committedInZK()
}

// pythonGroupScript runs two consumers of one group on two threads, waits
// until both own partitions, produces n records round-robin, and prints
// "member|partition/offset" for every record consumed until n arrived.
// The consumer and producer constructors differ between kafka-python and
// confluent-kafka; the two variants below fill them in.
const pythonGroupScript = `
import sys, threading, time
addr, topic, group, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
lock = threading.Lock()
got, owned, errors = [], {}, []
stop = threading.Event()
def run(name):
    try:
        c = new_consumer(name)
        while not stop.is_set():
            for p, o in poll(c):
                with lock:
                    got.append('%s|%d/%d' % (name, p, o))
            with lock:
                owned[name] = assigned(c)
        c.close()
    except Exception as e:
        errors.append('%s: %r' % (name, e))
        stop.set()
threads = [threading.Thread(target=run, args=('m%d' % i,)) for i in range(2)]
for th in threads:
    th.start()
deadline = time.time() + 90
def split():
    with lock:
        a, b = owned.get('m0', set()), owned.get('m1', set())
        return a and b and not (a & b) and len(a | b) == 4
while not split():
    if errors or time.time() > deadline:
        stop.set()
        sys.exit('members never split the partitions: %s %s' % (owned, errors))
    time.sleep(0.1)
produce(n)
while True:
    with lock:
        if len(got) >= n:
            break
    if errors or time.time() > deadline:
        stop.set()
        sys.exit('consumed %d of %d: %s' % (len(got), n, errors))
    time.sleep(0.1)
stop.set()
for th in threads:
    th.join()
for l in got:
    print(l)
`

// kafkaPythonGroup is the kafka-python variant: KafkaConsumer with
// group_id (auto-commit on, as its default).
const kafkaPythonGroup = `
from kafka import KafkaConsumer, KafkaProducer
def new_consumer(name):
    c = KafkaConsumer(bootstrap_servers=addr, group_id=group, client_id=name,
                      auto_offset_reset='earliest', session_timeout_ms=10000,
                      heartbeat_interval_ms=500)
    c.subscribe([topic])
    return c
def poll(c):
    out = []
    for tp, ms in c.poll(timeout_ms=200).items():
        out.extend((m.partition, m.offset) for m in ms)
    return out
def assigned(c):
    return set(tp.partition for tp in c.assignment())
def produce(n):
    p = KafkaProducer(bootstrap_servers=addr)
    for i in range(n):
        p.send(topic, value=b'v%d' % i, partition=i % 4)
    p.flush()
    p.close()
`

// confluentGroup is the confluent-kafka (librdkafka) variant: Consumer
// with group.id.
const confluentGroup = `
from confluent_kafka import Consumer, Producer
def new_consumer(name):
    c = Consumer({'bootstrap.servers': addr, 'group.id': group, 'client.id': name,
                  'auto.offset.reset': 'earliest', 'session.timeout.ms': 10000,
                  'heartbeat.interval.ms': 500})
    c.subscribe([topic])
    return c
def poll(c):
    out = []
    for m in c.consume(num_messages=100, timeout=0.2):
        if m.error() is None:
            out.append((m.partition(), m.offset()))
    return out
def assigned(c):
    return set(tp.partition for tp in c.assignment())
def produce(n):
    p = Producer({'bootstrap.servers': addr})
    for i in range(n):
        p.produce(topic, value=b'v%d' % i, partition=i % 4)
    if p.flush(60) != 0:
        raise Exception('produce did not finish')
`

// TestPythonConsumerGroups runs the two-member group with kafka-python and
// confluent-kafka: both members own partitions and every record is
// consumed exactly once.
func TestPythonConsumerGroups(t *testing.T) {
	_, b := startBroker(t, nil)
	adm := newAdmin(t, b)
	for _, tc := range []struct {
		name, module, pkg, prelude string
	}{
		{"kafka-python", "kafka", "python3-kafka", kafkaPythonGroup},
		{"confluent-kafka", "confluent_kafka", "python3-confluent-kafka", confluentGroup},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requirePythonModule(t, tc.module, tc.pkg)
			topic, group := "py-"+tc.name, "py-g-"+tc.name
			createTopic(t, adm, topic, 4, nil)
			script := strings.Replace(pythonGroupScript, "threads = [", tc.prelude+"\nthreads = [", 1)
			out := runPython(t, script, b.Addr(), topic, group, fmt.Sprint(groupRecords))
			lines := strings.Split(strings.TrimSpace(out), "\n")
			sort.Strings(lines)
			checkExactlyOnce(t, lines, groupRecords, "m0", "m1")
			lg, err := adm.ListGroups(testCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := lg[group]; !ok {
				t.Errorf("group %s not listed: %v", group, lg.Groups())
			}
		})
	}
}

// TestGroupOffsetsSurviveBrokerKill commits half a topic with franz-go,
// SIGKILLs and restarts the broker, and resumes in the same group: the new
// member starts exactly at the commits (no gap, nothing earlier).
func TestGroupOffsetsSurviveBrokerKill(t *testing.T) {
	_, b := startBroker(t, nil)
	adm := newAdmin(t, b)
	createTopic(t, adm, "kill-group", 4, nil)
	produceRoundRobin(t, b, "kill-group", groupRecords)

	member := func() *kgo.Client {
		return newClient(t, b, kgo.ConsumerGroup("kill-g"), kgo.ConsumeTopics("kill-group"),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	}
	first := member()
	ctx := testCtx(t)
	var got []*kgo.Record
	for len(got) < groupRecords/2 {
		got = append(got, first.PollRecords(ctx, groupRecords/2-len(got)).Records()...)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d records", len(got))
		}
	}
	if err := first.CommitRecords(ctx, got...); err != nil {
		t.Fatal(err)
	}
	next := map[int32]int64{}
	for _, r := range got {
		next[r.Partition] = max(next[r.Partition], r.Offset+1)
	}

	b.Kill()
	first.Close()
	b.Restart()

	second := member()
	rest := pollN(t, second, groupRecords-len(got))
	for _, r := range rest {
		if r.Offset != next[r.Partition] {
			t.Fatalf("partition %d resumed at offset %d, want %d", r.Partition, r.Offset, next[r.Partition])
		}
		next[r.Partition]++
	}
}
