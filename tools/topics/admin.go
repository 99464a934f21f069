package topics

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// adminBackend runs the commands through a broker, as Kafka 3.x's tool
// does through its Admin client.
type adminBackend struct {
	cl  *kgo.Client
	adm *kadm.Client
	// timeoutMs is sent as the requests' timeout (the admin client's
	// default.api.timeout.ms).
	timeoutMs int32
}

func (b *adminBackend) close() { b.cl.Close() }

// codeError turns a response's error code and message into the error the
// Java admin client raises: the broker's message when it sent one, else
// Kafka's default message for the code.
func codeError(code int16, msg *string) error {
	if code == 0 {
		return nil
	}
	if msg != nil && *msg != "" {
		return &brokerError{code: code, msg: *msg}
	}
	if ke, ok := kerr.ErrorForCode(code).(*kerr.Error); ok {
		return &brokerError{code: code, msg: ke.Description}
	}
	return &brokerError{code: code, msg: fmt.Sprintf("error code %d", code)}
}

// brokerError is a per-topic error from the broker, printed by its message.
type brokerError struct {
	code int16
	msg  string
}

func (e *brokerError) Error() string { return e.msg }

func (e *brokerError) Is(target error) bool {
	ke, ok := target.(*kerr.Error)
	return ok && ke.Code == e.code
}

func (b *adminBackend) list(ctx context.Context) ([]string, error) {
	ts, err := b.adm.ListTopicsWithInternal(ctx)
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	if err := ts.Error(); err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	return ts.Names(), nil
}

func (b *adminBackend) create(ctx context.Context, s createSpec) error {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = b.timeoutMs
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic = s.name
	t.NumPartitions, t.ReplicationFactor = s.partitions, int16(s.replicationFactor)
	if s.assignment != nil {
		t.NumPartitions, t.ReplicationFactor = -1, -1
		for p, rs := range s.assignment {
			ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
			ra.Partition, ra.Replicas = int32(p), rs
			t.ReplicaAssignment = append(t.ReplicaAssignment, ra)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(s.configs)) {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = k, kmsg.StringPtr(s.configs[k])
		t.Configs = append(t.Configs, c)
	}
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, b.cl)
	if err != nil {
		return fmt.Errorf("create topic %s: %w", s.name, err)
	}
	for _, rt := range resp.Topics {
		if err := codeError(rt.ErrorCode, rt.ErrorMessage); err != nil {
			return err
		}
	}
	return nil
}

func (b *adminBackend) describe(ctx context.Context, names []string) ([]topicInfo, map[int32]bool, error) {
	md, err := b.adm.Metadata(ctx, names...)
	if err != nil {
		return nil, nil, fmt.Errorf("describe topics: %w", err)
	}
	live := map[int32]bool{}
	for _, br := range md.Brokers {
		live[br.NodeID] = true
	}
	cfgs, err := b.adm.DescribeTopicConfigs(ctx, names...)
	if err != nil && !errors.Is(err, kerr.UnknownTopicOrPartition) {
		return nil, nil, fmt.Errorf("describe topic configs: %w", err)
	}
	// A broker without reassignment support leaves the columns out, as
	// the Java tool does on UnsupportedVersion.
	reassign := map[string]map[int32]kadm.ListPartitionReassignmentsResponse{}
	set := kadm.TopicsSet{}
	for _, n := range names {
		for p := range md.Topics[n].Partitions {
			set.Add(n, p)
		}
	}
	if rs, err := b.adm.ListPartitionReassignments(ctx, set); err == nil {
		reassign = rs
	}
	var out []topicInfo
	for _, name := range names {
		td, ok := md.Topics[name]
		if !ok {
			continue
		}
		if td.Err != nil {
			return nil, nil, fmt.Errorf("%s: %w", name, td.Err)
		}
		ti := topicInfo{Name: name, ID: td.ID, MinISR: 1}
		for _, p := range td.Partitions.Sorted() {
			pi := partitionInfo{ID: p.Partition, Leader: p.Leader, Replicas: p.Replicas, ISR: p.ISR}
			if r, ok := reassign[name][p.Partition]; ok && (len(r.AddingReplicas) > 0 || len(r.RemovingReplicas) > 0) {
				pi.reassigning, pi.Adding, pi.Removing = true, r.AddingReplicas, r.RemovingReplicas
			}
			ti.Partitions = append(ti.Partitions, pi)
		}
		if rc, err := cfgs.On(name, nil); err == nil && rc.Err == nil {
			for _, c := range rc.Configs {
				if c.Key == "min.insync.replicas" && c.Value != nil {
					if n, err := strconv.Atoi(*c.Value); err == nil {
						ti.MinISR = n
					}
				}
				// ConfigEntry.isDefault: only the source DEFAULT_CONFIG
				// is left out.
				if c.Source == kmsg.ConfigSourceDefaultConfig {
					continue
				}
				v := ""
				if c.Value != nil {
					v = *c.Value
				}
				ti.Configs = append(ti.Configs, configEntry{c.Key, v})
			}
		}
		out = append(out, ti)
	}
	return out, live, nil
}

func (b *adminBackend) alter(ctx context.Context, topic string, count int32, assignment [][]int32) error {
	req := kmsg.NewPtrCreatePartitionsRequest()
	req.TimeoutMillis = b.timeoutMs
	t := kmsg.NewCreatePartitionsRequestTopic()
	t.Topic, t.Count = topic, count
	for _, rs := range assignment {
		a := kmsg.NewCreatePartitionsRequestTopicAssignment()
		a.Replicas = rs
		t.Assignment = append(t.Assignment, a)
	}
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, b.cl)
	if err != nil {
		return fmt.Errorf("create partitions %s: %w", topic, err)
	}
	for _, rt := range resp.Topics {
		if err := codeError(rt.ErrorCode, rt.ErrorMessage); err != nil {
			return err
		}
	}
	return nil
}

func (b *adminBackend) partitionCount(ctx context.Context, topic string) (int, error) {
	md, err := b.adm.Metadata(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("describe topic %s: %w", topic, err)
	}
	td, ok := md.Topics[topic]
	if !ok || td.Err != nil {
		return 0, fmt.Errorf("describe topic %s: %w", topic, td.Err)
	}
	return len(td.Partitions), nil
}

func (b *adminBackend) delete(ctx context.Context, names []string) error {
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TimeoutMillis = b.timeoutMs
	for _, n := range names {
		t := kmsg.NewDeleteTopicsRequestTopic()
		t.Topic = kmsg.StringPtr(n)
		req.Topics = append(req.Topics, t)
		req.TopicNames = append(req.TopicNames, n)
	}
	resp, err := req.RequestWith(ctx, b.cl)
	if err != nil {
		return fmt.Errorf("delete topics: %w", err)
	}
	for _, rt := range resp.Topics {
		if err := codeError(rt.ErrorCode, rt.ErrorMessage); err != nil {
			return err
		}
	}
	return nil
}
