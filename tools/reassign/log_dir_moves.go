package reassign

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// anyLogDir is the log_dirs value that leaves a replica in whatever log
// dir its broker picks.
const anyLogDir = "any"

// logDirThrottle is the broker config --replica-alter-log-dirs-throttle
// sets: the bytes per second a broker copies into future logs.
const logDirThrottle = "replica.alter.log.dirs.io.max.bytes.per.second"

// replica is a partition's replica on one broker (Kafka's
// TopicPartitionReplica), printed as "topic-partition-broker".
type replica struct {
	p      tp
	broker int32
}

func (r replica) String() string { return fmt.Sprintf("%s-%d", r.p, r.broker) }

// sortReplicas orders replicas as the tool prints them: by broker, then
// topic, then partition.
func sortReplicas(rs []replica) {
	slices.SortFunc(rs, func(a, b replica) int {
		if a.broker != b.broker {
			return int(a.broker - b.broker)
		}
		if c := strings.Compare(a.p.topic, b.p.topic); c != 0 {
			return c
		}
		return int(a.p.partition - b.p.partition)
	})
}

// logDirTargets is the replicas of the file that name a log dir other
// than "any", with that dir (the second half of Kafka's
// parsePartitionReassignmentData).
func logDirTargets(es []entry) map[replica]string {
	out := map[replica]string{}
	for _, e := range es {
		for i, d := range e.logDirs {
			if d != anyLogDir {
				out[replica{e.p, e.replicas[i]}] = d
			}
		}
	}
	return out
}

// replicaDirs is where a replica's log is and where it is being moved
// to; "" for neither (Admin's ReplicaLogDirInfo).
type replicaDirs struct{ current, future string }

// describeReplicaDirs asks each broker named, with DescribeLogDirs for
// just their partitions, where the replicas are, as the Java admin
// client's describeReplicaLogDirs: every replica asked of a broker that
// answered gets an entry, empty when no live log dir holds it; offline log
// dirs are skipped.
func (c *command) describeReplicaDirs(ctx context.Context, rs []replica) (map[replica]replicaDirs, error) {
	byBroker := map[int32][]replica{}
	for _, r := range rs {
		byBroker[r.broker] = append(byBroker[r.broker], r)
	}
	out := map[replica]replicaDirs{}
	for _, b := range slices.Sorted(maps.Keys(byBroker)) {
		req := kmsg.NewPtrDescribeLogDirsRequest()
		topics := map[string]int{}
		for _, r := range byBroker[b] {
			out[r] = replicaDirs{}
			i, ok := topics[r.p.topic]
			if !ok {
				i = len(req.Topics)
				topics[r.p.topic] = i
				t := kmsg.NewDescribeLogDirsRequestTopic()
				t.Topic = r.p.topic
				req.Topics = append(req.Topics, t)
			}
			req.Topics[i].Partitions = append(req.Topics[i].Partitions, r.p.partition)
		}
		resp, err := req.RequestWith(ctx, c.cl.Broker(int(b)))
		if err != nil {
			return nil, fmt.Errorf("describe log dirs of broker %d: %w", b, err)
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			return nil, fmt.Errorf("describe log dirs of broker %d: %w", b, err)
		}
		for _, d := range resp.Dirs {
			if d.ErrorCode == kerr.KafkaStorageError.Code {
				continue // offline: no replica info
			}
			if err := kerr.ErrorForCode(d.ErrorCode); err != nil {
				return nil, fmt.Errorf("The error %v for log directory %s in the response from broker %d is illegal", err, d.Dir, b)
			}
			for _, t := range d.Topics {
				for _, p := range t.Partitions {
					r := replica{tp{t.Topic, p.Partition}, b}
					info, asked := out[r]
					if !asked {
						continue
					}
					if p.IsFuture {
						info.future = d.Dir
					} else {
						info.current = d.Dir
					}
					out[r] = info
				}
			}
		}
	}
	return out, nil
}

