package broker

// Leader recovery states (KIP-704) as LeaderAndIsr and AlterPartition carry
// them. An unclean election makes a partition RECOVERING; the controller
// keeps its ISR to the leader alone until the leader reports RECOVERED in
// an AlterPartition.
//
// A ZooKeeper-mode leader has nothing to recover before it serves (its log
// is the partition's log from its leader epoch on, and followers truncate
// to it), so a partition is RECOVERED as soon as this broker leads it,
// whatever the controller sent, as in Kafka's Partition.makeLeader; the
// leader's first ISR change carries that to the controller.
const (
	leaderRecovered  int8 = 0
	leaderRecovering int8 = 1
)
