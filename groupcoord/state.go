package groupcoord

import "strings"

// groupState is a classic group's state; see the package doc for the
// transitions.
type groupState int8

const (
	stateEmpty groupState = iota
	statePreparingRebalance
	stateCompletingRebalance
	stateStable
	stateDead
)

// String returns the state's name as DescribeGroups and ListGroups report it.
func (s groupState) String() string {
	switch s {
	case stateEmpty:
		return "Empty"
	case statePreparingRebalance:
		return "PreparingRebalance"
	case stateCompletingRebalance:
		return "CompletingRebalance"
	case stateStable:
		return "Stable"
	default:
		return "Dead"
	}
}

// matchesState reports whether s is named in filter, ignoring case as Kafka
// does for ListGroups' states filter.
func (s groupState) matchesState(filter []string) bool {
	for _, f := range filter {
		if strings.EqualFold(f, s.String()) {
			return true
		}
	}
	return false
}

// groupType is the only group type this coordinator has (KIP-848's
// "consumer" groups are not implemented): ListGroups v5 reports it and
// filters on it.
const groupType = "classic"

// consumerProtocolType is the protocol type of Kafka consumers, whose
// subscription metadata the coordinator reads to know the subscribed topics.
const consumerProtocolType = "consumer"