// moveKind is the state of one replica's log dir move (Kafka's
// LogDirMoveState classes).
type moveKind int

const (
	moveMissingReplica moveKind = iota // the broker did not report the replica
	moveMissingLogDir                  // no live log dir holds the replica
	moveActive                         // a future log is being filled
	moveCancelled                      // no move, and the replica is elsewhere
	moveCompleted                      // the replica is in the target dir
)

// dirMove is one replica's move: its state and dirs.
type dirMove struct {
	kind                    moveKind
	current, target, future string
}

// done is false while the move may still change: active, or the replica
// not found (yet).
func (m dirMove) done() bool { return m.kind == moveCancelled || m.kind == moveCompleted }

// logDirMoveStates is Kafka's findLogDirMoveStates: each target replica's
// state from where its broker says it is.
func (c *command) logDirMoveStates(ctx context.Context, targets map[replica]string) (map[replica]dirMove, error) {
	out := map[replica]dirMove{}
	if len(targets) == 0 {
		return out, nil
	}
	dirs, err := c.describeReplicaDirs(ctx, slices.Collect(maps.Keys(targets)))
	if err != nil {
		return nil, err
	}
	for r, target := range targets {
		info, ok := dirs[r]
		m := dirMove{target: target, current: info.current, future: info.future}
		switch {
		case !ok:
			m.kind = moveMissingReplica
		case info.current == "":
			m.kind = moveMissingLogDir
		case info.future == "" && info.current == target:
			m.kind = moveCompleted
		case info.future == "":
			m.kind = moveCancelled
		default:
			m.kind = moveActive
		}
		out[r] = m
	}
	return out, nil
}

// moveStatesString is Kafka's replicaMoveStatesToString: a line per
// replica, sorted, with the stock tool's sentences.
func moveStatesString(states map[replica]dirMove) string {
	rs := slices.Collect(maps.Keys(states))
	sortReplicas(rs)
	lines := make([]string, 0, len(rs))
	for _, r := range rs {
		m := states[r]
		var l string
		switch m.kind {
		case moveMissingLogDir:
			l = fmt.Sprintf("Partition %s is not found in any live log dir on broker %d. There is likely an offline log directory on the broker.", r.p, r.broker)
		case moveMissingReplica:
			l = fmt.Sprintf("Partition %s cannot be found in any live log directory on broker %d.", r.p, r.broker)
		case moveActive:
			if m.target == m.future {
				l = fmt.Sprintf("Reassignment of replica %s is still in progress.", r)
			} else {
				l = fmt.Sprintf("Partition %s on broker %d is being moved to log dir %s instead of %s.", r.p, r.broker, m.future, m.target)
			}
		case moveCancelled:
			l = fmt.Sprintf("Partition %s on broker %d is not being moved from log dir %s to %s.", r.p, r.broker, m.current, m.target)
		case moveCompleted:
			l = fmt.Sprintf("Reassignment of replica %s completed successfully.", r)
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n")
}

// alterReplicaLogDirs sends AlterReplicaLogDirs to the brokers of
// pending and returns the replicas whose move started. REPLICA_NOT_
// AVAILABLE is not a failure: the replica has not reached its new broker
// yet, and the broker remembers the dir for when it does; any other error
// is.
func (c *command) alterReplicaLogDirs(ctx context.Context, pending map[replica]string) ([]replica, error) {
	byBroker := map[int32][]replica{}
	for r := range pending {
		byBroker[r.broker] = append(byBroker[r.broker], r)
	}
	var started []replica
	for _, b := range slices.Sorted(maps.Keys(byBroker)) {
		rs := byBroker[b]
		sortReplicas(rs)
		req := kmsg.NewPtrAlterReplicaLogDirsRequest()
		for _, r := range rs {
			d := pending[r]
			di := slices.IndexFunc(req.Dirs, func(x kmsg.AlterReplicaLogDirsRequestDir) bool { return x.Dir == d })
			if di < 0 {
				di = len(req.Dirs)
				nd := kmsg.NewAlterReplicaLogDirsRequestDir()
				nd.Dir = d
				req.Dirs = append(req.Dirs, nd)
			}
			dir := &req.Dirs[di]
			ti := slices.IndexFunc(dir.Topics, func(x kmsg.AlterReplicaLogDirsRequestDirTopic) bool { return x.Topic == r.p.topic })
			if ti < 0 {
				ti = len(dir.Topics)
				nt := kmsg.NewAlterReplicaLogDirsRequestDirTopic()
				nt.Topic = r.p.topic
				dir.Topics = append(dir.Topics, nt)
			}
			dir.Topics[ti].Partitions = append(dir.Topics[ti].Partitions, r.p.partition)
		}
		resp, err := req.RequestWith(ctx, c.cl.Broker(int(b)))
		if err != nil {
			return nil, fmt.Errorf("Failed to alter dir for %s: %w", rs[0], err)
		}
		answered := map[replica]bool{}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				r := replica{tp{t.Topic, p.Partition}, b}
				if _, asked := pending[r]; !asked {
					continue
				}
				answered[r] = true
				err := kerr.ErrorForCode(p.ErrorCode)
				switch {
				case err == nil:
					started = append(started, r)
				case p.ErrorCode == kerr.ReplicaNotAvailable.Code:
				default:
					return nil, fmt.Errorf("Failed to alter dir for %s: %w", r, err)
				}
			}
		}
		for _, r := range rs {
			if !answered[r] {
				return nil, fmt.Errorf("Failed to alter dir for %s: the broker's response did not mention it", r)
			}
		}
	}
	return started, nil
}

