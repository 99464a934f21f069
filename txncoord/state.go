package txncoord

import (
	"cmp"
	"slices"
)

// State is a transactional id's state, with the byte values Kafka stores in
// TransactionLogValue.TransactionStatus.
type State int8

// The states of Kafka's TransactionState.
const (
	Empty             State = 0
	Ongoing           State = 1
	PrepareCommit     State = 2
	PrepareAbort      State = 3
	CompleteCommit    State = 4
	CompleteAbort     State = 5
	Dead              State = 6
	PrepareEpochFence State = 7
)

var stateNames = [...]string{"Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit", "CompleteAbort", "Dead", "PrepareEpochFence"}

// String is the state's name as DescribeTransactions and ListTransactions
// report it (and as kafka-transactions.sh prints it).
func (s State) String() string {
	if s < 0 || int(s) >= len(stateNames) {
		return "Unknown"
	}
	return stateNames[s]
}

// ParseState is the inverse of String; ok is false for an unknown name.
func ParseState(name string) (State, bool) {
	i := slices.Index(stateNames[:], name)
	return State(i), i >= 0
}

// validPrevious lists, for each state, the states it may be entered from
// (Kafka's TransactionState.validPreviousStates). A transition outside this
// table is a bug in the coordinator, logged and refused.
var validPrevious = map[State][]State{
	Empty:             {Empty, CompleteCommit, CompleteAbort},
	Ongoing:           {Ongoing, Empty, CompleteCommit, CompleteAbort},
	PrepareCommit:     {Ongoing},
	PrepareAbort:      {Ongoing, PrepareEpochFence},
	CompleteCommit:    {PrepareCommit},
	CompleteAbort:     {PrepareAbort},
	Dead:              {Empty, CompleteCommit, CompleteAbort},
	PrepareEpochFence: {Ongoing},
}

// canTransition reports whether from -> to is a legal transition.
func canTransition(from, to State) bool {
	return slices.Contains(validPrevious[to], from)
}

// completed reports whether s is a state with no transaction in flight.
func (s State) completed() bool {
	return s == Empty || s == CompleteCommit || s == CompleteAbort
}

// TopicPartition names one partition of a transaction.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// Metadata is one transactional id's durable state: what one
// TransactionLogValue record holds, plus the previous producer id and epoch,
// which Kafka keeps in memory to recognise a retried InitProducerId.
type Metadata struct {
	ProducerID    int64
	ProducerEpoch int16
	// LastProducerID and LastProducerEpoch are the id and epoch before the
	// last bump (-1: none).
	LastProducerID    int64
	LastProducerEpoch int16
	TimeoutMs         int32
	State             State
	// Partitions are the transaction's partitions, sorted, no duplicates.
	Partitions   []TopicPartition
	LastUpdateMs int64
	// StartMs is when the ongoing transaction began (its first partition),
	// -1 when none is open.
	StartMs int64
}

// clone returns m with its own partition slice.
func (m Metadata) clone() Metadata {
	m.Partitions = slices.Clone(m.Partitions)
	return m
}

// hasPartitions reports whether every one of tps is in the transaction.
func (m Metadata) hasPartitions(tps []TopicPartition) bool {
	for _, tp := range tps {
		if _, ok := slices.BinarySearchFunc(m.Partitions, tp, CompareTopicPartitions); !ok {
			return false
		}
	}
	return true
}

// CompareTopicPartitions orders partitions by topic, then partition.
func CompareTopicPartitions(a, b TopicPartition) int {
	if c := cmp.Compare(a.Topic, b.Topic); c != 0 {
		return c
	}
	return cmp.Compare(a.Partition, b.Partition)
}

// normalize sorts tps and drops duplicates.
func normalize(tps []TopicPartition) []TopicPartition {
	slices.SortFunc(tps, CompareTopicPartitions)
	return slices.Compact(tps)
}

// epochExhausted reports whether epoch cannot be bumped again without
// reaching the reserved maximum (Kafka: epoch >= Short.MaxValue - 1); the
// coordinator then hands out a new producer id.
func epochExhausted(epoch int16) bool { return epoch >= 32766 }
