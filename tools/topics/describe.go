package topics

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/gokafka/gokafka/zkmeta"
)

// partitionInfo is one partition as --describe prints it.
type partitionInfo struct {
	ID       int32
	Leader   int32 // -1: none
	Replicas []int32
	ISR      []int32
	// Adding and Removing are an ongoing reassignment (nil: none).
	Adding, Removing []int32
	reassigning      bool
}

// configEntry is a topic config that is not a default.
type configEntry struct{ Name, Value string }

// topicInfo is one topic as --describe prints it.
type topicInfo struct {
	Name       string
	ID         [16]byte
	Partitions []partitionInfo // sorted by ID
	// Configs are the non-default configs, in the order the source gave.
	Configs []configEntry
	// MinISR is the effective min.insync.replicas, for the ISR filters.
	MinISR int
	// MarkedForDeletion is known only with --zookeeper.
	MarkedForDeletion bool
}

// describeFilter is the --describe report options.
type describeFilter struct {
	underReplicated, unavailable, underMinISR, atMinISR, withOverrides bool
}

// configs says whether the topic line is printed: only without a
// partition report option (TopicCommand's describeConfigs).
func (f describeFilter) configs() bool {
	return !f.underReplicated && !f.unavailable && !f.underMinISR && !f.atMinISR
}

// replicationFactor is the partition's replication factor; during a
// reassignment the adding replicas do not count (TopicCommand's
// getReplicationFactor).
func (p partitionInfo) replicationFactor() int {
	if p.reassigning {
		return len(p.Replicas) - len(p.Adding)
	}
	return len(p.Replicas)
}

func (f describeFilter) printPartition(p partitionInfo, minISR int, live map[int32]bool) bool {
	hasLeader := p.Leader >= 0
	return f.configs() ||
		f.underReplicated && p.replicationFactor()-len(p.ISR) > 0 ||
		f.unavailable && (!hasLeader || !live[p.Leader]) ||
		f.underMinISR && (!hasLeader || len(p.ISR) < minISR) ||
		f.atMinISR && len(p.ISR) == minISR
}

// writeDescription prints topics as kafka-topics.sh --describe does: a
// tab-separated topic line, then one line per partition that passes the
// filter, each starting with a tab.
func writeDescription(w io.Writer, topics []topicInfo, f describeFilter, live map[int32]bool) {
	for _, t := range topics {
		if len(t.Partitions) == 0 {
			continue
		}
		if f.configs() && (!f.withOverrides || len(t.Configs) > 0) {
			var b strings.Builder
			b.WriteString("Topic: " + t.Name)
			if t.ID != ([16]byte{}) {
				b.WriteString("\tTopicId: " + zkmeta.FormatUUID(t.ID))
			}
			fmt.Fprintf(&b, "\tPartitionCount: %d\tReplicationFactor: %d\tConfigs: ", len(t.Partitions), t.Partitions[0].replicationFactor())
			for i, c := range t.Configs {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(c.Name + "=" + c.Value)
			}
			if t.MarkedForDeletion {
				b.WriteString("\tMarkedForDeletion: true")
			}
			fmt.Fprintln(w, b.String())
		}
		if f.withOverrides {
			continue
		}
		for _, p := range t.Partitions {
			if !f.printPartition(p, t.MinISR, live) {
				continue
			}
			leader := "none"
			if p.Leader >= 0 {
				leader = strconv.Itoa(int(p.Leader))
			}
			line := fmt.Sprintf("\tTopic: %s\tPartition: %d\tLeader: %s\tReplicas: %s\tIsr: %s", t.Name, p.ID, leader, joinIDs(p.Replicas), joinIDs(p.ISR))
			if p.reassigning {
				line += "\tAdding Replicas: " + joinIDs(p.Adding) + "\tRemoving Replicas: " + joinIDs(p.Removing)
			}
			if t.MarkedForDeletion {
				line += "\tMarkedForDeletion: true"
			}
			fmt.Fprintln(w, line)
		}
	}
}

func joinIDs(ids []int32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(int(id))
	}
	return strings.Join(s, ",")
}

// internalTopics are Kafka's internal topics (Topic.isInternal).
var internalTopics = map[string]bool{"__consumer_offsets": true, "__transaction_state": true}

// filterTopics selects from sorted names those --topic matches (a regular
// expression that must match the whole name; commas separate
// alternatives, as TopicFilter.IncludeList reads it), without internal
// topics when excludeInternal.
func filterTopics(all []string, include string, excludeInternal bool) ([]string, error) {
	var match func(string) bool
	if include != "" {
		re, err := includeRegexp(include)
		if err != nil {
			return nil, err
		}
		match = re.MatchString
	}
	var out []string
	for _, t := range all {
		if excludeInternal && internalTopics[t] {
			continue
		}
		if match != nil && !match(t) {
			continue
		}
		out = append(out, t)
	}
	slices.Sort(out)
	return out, nil
}