// executeMoves is Kafka's executeMoves: it sends AlterReplicaLogDirs for
// the pending replicas until every move has started, printing each as it
// does, retrying every 100ms a replica whose broker does not host it yet
// (it is still being reassigned there), and failing once timeout has
// passed with replicas still pending.
func (c *command) executeMoves(ctx context.Context, targets map[replica]string, timeout time.Duration) error {
	pending := maps.Clone(targets)
	deadline := time.Now().Add(timeout)
	for {
		started, err := c.alterReplicaLogDirs(ctx, pending)
		if err != nil {
			return err
		}
		sortReplicas(started)
		for _, r := range started {
			// The stock tool's line ends with a space.
			fmt.Fprintf(c.out, "Successfully started moving log directory to %s for replica %s-%d with broker %d \n", pending[r], r.p.topic, r.p.partition, r.broker)
			delete(pending, r)
		}
		if len(pending) == 0 {
			return nil
		}
		if !time.Now().Before(deadline) {
			rs := slices.Collect(maps.Keys(pending))
			sortReplicas(rs)
			names := make([]string, len(rs))
			for i, r := range rs {
				names[i] = r.String()
			}
			return fmt.Errorf("Timed out before log directory move%s could be started for: %s", plural(len(rs)), strings.Join(names, ","))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// setLogDirThrottle sets the log dir throttle on every broker with a
// replica to move between its dirs (Kafka's modifyLogDirThrottle).
func (c *command) setLogDirThrottle(ctx context.Context, targets map[replica]string, rate int64) error {
	var brokers []int32
	for r := range targets {
		if !slices.Contains(brokers, r.broker) {
			brokers = append(brokers, r.broker)
		}
	}
	slices.Sort(brokers)
	v := strconv.FormatInt(rate, 10)
	for _, b := range brokers {
		if err := c.alterConfigs(ctx, kmsg.ConfigResourceTypeBroker, itoa(b), []configOp{{logDirThrottle, &v}}); err != nil {
			return err
		}
	}
	fmt.Fprintf(c.out, "The replica-alter-dir throttle limit was set to %d B/s\n", rate)
	return nil
}
