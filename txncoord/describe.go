package txncoord

import (
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Description is one transactional id as DescribeTransactions reports it.
type Description struct {
	TransactionalID string
	// Err is NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS or
	// TRANSACTIONAL_ID_NOT_FOUND; the other fields are set when nil.
	Err           *kerr.Error
	State         State
	TimeoutMs     int32
	StartMs       int64
	ProducerID    int64
	ProducerEpoch int16
	Partitions    []TopicPartition
}

// Describe answers DescribeTransactions for ids.
func (c *Coordinator) Describe(ids []string) []Description {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Description, 0, len(ids))
	for _, id := range ids {
		d := Description{TransactionalID: id, StartMs: -1, ProducerID: -1, ProducerEpoch: -1}
		_, t, e := c.lookup(id)
		switch {
		case e != nil:
			d.Err = e
		case t == nil:
			d.Err = kerr.TransactionalIDNotFound
		default:
			d.State, d.TimeoutMs, d.StartMs = t.meta.State, t.meta.TimeoutMs, t.meta.StartMs
			d.ProducerID, d.ProducerEpoch = t.meta.ProducerID, t.meta.ProducerEpoch
			d.Partitions = slices.Clone(t.meta.Partitions)
		}
		out = append(out, d)
	}
	return out
}

// Listed is one transactional id as ListTransactions reports it.
type Listed struct {
	TransactionalID string
	ProducerID      int64
	State           State
}

// ListFilter narrows ListTransactions; empty filters match everything.
type ListFilter struct {
	States      []string
	ProducerIDs []int64
	// MinDuration keeps only transactions open longer than it (v1's
	// DurationFilter; <= 0: no filter).
	MinDuration time.Duration
}

// List answers ListTransactions for the partitions this broker
// coordinates: the ids matching f, the state names in f that are not
// states, or COORDINATOR_LOAD_IN_PROGRESS while any partition loads.
func (c *Coordinator) List(f ListFilter) (out []Listed, unknownStates []string, e *kerr.Error) {
	states := map[State]bool{}
	for _, name := range f.States {
		if s, ok := ParseState(name); ok {
			states[s] = true
		} else {
			unknownStates = append(unknownStates, name)
		}
	}
	if len(f.States) > 0 && len(states) == 0 {
		return nil, unknownStates, nil
	}
	now := c.nowMs()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.parts {
		if p.loading {
			return nil, unknownStates, kerr.CoordinatorLoadInProgress
		}
		for id, t := range p.txns {
			m := t.meta
			switch {
			case len(states) > 0 && !states[m.State]:
			case len(f.ProducerIDs) > 0 && !slices.Contains(f.ProducerIDs, m.ProducerID):
			case f.MinDuration > 0 && (m.State.completed() || m.StartMs < 0 || now-m.StartMs <= f.MinDuration.Milliseconds()):
			default:
				out = append(out, Listed{TransactionalID: id, ProducerID: m.ProducerID, State: m.State})
			}
		}
	}
	slices.SortFunc(out, func(a, b Listed) int {
		switch {
		case a.TransactionalID < b.TransactionalID:
			return -1
		case a.TransactionalID > b.TransactionalID:
			return 1
		}
		return 0
	})
	return out, unknownStates, nil
}
