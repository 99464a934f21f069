package broker

import (
	"math/rand/v2"
	"slices"
	"sort"
)

// brokerRack is a live broker and its broker.rack ("" when unset).
type brokerRack struct {
	id   int32
	rack string
}

// liveBrokerRacks returns the live brokers with their racks, sorted by id.
func (s *Server) liveBrokerRacks() []brokerRack {
	racks := map[int32]string{}
	bs, _ := s.meta.brokerList()
	for _, b := range bs {
		if b.Rack != nil {
			racks[b.ID] = *b.Rack
		}
	}
	racks[s.cfg.BrokerID] = s.cfg.BrokerRack
	var out []brokerRack
	for _, id := range s.liveBrokerIDs() {
		out = append(out, brokerRack{id, racks[id]})
	}
	return out
}

// assignReplicas spreads partitions [first, first+count) over the brokers
// with rf distinct replicas each, as Kafka's AdminUtils does: when every
// broker has a rack, rack-aware (each partition's replicas on as many
// racks as possible); otherwise round-robin from a random start, the
// followers shifted by a random amount that grows by one after each round
// over the brokers. rf must be <= len(brokers).
func assignReplicas(brokers []brokerRack, first, count int32, rf int16) map[int32][]int32 {
	n := len(brokers)
	return assignWith(brokers, first, count, rf, rand.IntN(n), rand.IntN(n))
}

// assignWith is assignReplicas with the random start and shift given.
func assignWith(brokers []brokerRack, first, count int32, rf int16, start, shift int) map[int32][]int32 {
	racked := len(brokers) > 0
	for _, b := range brokers {
		racked = racked && b.rack != ""
	}
	if racked {
		return assignRackAware(brokers, first, count, rf, start, shift)
	}
	ids := make([]int32, len(brokers))
	for i, b := range brokers {
		ids[i] = b.id
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	n := len(ids)
	out := make(map[int32][]int32, count)
	for i := int32(0); i < count; i++ {
		p := first + i
		if p > 0 && int(p)%n == 0 {
			shift++
		}
		lead := (int(p) + start) % n
		reps := []int32{ids[lead]}
		for j := 0; j < int(rf)-1; j++ {
			reps = append(reps, ids[replicaIndex(lead, shift, j, n)])
		}
		out[p] = reps
	}
	return out
}

// replicaIndex is the broker index of the (j+1)th follower of a partition
// led by the broker at index lead: Kafka's replicaIndex, which never lands
// on the leader.
func replicaIndex(lead, shift, j, n int) int {
	if n == 1 {
		return lead
	}
	off := 1 + (shift+j)%(n-1)
	return (lead + off) % n
}

// assignRackAware is Kafka's rack-aware assignment: the brokers are
// ordered by alternating racks (the first broker of each rack in rack
// order, then the second of each, ...), leaders go round-robin over that
// order, and each follower is the next broker by the shifted index that is
// on a rack without a replica yet (or on any rack once every rack has one)
// and not already a replica.
func assignRackAware(brokers []brokerRack, first, count int32, rf int16, start, shift int) map[int32][]int32 {
	byRack := map[string][]int32{}
	var racks []string
	for _, b := range brokers {
		if _, ok := byRack[b.rack]; !ok {
			racks = append(racks, b.rack)
		}
		byRack[b.rack] = append(byRack[b.rack], b.id)
	}
	slices.Sort(racks)
	for _, r := range racks {
		slices.Sort(byRack[r])
	}
	rackOf := map[int32]string{}
	var order []int32
	for i := 0; len(order) < len(brokers); i++ {
		for _, r := range racks {
			if i < len(byRack[r]) {
				order = append(order, byRack[r][i])
				rackOf[byRack[r][i]] = r
			}
		}
	}
	n, numRacks := len(order), len(racks)
	out := make(map[int32][]int32, count)
	for i := int32(0); i < count; i++ {
		p := first + i
		if p > 0 && int(p)%n == 0 {
			shift++
		}
		lead := (int(p) + start) % n
		leader := order[lead]
		reps := []int32{leader}
		racksUsed := map[string]bool{rackOf[leader]: true}
		used := map[int32]bool{leader: true}
		k := 0
		for len(reps) < int(rf) {
			b := order[replicaIndex(lead, shift*numRacks, k, n)]
			k++
			if (racksUsed[rackOf[b]] && len(racksUsed) < numRacks) || (used[b] && len(used) < n) {
				continue
			}
			reps = append(reps, b)
			racksUsed[rackOf[b]] = true
			used[b] = true
		}
		out[p] = reps
	}
	return out
}
