package broker

import (
	"slices"
	"testing"
)

// TestISRProposalsSentAreCurrent: a batch holding a proposal queued for a
// retry under an old leader epoch and a newer one made after the next
// LeaderAndIsr sends the newer one only. Sending the stale one and
// dropping the newer as a duplicate left the partition waiting for an
// answer to a change never sent, its ISR stuck (seen in
// TestDeleteRecordsThenConsume: ISR [0] with both followers caught up).
func TestISRProposalsSentAreCurrent(t *testing.T) {
	rm, _ := newTestReplicaManager(t)
	defer rm.close()
	tp := topicPartition{"isr", 0}
	if err := rm.makeLeader(tp, testTopicID, 2, testTopicConfig()); err != nil {
		t.Fatal(err)
	}
	p, _ := rm.get(tp)
	propose := func(isr ...int32) isrProposal {
		t.Helper()
		p.mu.Lock()
		defer p.mu.Unlock()
		prop, ok := p.proposeISRLocked(isr)
		if !ok {
			t.Fatalf("proposal %v refused", isr)
		}
		return prop
	}
	stale := propose(0, 1, 2)
	if err := rm.makeLeader(tp, testTopicID, 3, testTopicConfig()); err != nil {
		t.Fatal(err)
	}
	fresh := propose(0, 1)
	m := &isrManager{s: &Server{replicas: rm}}
	tests := []struct {
		name  string
		batch []isrProposal
		want  []isrProposal
	}{
		{"stale first", []isrProposal{stale, fresh}, []isrProposal{fresh}},
		{"stale only", []isrProposal{stale}, nil},
		{"fresh twice", []isrProposal{fresh, fresh}, []isrProposal{fresh}},
		{"unknown partition", []isrProposal{{tp: topicPartition{"gone", 0}, isr: []int32{0}}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := m.current(tc.batch)
			if len(got) != len(tc.want) {
				t.Fatalf("sent %d proposals, want %d: %+v", len(got), len(tc.want), got)
			}
			for i := range got {
				if got[i].leaderEpoch != tc.want[i].leaderEpoch || !slices.Equal(got[i].isr, tc.want[i].isr) {
					t.Errorf("proposal %d: epoch %d isr %v, want epoch %d isr %v", i, got[i].leaderEpoch, got[i].isr, tc.want[i].leaderEpoch, tc.want[i].isr)
				}
			}
		})
	}
}
