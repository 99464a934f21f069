// Package controller is the cluster controller of Kafka's ZooKeeper mode
// (KafkaController): one broker at a time wins the ephemeral /controller
// znode, bumps /controller_epoch, and from then on owns the partition state
// znodes. It elects partition leaders, keeps every ISR in ZooKeeper, carries
// out topic creation (a topic znode written by any broker or tool gets its
// state znodes), partition additions and topic deletion, and tells brokers
// what to do with Kafka's inter-broker requests: LeaderAndIsr, UpdateMetadata
// and StopReplica. Leaders ask it to change an ISR with AlterPartition
// (KIP-497), and a broker stopping cleanly asks it with ControlledShutdown.
//
// # One goroutine owns the state
//
// As Kafka's ControllerEventManager, everything the controller knows lives
// in a state value that only the event loop (Controller.loop) touches.
// ZooKeeper watches and broker requests only enqueue events; the loop applies
// each to the state, writes ZooKeeper with writes fenced by the controller
// epoch's zkVersion, and queues requests to brokers. A fenced write that
// fails because another broker became controller makes this one resign at
// once, as does the loss of its ZooKeeper session.
//
// # Leader election
//
// Kafka's rules (PartitionLeaderElectionAlgorithms): the new leader is the
// first replica of the assignment that is live and in the ISR. When none
// is, and unclean.leader.election.enable is true for the topic (broker
// default false), it is the first live replica, logged as an unclean
// election, with the ISR reset to it; otherwise the partition is offline:
// leader -1 until an ISR member returns. Every leader change bumps the
// leader epoch. A dead broker leaves every ISR it was in, except that the
// last member of an ISR is kept, so that a clean election can wait for it.
//
// # Leadership operations
//
// Beyond the elections that broker failures force, leadership moves back to
// the preferred replica (the first of the assignment, when it is online and
// in the ISR) on request: ElectLeaders (elect_leaders.go, which also runs
// admin-requested unclean elections), the ZooKeeper-era
// /admin/preferred_replica_election, and the automatic leader rebalance
// (preferred_election.go). A broker whose log dir fails notifies the
// controller, which learns from a LeaderAndIsr which of its replicas are
// offline and treats them as dead for elections and ISRs
// (log_dir_events.go).
//
// # Talking to brokers
//
// Each live broker has its own send queue and goroutine (channel.go), so a
// slow or dead broker never stalls the loop or the others; requests to one
// broker go out in the order the loop queued them, each carrying the
// controller epoch and the broker's epoch (the czxid of its registration,
// KIP-380), which the broker checks.
package controller
