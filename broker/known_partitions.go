package broker

import "github.com/twmb/franz-go/pkg/kerr"

// partitionSet is a set of partitions by topic.
type partitionSet map[string]map[int32]bool

func (ps partitionSet) add(topic string, p int32) {
	if ps[topic] == nil {
		ps[topic] = make(map[int32]bool)
	}
	ps[topic][p] = true
}

func (ps partitionSet) has(topic string, p int32) bool { return ps[topic][p] }

// partitionCodes are per-partition error codes by topic, gathered from a
// coordinator's answer so they can be merged back in request order.
type partitionCodes map[string]map[int32]int16

func (pc partitionCodes) set(topic string, p int32, code int16) {
	if pc[topic] == nil {
		pc[topic] = make(map[int32]int16)
	}
	pc[topic][p] = code
}

// answer is a partition's code in the merged answer:
// UNKNOWN_TOPIC_OR_PARTITION when splitKnownPartitions set it aside, else
// the coordinator's.
func (pc partitionCodes) answer(unknown partitionSet, topic string, p int32) int16 {
	if unknown.has(topic, p) {
		return kerr.UnknownTopicOrPartition.Code
	}
	return pc[topic][p]
}

// splitKnownPartitions keeps, of a request's topics, the partitions the
// metadata cache knows and returns the others as a set. OffsetCommit and
// OffsetDelete both answer UNKNOWN_TOPIC_OR_PARTITION for partitions that do
// not exist, as Kafka does, and hand only the rest to the coordinator. The
// accessors let one function serve both requests' generated types.
func splitKnownPartitions[T, P any](s *Server, topics []T, name func(*T) string, parts func(*T) *[]P, partition func(*P) int32) (known []T, unknown partitionSet) {
	unknown = make(partitionSet)
	for i := range topics {
		kt := topics[i]
		all := *parts(&kt)
		var keep []P
		for j := range all {
			if s.partitionExists(name(&kt), partition(&all[j])) {
				keep = append(keep, all[j])
			} else {
				unknown.add(name(&kt), partition(&all[j]))
			}
		}
		if len(keep) > 0 {
			*parts(&kt) = keep
			known = append(known, kt)
		}
	}
	return known, unknown
}

// partitionExists reports whether topic has partition p in the metadata
// cache.
func (s *Server) partitionExists(topic string, p int32) bool {
	tm, ok := s.meta.topic(topic)
	if !ok {
		return false
	}
	_, ok = tm.Partitions[p]
	return ok
}
