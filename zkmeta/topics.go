package zkmeta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"

	"github.com/go-zookeeper/zk"
)

// Kafka's znode paths for topics (ZkData.scala).
const (
	topicsPath       = "/brokers/topics"
	configTopicsPath = "/config/topics"
	deleteTopicsPath = "/admin/delete_topics"
)

func topicPath(t string) string        { return topicsPath + "/" + t }
func partitionsPath(t string) string   { return topicPath(t) + "/partitions" }
func topicConfigPath(t string) string  { return configTopicsPath + "/" + t }
func deleteMarkerPath(t string) string { return deleteTopicsPath + "/" + t }
func partitionPath(t string, p int32) string {
	return partitionsPath(t) + "/" + strconv.Itoa(int(p))
}
func statePath(t string, p int32) string { return partitionPath(t, p) + "/state" }

// multiChunk bounds the operations sent in one multi, keeping each request
// well under ZooKeeper's 1 MB jute.maxbuffer and quick to apply.
const multiChunk = 200

// TopicAssignment is /brokers/topics/<t>:
// {"version":3,"topic_id":"<base64url>","partitions":{"0":[0]},"adding_replicas":{},"removing_replicas":{}}.
type TopicAssignment struct {
	// TopicID is zero for topics created by 2.x tools before a controller
	// added one.
	TopicID    [16]byte
	Partitions map[int32][]int32
	// AddingReplicas and RemovingReplicas are an ongoing reassignment
	// (KIP-455); only partitions with a non-empty list appear. They are
	// kept as read so that rewriting the assignment does not lose them.
	AddingReplicas   map[int32][]int32
	RemovingReplicas map[int32][]int32
	// ZkVersion is the znode version read, for conditional updates.
	ZkVersion int32
}

// topicJSON is /brokers/topics/<t> in versions 1 to 3.
type topicJSON struct {
	Version          int                `json:"version"`
	TopicID          string             `json:"topic_id,omitempty"`
	Partitions       map[string][]int32 `json:"partitions"`
	AddingReplicas   map[string][]int32 `json:"adding_replicas"`
	RemovingReplicas map[string][]int32 `json:"removing_replicas"`
}

// encodeTopic writes version 3, as Kafka 2.8 and 3.x do, with topic_id only
// when known.
func encodeTopic(a TopicAssignment) []byte {
	v := topicJSON{
		Version:          3,
		Partitions:       partitionMap(a.Partitions),
		AddingReplicas:   partitionMap(a.AddingReplicas),
		RemovingReplicas: partitionMap(a.RemovingReplicas),
	}
	if a.TopicID != ([16]byte{}) {
		v.TopicID = FormatUUID(a.TopicID)
	}
	b, _ := json.Marshal(v)
	return b
}

// partitionMap keys a partition map by decimal strings, dropping empty
// lists; it is never nil so that JSON shows {} rather than null.
func partitionMap(m map[int32][]int32) map[string][]int32 {
	out := make(map[string][]int32, len(m))
	for p, rs := range m {
		if rs == nil {
			rs = []int32{}
		}
		out[strconv.Itoa(int(p))] = rs
	}
	return out
}

func parsePartitionMap(t string, m map[string][]int32, dropEmpty bool) (map[int32][]int32, error) {
	out := make(map[int32][]int32, len(m))
	for k, rs := range m {
		p, err := strconv.ParseInt(k, 10, 32)
		if err != nil || p < 0 {
			return nil, fmt.Errorf("decode %s: bad partition %q", topicPath(t), k)
		}
		if dropEmpty && len(rs) == 0 {
			continue
		}
		if rs == nil {
			rs = []int32{}
		}
		out[int32(p)] = rs
	}
	return out, nil
}

// decodeTopic reads versions 1 to 3; everything but "partitions" is
// optional, as in Kafka's TopicZNode.decode.
func decodeTopic(t string, data []byte) (TopicAssignment, error) {
	var v topicJSON
	if err := json.Unmarshal(data, &v); err != nil {
		return TopicAssignment{}, fmt.Errorf("decode %s: %w", topicPath(t), err)
	}
	if v.Partitions == nil {
		return TopicAssignment{}, fmt.Errorf("decode %s: no partitions in %q", topicPath(t), data)
	}
	var a TopicAssignment
	var err error
	if v.TopicID != "" {
		if a.TopicID, err = ParseUUID(v.TopicID); err != nil {
			return TopicAssignment{}, fmt.Errorf("decode %s: %w", topicPath(t), err)
		}
	}
	if a.Partitions, err = parsePartitionMap(t, v.Partitions, false); err != nil {
		return TopicAssignment{}, err
	}
	if a.AddingReplicas, err = parsePartitionMap(t, v.AddingReplicas, true); err != nil {
		return TopicAssignment{}, err
	}
	if a.RemovingReplicas, err = parsePartitionMap(t, v.RemovingReplicas, true); err != nil {
		return TopicAssignment{}, err
	}
	return a, nil
}

