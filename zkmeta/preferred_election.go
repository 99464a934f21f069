package zkmeta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-zookeeper/zk"
)

// preferredElectionPath is where ZooKeeper-era tools
// (kafka-preferred-replica-election.sh --zookeeper) ask the controller to
// move leadership back to the preferred replicas (Kafka's
// PreferredReplicaElectionZNode). The controller watches for its creation,
// runs the elections and deletes it.
const preferredElectionPath = "/admin/preferred_replica_election"

// ErrMalformedPreferredElection is the error for a
// /admin/preferred_replica_election znode that does not parse.
var ErrMalformedPreferredElection = errors.New("malformed preferred replica election request")

// PartitionName names a partition in an admin znode.
type PartitionName struct {
	Topic     string
	Partition int32
}

// WatchPreferredElection sets an exists watch on
// /admin/preferred_replica_election (fired by its creation, change or
// deletion) and, when it exists, returns the partitions it lists.
// Malformed data is ErrMalformedPreferredElection with exists true, so that the caller can
// delete the znode.
func (c *Client) WatchPreferredElection(ctx context.Context) (parts []PartitionName, exists bool, changed <-chan struct{}, err error) {
	type watched struct {
		ok bool
		ev <-chan zk.Event
	}
	r, err := call(ctx, func() (watched, error) {
		ok, _, ev, err := c.conn.ExistsW(c.abs(preferredElectionPath))
		return watched{ok, ev}, err
	})
	if err != nil {
		return nil, false, nil, wrap("watch", preferredElectionPath, err)
	}
	changed = c.fireOnce(ctx, r.ev)
	if !r.ok {
		return nil, false, changed, nil
	}
	data, _, err := c.get(ctx, preferredElectionPath)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, false, changed, nil // deleted in between: the watch fires
	}
	if err != nil {
		return nil, false, changed, wrap("read", preferredElectionPath, err)
	}
	parts, err = DecodePreferredElection(data)
	return parts, true, changed, err
}

// DecodePreferredElection parses the znode's JSON,
// {"version":1,"partitions":[{"topic":"t","partition":0},...]}, keeping
// the first of duplicate entries. Like Kafka's decoder it needs the
// partitions array; a partition with an invalid topic name or a negative
// number makes the whole znode malformed.
func DecodePreferredElection(data []byte) ([]PartitionName, error) {
	var v struct {
		Partitions *[]struct {
			Topic     *string `json:"topic"`
			Partition *int32  `json:"partition"`
		} `json:"partitions"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformedPreferredElection, preferredElectionPath, err)
	}
	if v.Partitions == nil {
		return nil, fmt.Errorf("%w: %s: no partitions", ErrMalformedPreferredElection, preferredElectionPath)
	}
	seen := map[PartitionName]bool{}
	var out []PartitionName
	for _, p := range *v.Partitions {
		if p.Topic == nil || p.Partition == nil || *p.Partition < 0 || validTopicName(*p.Topic) != nil {
			return nil, fmt.Errorf("%w: %s: a partition without a valid topic and number", ErrMalformedPreferredElection, preferredElectionPath)
		}
		n := PartitionName{*p.Topic, *p.Partition}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, nil
}

// DeletePreferredElection removes /admin/preferred_replica_election once
// its elections ran, fenced by the controller epoch (Kafka's
// deletePreferredReplicaElection). Already gone is not an error.
func (c *Client) DeletePreferredElection(ctx context.Context, ce ControllerEpoch) error {
	_, err := c.fenced(ctx, ce, c.opDelete(preferredElectionPath, -1))
	if err != nil && !errors.Is(err, ErrNoNode) {
		return fmt.Errorf("delete %s: %w", preferredElectionPath, err)
	}
	return nil
}

// RequestPreferredElection writes /admin/preferred_replica_election as
// Kafka 2.x's kafka-preferred-replica-election.sh --zookeeper does;
// an error wrapping zk.ErrNodeExists while an earlier request is still
// pending.
func (c *Client) RequestPreferredElection(ctx context.Context, parts []PartitionName) error {
	type entry struct {
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
	}
	v := struct {
		Version    int     `json:"version"`
		Partitions []entry `json:"partitions"`
	}{Version: 1, Partitions: []entry{}}
	for _, p := range parts {
		v.Partitions = append(v.Partitions, entry(p))
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", preferredElectionPath, err)
	}
	if err := c.ensurePath(ctx, "/admin"); err != nil {
		return wrap("create", "/admin", err)
	}
	if err := c.create(ctx, preferredElectionPath, data, 0); err != nil {
		return wrap("create", preferredElectionPath, err)
	}
	return nil
}
