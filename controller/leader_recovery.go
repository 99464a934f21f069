package controller

import (
	"github.com/twmb/franz-go/pkg/kerr"
)

// Leader recovery states (KIP-704), as the state znode's
// "leader_recovery_state" and the LeaderRecoveryState fields of
// LeaderAndIsr and AlterPartition carry them.
const (
	// recovered is the normal state: the leader's log holds every
	// committed record. Kafka leaves the znode key out for it.
	recovered int8 = 0
	// recovering marks a leader taken from outside the ISR by an unclean
	// election: until it has said it recovered, the ISR is only itself.
	recovering int8 = 1
)

// recoveryChangeError applies Kafka's rules for the leader recovery state
// a leader sends in AlterPartition (KafkaController.processAlterPartition):
// a value Kafka does not define, a RECOVERING leader that proposes other ISR
// members, and a partition going back from RECOVERED to RECOVERING are all
// INVALID_REQUEST. A RECOVERING partition becomes RECOVERED only when its
// leader says so, which a leader does with its first ISR change.
func recoveryChangeError(cur, proposed int8, isrSize int) *kerr.Error {
	switch {
	case proposed != recovered && proposed != recovering:
		return kerr.InvalidRequest
	case proposed == recovering && isrSize > 1:
		return kerr.InvalidRequest
	case cur == recovered && proposed == recovering:
		return kerr.InvalidRequest
	}
	return nil
}