// topicConfigJSON is /config/<type>/<name>: {"version":1,"config":{...}},
// all values strings.
type topicConfigJSON struct {
	Version int               `json:"version"`
	Config  map[string]string `json:"config"`
}

func encodeConfig(cfg map[string]string) []byte {
	if cfg == nil {
		cfg = map[string]string{}
	}
	b, _ := json.Marshal(topicConfigJSON{Version: 1, Config: cfg})
	return b
}

func decodeConfig(p string, data []byte) (map[string]string, error) {
	if len(data) == 0 {
		return map[string]string{}, nil
	}
	var v topicConfigJSON
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("decode %s: %w", p, err)
	}
	if v.Config == nil {
		v.Config = map[string]string{}
	}
	return v.Config, nil
}

// LeaderAndIsr is /brokers/topics/<t>/partitions/<p>/state:
// {"controller_epoch":E,"leader":L,"version":1,"leader_epoch":N,"isr":[...]}.
type LeaderAndIsr struct {
	Leader          int32
	LeaderEpoch     int32
	ISR             []int32
	ControllerEpoch int32
	// LeaderRecoveryState is 1 while the leader recovers from an unclean
	// election (KIP-704); Kafka writes the key only then.
	LeaderRecoveryState int8
	// ZkVersion is the znode version read.
	ZkVersion int32
}

type stateJSON struct {
	ControllerEpoch     int32   `json:"controller_epoch"`
	Leader              int32   `json:"leader"`
	Version             int     `json:"version"`
	LeaderEpoch         int32   `json:"leader_epoch"`
	ISR                 []int32 `json:"isr"`
	LeaderRecoveryState int8    `json:"leader_recovery_state,omitempty"`
}

func encodeState(s LeaderAndIsr) []byte {
	isr := s.ISR
	if isr == nil {
		isr = []int32{}
	}
	b, _ := json.Marshal(stateJSON{
		ControllerEpoch:     s.ControllerEpoch,
		Leader:              s.Leader,
		Version:             1,
		LeaderEpoch:         s.LeaderEpoch,
		ISR:                 isr,
		LeaderRecoveryState: s.LeaderRecoveryState,
	})
	return b
}

