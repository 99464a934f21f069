package topics

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/gokafka/gokafka/broker"
	"github.com/gokafka/gokafka/zkmeta"
)

// zkConnectTimeout bounds the wait for a ZooKeeper session, as Kafka 2.x's
// tool waited zookeeper.connection.timeout.ms.
const zkConnectTimeout = 30 * time.Second

// zkBackend writes and reads Kafka's znodes directly, as Kafka 2.x's
// TopicCommand did with --zookeeper. It validates what CreateTopics would
// (name, configs, replication factor against the registered brokers) with
// the broker's own rules, since no broker sees the request.
type zkBackend struct{ zk *zkmeta.Client }

func newZKBackend(ctx context.Context, connect string) (*zkBackend, error) {
	c, err := zkmeta.Connect(ctx, zkmeta.Config{Connect: connect, ConnectTimeout: zkConnectTimeout, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("connect to zookeeper %s: %w", connect, err)
	}
	return &zkBackend{zk: c}, nil
}

func (b *zkBackend) close() { b.zk.Close() }

func (b *zkBackend) list(ctx context.Context) ([]string, error) {
	return b.zk.Topics(ctx)
}

// marked returns the topics marked for deletion, which 2.x's --list and
// --describe flag.
func (b *zkBackend) marked(ctx context.Context) (map[string]bool, error) {
	names, err := b.zk.TopicsMarkedForDeletion(ctx)
	if err != nil {
		return nil, err
	}
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m, nil
}

func (b *zkBackend) create(ctx context.Context, s createSpec) error {
	if err := broker.ValidateTopicName(s.name); err != nil {
		return err
	}
	if err := broker.ValidateTopicConfigs(s.configs); err != nil {
		return err
	}
	existing, err := b.zk.Topics(ctx)
	if err != nil {
		return err
	}
	if slices.Contains(existing, s.name) {
		return fmt.Errorf("Topic '%s' already exists.", s.name)
	}
	norm := func(n string) string { return strings.ReplaceAll(n, ".", "_") }
	var colliding []string
	for _, t := range existing {
		if norm(t) == norm(s.name) {
			colliding = append(colliding, t)
		}
	}
	if len(colliding) > 0 {
		return fmt.Errorf("Topic '%s' collides with existing topics: %s", s.name, strings.Join(colliding, ", "))
	}
	a := zkmeta.TopicAssignment{Partitions: map[int32][]int32{}}
	if s.assignment != nil {
		for p, rs := range s.assignment {
			a.Partitions[int32(p)] = rs
		}
	} else {
		brokers, err := b.zk.Brokers(ctx)
		if err != nil {
			return err
		}
		if int(s.replicationFactor) > len(brokers) {
			return fmt.Errorf("Replication factor: %d larger than available brokers: %d.", s.replicationFactor, len(brokers))
		}
		a.Partitions = broker.AssignReplicas(brokers, 0, s.partitions, int16(s.replicationFactor))
	}
	if err := b.zk.CreateTopic(ctx, s.name, a, s.configs); err != nil {
		if errors.Is(err, zkmeta.ErrTopicExists) {
			return fmt.Errorf("Topic '%s' already exists.", s.name)
		}
		return err
	}
	return nil
}

func (b *zkBackend) describe(ctx context.Context, names []string) ([]topicInfo, map[int32]bool, error) {
	brokers, err := b.zk.Brokers(ctx)
	if err != nil {
		return nil, nil, err
	}
	live := map[int32]bool{}
	for _, br := range brokers {
		live[br.ID] = true
	}
	marked, err := b.marked(ctx)
	if err != nil {
		return nil, nil, err
	}
	var out []topicInfo
	for _, name := range names {
		a, err := b.zk.Topic(ctx, name)
		if errors.Is(err, zkmeta.ErrNoNode) {
			continue // deleted since it was listed
		}
		if err != nil {
			return nil, nil, err
		}
		cfg, err := b.zk.TopicConfig(ctx, name)
		if err != nil {
			return nil, nil, err
		}
		ids := make([]int32, 0, len(a.Partitions))
		for p := range a.Partitions {
			ids = append(ids, p)
		}
		slices.Sort(ids)
		states, err := b.zk.PartitionStates(ctx, name, ids)
		if err != nil {
			return nil, nil, err
		}
		ti := topicInfo{Name: name, ID: a.TopicID, MinISR: 1, MarkedForDeletion: marked[name]}
		for _, k := range slices.Sorted(maps.Keys(cfg)) {
			ti.Configs = append(ti.Configs, configEntry{k, cfg[k]})
			if k == "min.insync.replicas" {
				if n, err := strconv.Atoi(cfg[k]); err == nil {
					ti.MinISR = n
				}
			}
		}
		for _, p := range ids {
			pi := partitionInfo{ID: p, Leader: -1, Replicas: a.Partitions[p]}
			if st, ok := states[p]; ok {
				pi.Leader, pi.ISR = st.Leader, st.ISR
			}
			if add, rem := a.AddingReplicas[p], a.RemovingReplicas[p]; len(add) > 0 || len(rem) > 0 {
				pi.reassigning, pi.Adding, pi.Removing = true, add, rem
			}
			ti.Partitions = append(ti.Partitions, pi)
		}
		out = append(out, ti)
	}
	return out, live, nil
}

func (b *zkBackend) partitionCount(ctx context.Context, topic string) (int, error) {
	a, err := b.zk.Topic(ctx, topic)
	if err != nil {
		return 0, err
	}
	return len(a.Partitions), nil
}

func (b *zkBackend) alter(ctx context.Context, topic string, count int32, assignment [][]int32) error {
	a, err := b.zk.Topic(ctx, topic)
	if err != nil {
		return err
	}
	have := int32(len(a.Partitions))
	if count <= have {
		return fmt.Errorf("The number of partitions for a topic can only be increased. Topic %s currently has %d partitions, %d would not be an increase.", topic, have, count)
	}
	if assignment != nil {
		if int32(len(assignment)) != count-have {
			return fmt.Errorf("Increasing the number of partitions by %d but %d assignments provided.", count-have, len(assignment))
		}
		for i, rs := range assignment {
			a.Partitions[have+int32(i)] = rs
		}
	} else {
		brokers, err := b.zk.Brokers(ctx)
		if err != nil {
			return err
		}
		rf := len(a.Partitions[0])
		if rf > len(brokers) {
			return fmt.Errorf("Replication factor: %d larger than available brokers: %d.", rf, len(brokers))
		}
		for p, rs := range broker.AssignReplicas(brokers, have, count-have, int16(rf)) {
			a.Partitions[p] = rs
		}
	}
	return b.zk.AddPartitions(ctx, topic, a)
}

func (b *zkBackend) delete(ctx context.Context, names []string) error {
	for _, n := range names {
		if err := b.zk.MarkTopicForDeletion(ctx, n); err != nil {
			return err
		}
	}
	return nil
}
