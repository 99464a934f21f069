package broker

import "github.com/twmb/franz-go/pkg/kmsg"

// firstRackFetchVersion is the first Fetch version that carries the
// consumer's rack (rack_id, KIP-392). Kafka gives such a fetch client
// metadata, and a consumer fetch with client metadata may be served by a
// follower.
const firstRackFetchVersion = 11

// leaderOnlyFetch says whether a fetch must be served by the partition's
// leader, as Kafka's FetchParams.fetchOnlyLeader decides: a replica's
// fetch always, a consumer's (replica id -1) before Fetch v11. The
// debugging consumer (-2) may read any replica, and from v11 on so may
// every consumer: a follower serves it up to its own high watermark,
// whether or not a replica selector sent it there (KIP-392).
func leaderOnlyFetch(r *kmsg.FetchRequest, follower bool) bool {
	return follower || (r.Version < firstRackFetchVersion && r.ReplicaID != debugReplicaID)
}

// servesFollowerReads reports whether this broker, not leading the
// partition, may answer a consumer's fetch from its replica: only while it
// follows the leader the controller named. A log kept after StopReplica, or
// opened but not yet given a role, is not a replica to read from; the
// consumer gets NOT_LEADER_OR_FOLLOWER and goes back to the leader after a
// metadata refresh.
func (p *Partition) servesFollowerReads() bool { return p.following.Load() }