func decodeState(p string, data []byte) (LeaderAndIsr, error) {
	var v struct {
		ControllerEpoch     *int32  `json:"controller_epoch"`
		Leader              *int32  `json:"leader"`
		LeaderEpoch         *int32  `json:"leader_epoch"`
		ISR                 []int32 `json:"isr"`
		LeaderRecoveryState int8    `json:"leader_recovery_state"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return LeaderAndIsr{}, fmt.Errorf("decode %s: %w", p, err)
	}
	if v.ControllerEpoch == nil || v.Leader == nil || v.LeaderEpoch == nil || v.ISR == nil {
		return LeaderAndIsr{}, fmt.Errorf("decode %s: missing field in %q", p, data)
	}
	return LeaderAndIsr{
		Leader:              *v.Leader,
		LeaderEpoch:         *v.LeaderEpoch,
		ISR:                 v.ISR,
		ControllerEpoch:     *v.ControllerEpoch,
		LeaderRecoveryState: v.LeaderRecoveryState,
	}, nil
}

// Topics lists /brokers/topics.
func (c *Client) Topics(ctx context.Context) ([]string, error) {
	names, err := c.children(ctx, topicsPath)
	if err != nil {
		return nil, wrap("list", topicsPath, err)
	}
	sort.Strings(names)
	return names, nil
}

// WatchTopics lists /brokers/topics and returns a channel that fires once
// when the list changes (a ZooKeeper child watch).
//
// The channel is closed on the first change, when the watch is lost
// (session expiry, Close) or when ctx ends; callers list again after it
// fires, so ctx should live as long as the interest in changes.
func (c *Client) WatchTopics(ctx context.Context) ([]string, <-chan struct{}, error) {
	names, ev, err := c.childrenW(ctx, topicsPath)
	if err != nil {
		return nil, nil, wrap("watch", topicsPath, err)
	}
	sort.Strings(names)
	return names, c.fireOnce(ctx, ev), nil
}

// Topic reads a topic's assignment; ErrNoNode when it does not exist.
func (c *Client) Topic(ctx context.Context, topic string) (TopicAssignment, error) {
	if err := validTopicName(topic); err != nil {
		return TopicAssignment{}, err
	}
	data, stat, err := c.get(ctx, topicPath(topic))
	if err != nil {
		return TopicAssignment{}, wrap("read", topicPath(topic), err)
	}
	a, err := decodeTopic(topic, data)
	if err != nil {
		return TopicAssignment{}, err
	}
	a.ZkVersion = stat.Version
	return a, nil
}

// validTopicName rejects names that cannot be a single znode name; the
// broker checks Kafka's topic naming rules before calling this package.
func validTopicName(t string) error {
	if t == "" || t == "." || t == ".." {
		return fmt.Errorf("topic name %q: not a valid znode name", t)
	}
	for _, r := range t {
		if r == '/' || r == 0 {
			return fmt.Errorf("topic name %q: not a valid znode name", t)
		}
	}
	return nil
}

// CreateTopic writes /config/topics/<t> ({"version":1,"config":{...}}) then
// creates /brokers/topics/<t>; ErrTopicExists if it is already there.
//
// Both writes go in one multi, so a failed creation leaves no config behind
// and an existing topic's config is never overwritten. A config znode left
// by an earlier, half-finished deletion is replaced.
func (c *Client) CreateTopic(ctx context.Context, topic string, a TopicAssignment, configs map[string]string) error {
	if err := validTopicName(topic); err != nil {
		return err
	}
	for {
		_, err := c.exists(ctx, topicPath(topic))
		if err == nil {
			return fmt.Errorf("create topic %s: %w", topic, ErrTopicExists)
		}
		if !errors.Is(err, zk.ErrNoNode) {
			return fmt.Errorf("create topic %s: %w", topic, wrap("read", topicPath(topic), err))
		}
		cfgOp := any(c.opCreate(topicConfigPath(topic), encodeConfig(configs), 0))
		if _, err := c.exists(ctx, topicConfigPath(topic)); err == nil {
			cfgOp = c.opSet(topicConfigPath(topic), encodeConfig(configs), -1)
		} else if !errors.Is(err, zk.ErrNoNode) {
			return fmt.Errorf("create topic %s: %w", topic, wrap("read", topicConfigPath(topic), err))
		}
		ops := []any{cfgOp, c.opCreate(topicPath(topic), encodeTopic(a), 0)}
		res, err := c.multi(ctx, ops...)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("create topic %s: %w", topic, ctx.Err())
		}
		switch {
		case errors.Is(err, zk.ErrNodeExists) && len(res) == 2 && errors.Is(res[1].Error, zk.ErrNodeExists):
			return fmt.Errorf("create topic %s: %w", topic, ErrTopicExists)
		case errors.Is(err, zk.ErrNodeExists), errors.Is(err, zk.ErrNoNode):
			continue // the config znode came or went in between
		}
		return fmt.Errorf("create topic %s: %w", topic, c.failedOp(ops, res, err))
	}
}

// SetTopic rewrites a topic's assignment if its zkVersion is still
// a.ZkVersion (adding partitions, adding a topic id), fenced by the
// controller epoch. A changed znode is ErrBadVersion.
func (c *Client) SetTopic(ctx context.Context, ce ControllerEpoch, topic string, a TopicAssignment) error {
	if err := validTopicName(topic); err != nil {
		return err
	}
	_, err := c.fenced(ctx, ce, c.opSet(topicPath(topic), encodeTopic(a), a.ZkVersion))
	if err != nil {
		return fmt.Errorf("set topic %s: %w", topic, err)
	}
	return nil
}

// TopicConfig reads /config/topics/<t>; missing means no overrides.
func (c *Client) TopicConfig(ctx context.Context, topic string) (map[string]string, error) {
	if err := validTopicName(topic); err != nil {
		return nil, err
	}
	data, _, err := c.get(ctx, topicConfigPath(topic))
	if errors.Is(err, zk.ErrNoNode) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, wrap("read", topicConfigPath(topic), err)
	}
	return decodeConfig(topicConfigPath(topic), data)
}

// PartitionState reads a partition's state znode; ErrNoNode when missing.
func (c *Client) PartitionState(ctx context.Context, topic string, partition int32) (LeaderAndIsr, error) {
	if err := validTopicName(topic); err != nil {
		return LeaderAndIsr{}, err
	}
	p := statePath(topic, partition)
	data, stat, err := c.get(ctx, p)
	if err != nil {
		return LeaderAndIsr{}, wrap("read", p, err)
	}
	s, err := decodeState(p, data)
	if err != nil {
		return LeaderAndIsr{}, err
	}
	s.ZkVersion = stat.Version
	return s, nil
}

// partitionStateReads bounds the state reads PartitionStates keeps in
// flight. go-zookeeper pipelines requests on its one connection, so a few
// dozen outstanding reads hide the round trip (a broker start reads one
// state znode per partition) without queueing thousands at ZooKeeper.
const partitionStateReads = 32

// PartitionStates reads the state znodes of partitions of topic
// concurrently. A partition without a state znode is absent from the
// result; any other failure fails the whole call.
func (c *Client) PartitionStates(ctx context.Context, topic string, partitions []int32) (map[int32]LeaderAndIsr, error) {
	if err := validTopicName(topic); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		out      = make(map[int32]LeaderAndIsr, len(partitions))
		firstErr error
		wg       sync.WaitGroup
	)
	sem := make(chan struct{}, partitionStateReads)
	for _, p := range partitions {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			st, err := c.PartitionState(ctx, topic, p)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, ErrNoNode):
			case err != nil:
				if firstErr == nil {
					firstErr = err
					cancel()
				}
			default:
				out[p] = st
			}
		}()
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = fmt.Errorf("read partition states of %s: %w", topic, ctx.Err())
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return out, nil
}

// CreatePartitionStates creates the partitions container znodes and each
// state znode, fenced by the controller epoch (CheckOp on /controller_epoch).
// Existing state znodes are left alone. New state znodes have zkVersion 0.
//
// For a new topic everything is created in one multi per 200 operations;
// if some znodes already exist, partitions are created one by one.
func (c *Client) CreatePartitionStates(ctx context.Context, ce ControllerEpoch, topic string, states map[int32]LeaderAndIsr) error {
	if err := validTopicName(topic); err != nil {
		return err
	}
	return c.retrying(ctx, func() error { return c.createPartitionStates(ctx, ce, topic, states) })
}

func (c *Client) createPartitionStates(ctx context.Context, ce ControllerEpoch, topic string, states map[int32]LeaderAndIsr) error {
	parts := make([]int32, 0, len(states))
	for p := range states {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })

	if _, err := c.fenced(ctx, ce, c.opCreate(partitionsPath(topic), nil, 0)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return fmt.Errorf("create partition states of %s: %w", topic, err)
	}
	for len(parts) > 0 {
		n := min(len(parts), multiChunk/2)
		chunk := parts[:n]
		parts = parts[n:]
		var ops []any
		for _, p := range chunk {
			ops = append(ops,
				c.opCreate(partitionPath(topic, p), nil, 0),
				c.opCreate(statePath(topic, p), encodeState(states[p]), 0))
		}
		_, err := c.fenced(ctx, ce, ops...)
		if err == nil {
			continue
		}
		if !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("create partition states of %s: %w", topic, err)
		}
		for _, p := range chunk {
			if err := c.createPartitionState(ctx, ce, topic, p, states[p]); err != nil {
				return err
			}
		}
	}
	return nil
}

// createPartitionState creates one partition's znodes, keeping any that
// exist.
func (c *Client) createPartitionState(ctx context.Context, ce ControllerEpoch, topic string, p int32, s LeaderAndIsr) error {
	_, err := c.fenced(ctx, ce, c.opCreate(partitionPath(topic, p), nil, 0))
	if err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return fmt.Errorf("create %s: %w", partitionPath(topic, p), err)
	}
	_, err = c.fenced(ctx, ce, c.opCreate(statePath(topic, p), encodeState(s), 0))
	if err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return fmt.Errorf("create %s: %w", statePath(topic, p), err)
	}
	return nil
}

// UpdatePartitionState conditionally rewrites a state znode (expected
// version s.ZkVersion), fenced by the controller epoch, and returns the new
// zkVersion. A changed znode is ErrBadVersion (Kafka answers
// INVALID_UPDATE_VERSION); a missing one ErrNoNode.
func (c *Client) UpdatePartitionState(ctx context.Context, ce ControllerEpoch, topic string, partition int32, s LeaderAndIsr) (int32, error) {
	if err := validTopicName(topic); err != nil {
		return 0, err
	}
	res, err := c.fenced(ctx, ce, c.opSet(statePath(topic, partition), encodeState(s), s.ZkVersion))
	if err != nil {
		return 0, fmt.Errorf("update partition state %s-%d: %w", topic, partition, err)
	}
	return res[0].Stat.Version, nil
}

// MarkTopicForDeletion creates /admin/delete_topics/<t> (no data). A topic
// already marked is not an error.
func (c *Client) MarkTopicForDeletion(ctx context.Context, topic string) error {
	if err := validTopicName(topic); err != nil {
		return err
	}
	err := c.retrying(ctx, func() error { return c.create(ctx, deleteMarkerPath(topic), nil, 0) })
	if err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return wrap("create", deleteMarkerPath(topic), err)
	}
	return nil
}

// WatchTopicDeletions lists /admin/delete_topics with a child watch.
// The channel is closed as WatchTopics' is.
func (c *Client) WatchTopicDeletions(ctx context.Context) ([]string, <-chan struct{}, error) {
	names, ev, err := c.childrenW(ctx, deleteTopicsPath)
	if err != nil {
		return nil, nil, wrap("watch", deleteTopicsPath, err)
	}
	sort.Strings(names)
	return names, c.fireOnce(ctx, ev), nil
}

// DeleteTopic removes /brokers/topics/<t> recursively, /config/topics/<t>
// and /admin/delete_topics/<t>, fenced by the controller epoch.
//
// The znodes under the topic go first, in fenced multis of up to 200
// deletions (children before parents); the topic, its config and its
// deletion marker then go together in one last fenced multi. Znodes that
// are already gone are skipped, so a repeated or interrupted deletion
// finishes the job.
func (c *Client) DeleteTopic(ctx context.Context, ce ControllerEpoch, topic string) error {
	if err := validTopicName(topic); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		err := c.retrying(ctx, func() error { return c.deleteTopicOnce(ctx, ce, topic) })
		if err == nil || errors.Is(err, ErrControllerMoved) || ctx.Err() != nil || attempt >= 5 {
			if err != nil {
				return fmt.Errorf("delete topic %s: %w", topic, err)
			}
			return nil
		}
		// A znode appeared or vanished while we deleted: look again.
	}
}

func (c *Client) deleteTopicOnce(ctx context.Context, ce ControllerEpoch, topic string) error {
	var below []string // post-order: children before parents
	if err := c.collect(ctx, topicPath(topic), &below); err != nil {
		return err
	}
	var ops []any
	for _, p := range below {
		ops = append(ops, c.opDelete(p, -1))
		if len(ops) == multiChunk {
			if _, err := c.fenced(ctx, ce, ops...); err != nil {
				return err
			}
			ops = nil
		}
	}
	if len(ops) > 0 {
		if _, err := c.fenced(ctx, ce, ops...); err != nil {
			return err
		}
	}
	var last []any
	for _, p := range []string{topicPath(topic), topicConfigPath(topic), deleteMarkerPath(topic)} {
		if _, err := c.exists(ctx, p); err == nil {
			last = append(last, c.opDelete(p, -1))
		} else if !errors.Is(err, zk.ErrNoNode) {
			return wrap("read", p, err)
		}
	}
	if len(last) == 0 {
		return nil
	}
	_, err := c.fenced(ctx, ce, last...)
	return err
}

// collect appends every znode strictly below p, deepest first.
func (c *Client) collect(ctx context.Context, p string, out *[]string) error {
	kids, err := c.children(ctx, p)
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		return wrap("list", p, err)
	}
	sort.Strings(kids)
	for _, k := range kids {
		child := p + "/" + k
		if err := c.collect(ctx, child, out); err != nil {
			return err
		}
		*out = append(*out, child)
	}
	return nil
}

// WatchTopic reads a topic's assignment with a data watch: the channel is
// closed once the znode changes or is deleted (the controller's
// PartitionModificationsHandler, which notices partitions added by
// CreatePartitions or by ZooKeeper-era tools), when the watch is lost, or
// when ctx ends. ErrNoNode when the topic does not exist.
func (c *Client) WatchTopic(ctx context.Context, topic string) (TopicAssignment, <-chan struct{}, error) {
	if err := validTopicName(topic); err != nil {
		return TopicAssignment{}, nil, err
	}
	type watched struct {
		data []byte
		stat *zk.Stat
		ev   <-chan zk.Event
	}
	var w watched
	err := c.retrying(ctx, func() (err error) {
		w, err = call(ctx, func() (watched, error) {
			data, stat, ev, err := c.conn.GetW(c.abs(topicPath(topic)))
			return watched{data, stat, ev}, err
		})
		return err
	})
	if err != nil {
		return TopicAssignment{}, nil, wrap("watch", topicPath(topic), err)
	}
	a, err := decodeTopic(topic, w.data)
	if err != nil {
		return TopicAssignment{}, c.fireOnce(ctx, w.ev), err
	}
	a.ZkVersion = w.stat.Version
	return a, c.fireOnce(ctx, w.ev), nil
}
