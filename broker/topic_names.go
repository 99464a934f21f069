package broker

import (
	"fmt"
	"sort"
	"strings"
)

// maxTopicNameLength is Kafka's limit (249: a partition directory name
// "<topic>-<partition>" plus suffixes must fit in 255 bytes).
const maxTopicNameLength = 249

// validateTopicName applies Kafka's topic name rules (Topic.validate):
// 1..249 characters of [a-zA-Z0-9._-], and not "." or "..". The message is
// Kafka's, returned to clients with INVALID_TOPIC_EXCEPTION.
func validateTopicName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("Topic name is illegal, it can't be empty")
	case name == "." || name == "..":
		return fmt.Errorf("Topic name cannot be \".\" or \"..\"")
	case len(name) > maxTopicNameLength:
		return fmt.Errorf("Topic name is illegal, it can't be longer than %d characters, topic name: %s", maxTopicNameLength, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("Topic name %q is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'", name)
		}
	}
	return nil
}

// collidingTopic returns an existing topic whose name equals name once
// '.' and '_' are treated alike (their metric names would collide), as
// Kafka refuses such topics.
func (s *Server) collidingTopic(name string) (string, bool) {
	norm := func(n string) string { return strings.ReplaceAll(n, ".", "_") }
	if !strings.ContainsAny(name, "._") {
		return "", false
	}
	for n := range s.meta.topicNames() {
		if n != name && norm(n) == norm(name) {
			return n, true
		}
	}
	return "", false
}

// liveBrokerIDs returns the registered broker ids, sorted, always
// including this broker.
func (s *Server) liveBrokerIDs() []int32 {
	bs, _ := s.meta.brokerList()
	ids := []int32{s.cfg.BrokerID}
	for _, b := range bs {
		if b.ID != s.cfg.BrokerID {
			ids = append(ids, b.ID)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// checkReplicaList validates one explicit replica list against the live
// brokers: non-empty, no duplicates, known brokers. The message is
// returned with INVALID_REPLICA_ASSIGNMENT.
func checkReplicaList(p int32, replicas []int32, live []int32) error {
	if len(replicas) == 0 {
		return fmt.Errorf("Replica list for partition %d is empty.", p)
	}
	seen := make(map[int32]bool, len(replicas))
	var unknown []string
	for _, r := range replicas {
		if seen[r] {
			return fmt.Errorf("Duplicate brokers not allowed in replica assignment: %s for partition id %d.", joinInt32(replicas), p)
		}
		seen[r] = true
		known := false
		for _, b := range live {
			known = known || b == r
		}
		if !known {
			unknown = append(unknown, fmt.Sprint(r))
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("Unknown broker(s) in replica assignment: %s.", strings.Join(unknown, ", "))
	}
	return nil
}

func joinInt32(xs []int32) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprint(x)
	}
	return strings.Join(parts, ", ")
}
