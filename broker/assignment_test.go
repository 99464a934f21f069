package broker

import (
	"slices"
	"testing"
)

func TestAssignReplicas(t *testing.T) {
	plain := []brokerRack{{1, ""}, {2, ""}, {3, ""}}
	racked := []brokerRack{{1, "a"}, {2, "a"}, {3, "b"}, {4, "b"}, {5, "c"}, {6, "c"}}
	tests := []struct {
		name         string
		brokers      []brokerRack
		count        int32
		rf           int16
		start, shift int
		want         map[int32][]int32
	}{
		{"round robin from the start, followers shifted", plain, 3, 3, 0, 0,
			map[int32][]int32{0: {1, 2, 3}, 1: {2, 3, 1}, 2: {3, 1, 2}}},
		{"a random start and shift", plain, 3, 2, 1, 1,
			map[int32][]int32{0: {2, 1}, 1: {3, 2}, 2: {1, 3}}},
		{"the shift grows after each round over the brokers", plain, 6, 2, 0, 0,
			map[int32][]int32{0: {1, 2}, 1: {2, 3}, 2: {3, 1}, 3: {1, 3}, 4: {2, 1}, 5: {3, 2}}},
		{"some brokers without a rack: rack-unaware", []brokerRack{{1, "a"}, {2, ""}, {3, "b"}}, 1, 3, 0, 0,
			map[int32][]int32{0: {1, 2, 3}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := assignWith(tc.brokers, 0, tc.count, tc.rf, tc.start, tc.shift)
			for p, want := range tc.want {
				if !slices.Equal(got[p], want) {
					t.Errorf("partition %d: %v, want %v", p, got[p], want)
				}
			}
		})
	}

	// Rack-aware: whatever the start and shift, each partition's replicas
	// are distinct and on as many racks as the replication factor allows,
	// and leaders are spread evenly.
	rack := map[int32]string{}
	for _, b := range racked {
		rack[b.id] = b.rack
	}
	for start := 0; start < len(racked); start++ {
		for shift := 0; shift < len(racked); shift++ {
			got := assignWith(racked, 0, 12, 3, start, shift)
			leaders := map[int32]int{}
			for p, reps := range got {
				racks := map[string]bool{}
				ids := map[int32]bool{}
				for _, r := range reps {
					racks[rack[r]] = true
					ids[r] = true
				}
				if len(reps) != 3 || len(ids) != 3 || len(racks) != 3 {
					t.Fatalf("start %d shift %d partition %d: %v spans racks %v", start, shift, p, reps, racks)
				}
				leaders[reps[0]]++
			}
			for id, n := range leaders {
				if n != 2 {
					t.Fatalf("start %d shift %d: broker %d leads %d of 12 partitions, want 2", start, shift, id, n)
				}
			}
		}
	}
}
