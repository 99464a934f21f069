package zkmeta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/go-zookeeper/zk"
)

// reassignPartitionsPath is where ZooKeeper-era tools (Kafka 2.x's
// kafka-reassign-partitions.sh --zookeeper --execute) ask the controller to
// move replicas (Kafka's ReassignPartitionsZNode). The controller carries
// the listed reassignments out, removes each partition from the znode when
// it is done, and deletes the znode when none is left.
const reassignPartitionsPath = "/admin/reassign_partitions"

// PartitionReassignment is one entry of /admin/reassign_partitions: the
// replicas a partition is to have.
type PartitionReassignment struct {
	Topic     string
	Partition int32
	Replicas  []int32
}

// reassignJSON is {"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2]}]}.
type reassignJSON struct {
	Version    int `json:"version"`
	Partitions []struct {
		Topic     string  `json:"topic"`
		Partition int32   `json:"partition"`
		Replicas  []int32 `json:"replicas"`
	} `json:"partitions"`
}

// EncodePartitionReassignments writes the znode's JSON as Kafka's
// ReassignPartitionsZNode.encode does (version 1).
func EncodePartitionReassignments(rs []PartitionReassignment) []byte {
	v := reassignJSON{Version: 1}
	v.Partitions = make([]struct {
		Topic     string  `json:"topic"`
		Partition int32   `json:"partition"`
		Replicas  []int32 `json:"replicas"`
	}, len(rs))
	for i, r := range rs {
		v.Partitions[i].Topic = r.Topic
		v.Partitions[i].Partition = r.Partition
		v.Partitions[i].Replicas = r.Replicas
		if r.Replicas == nil {
			v.Partitions[i].Replicas = []int32{}
		}
	}
	b, _ := json.Marshal(v)
	return b
}

// DecodePartitionReassignments parses the znode. As Kafka's decoder, it
// reads the partitions whatever the version says, and a partition listed
// twice keeps its last entry. Entries without a topic name or with a
// negative partition are an error: they cannot name a partition.
func DecodePartitionReassignments(data []byte) ([]PartitionReassignment, error) {
	var v reassignJSON
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("decode %s: %w", reassignPartitionsPath, err)
	}
	if v.Partitions == nil {
		return nil, fmt.Errorf("decode %s: no partitions in %q", reassignPartitionsPath, data)
	}
	type key struct {
		t string
		p int32
	}
	at := map[key]int{}
	var out []PartitionReassignment
	for _, p := range v.Partitions {
		if validTopicName(p.Topic) != nil || p.Partition < 0 {
			return nil, fmt.Errorf("decode %s: bad partition %q-%d", reassignPartitionsPath, p.Topic, p.Partition)
		}
		r := PartitionReassignment{Topic: p.Topic, Partition: p.Partition, Replicas: p.Replicas}
		if r.Replicas == nil {
			r.Replicas = []int32{}
		}
		k := key{p.Topic, p.Partition}
		if i, ok := at[k]; ok {
			out[i] = r
			continue
		}
		at[k] = len(out)
		out = append(out, r)
	}
	return out, nil
}

// ReassignPartitionsZnode is what WatchPartitionReassignments read.
type ReassignPartitionsZnode struct {
	// Exists is false when there is no znode.
	Exists bool
	// Czxid identifies one creation of the znode, so a watcher can tell a
	// new request from a rewrite of one it already handles.
	Czxid int64
	// Reassignments are the entries; nil with a non-nil Err when the data
	// does not parse.
	Reassignments []PartitionReassignment
	// Err is the decoding error of a znode that does not parse.
	Err error
}

// WatchPartitionReassignments reads /admin/reassign_partitions with an
// exists watch: the channel is closed once the znode is created, changed
// or deleted, when the watch is lost, or when ctx ends.
func (c *Client) WatchPartitionReassignments(ctx context.Context) (ReassignPartitionsZnode, <-chan struct{}, error) {
	type watched struct {
		ok   bool
		stat *zk.Stat
		ev   <-chan zk.Event
	}
	var w watched
	err := c.retrying(ctx, func() (err error) {
		w, err = call(ctx, func() (watched, error) {
			ok, stat, ev, err := c.conn.ExistsW(c.abs(reassignPartitionsPath))
			return watched{ok, stat, ev}, err
		})
		return err
	})
	if err != nil {
		return ReassignPartitionsZnode{}, nil, wrap("watch", reassignPartitionsPath, err)
	}
	ch := c.fireOnce(ctx, w.ev)
	if !w.ok {
		return ReassignPartitionsZnode{}, ch, nil
	}
	data, stat, err := c.get(ctx, reassignPartitionsPath)
	if errors.Is(err, zk.ErrNoNode) {
		return ReassignPartitionsZnode{}, ch, nil // gone again: the watch fires
	}
	if err != nil {
		return ReassignPartitionsZnode{}, ch, wrap("read", reassignPartitionsPath, err)
	}
	z := ReassignPartitionsZnode{Exists: true, Czxid: stat.Czxid}
	z.Reassignments, z.Err = DecodePartitionReassignments(data)
	return z, ch, nil
}

// PartitionReassignments reads /admin/reassign_partitions; ErrNoNode when
// there is none.
func (c *Client) PartitionReassignments(ctx context.Context) ([]PartitionReassignment, error) {
	data, _, err := c.get(ctx, reassignPartitionsPath)
	if err != nil {
		return nil, wrap("read", reassignPartitionsPath, err)
	}
	return DecodePartitionReassignments(data)
}

// ErrReassignmentInProgress is returned by CreatePartitionReassignments when
// /admin/reassign_partitions already exists.
var ErrReassignmentInProgress = errors.New("a partition reassignment is already in progress (/admin/reassign_partitions exists)")

// CreatePartitionReassignments creates /admin/reassign_partitions, as a
// ZooKeeper-era tool does (not fenced: the tool is not a controller);
// ErrReassignmentInProgress when it exists.
func (c *Client) CreatePartitionReassignments(ctx context.Context, rs []PartitionReassignment) error {
	if err := c.ensurePath(ctx, "/admin"); err != nil {
		return err
	}
	err := c.create(ctx, reassignPartitionsPath, EncodePartitionReassignments(rs), 0)
	if errors.Is(err, zk.ErrNodeExists) {
		return ErrReassignmentInProgress
	}
	return wrap("create", reassignPartitionsPath, err)
}

// SetPartitionReassignments rewrites /admin/reassign_partitions with the
// entries still to do, or deletes it when none is left, fenced by the
// controller epoch (Kafka's setOrCreatePartitionReassignment and
// deletePartitionReassignment). A znode already gone is not an error.
func (c *Client) SetPartitionReassignments(ctx context.Context, ce ControllerEpoch, rs []PartitionReassignment) error {
	op := any(c.opDelete(reassignPartitionsPath, -1))
	if len(rs) > 0 {
		op = c.opSet(reassignPartitionsPath, EncodePartitionReassignments(rs), -1)
	}
	_, err := c.fenced(ctx, ce, op)
	if err != nil && !errors.Is(err, ErrNoNode) {
		return fmt.Errorf("update %s: %w", reassignPartitionsPath, err)
	}
	return nil
}

// SortPartitionReassignments orders entries by topic, then partition.
func SortPartitionReassignments(rs []PartitionReassignment) {
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].Topic != rs[j].Topic {
			return rs[i].Topic < rs[j].Topic
		}
		return rs[i].Partition < rs[j].Partition
	})
}
