package storage

import "fmt"

// KIP-890 verification guards.
//
// A leader asks the transaction coordinator whether a partition is in a
// producer's transaction before it appends the batch that opens the
// transaction there. The question is a network round trip made without
// the partition lock, so the transaction may end meanwhile (the
// coordinator aborts it and its ABORT marker is appended): appending the
// verified batch after that marker would open a transaction no coordinator
// knows, holding the last stable offset back for ever. As Kafka's
// UnifiedLog.maybeStartTransactionVerification does, the leader takes a
// guard before the round trip; a marker of the producer (or the append that
// opens its transaction) drops it, and the append is refused unless the
// guard it presents is still the producer's.

// VerificationGuard is the token of one verification. Only its identity
// matters.
type VerificationGuard struct {
	producerID int64
}

// StartVerification returns the producer's guard, creating one when it has
// none, for a verification about to be asked. Called under the lock that
// guards the producer state.
func (s *ProducerState) StartVerification(pid int64) *VerificationGuard {
	if g := s.verifying[pid]; g != nil {
		return g
	}
	if s.verifying == nil {
		s.verifying = map[int64]*VerificationGuard{}
	}
	g := &VerificationGuard{producerID: pid}
	s.verifying[pid] = g
	return g
}

// CheckVerified decides whether a transactional batch of the producer may
// be appended when verification is on: it may when the producer's
// transaction is already open here, or when g is the producer's current
// guard; otherwise ErrInvalidTxnState (Kafka's "Record was not part of an
// ongoing transaction").
func (s *ProducerState) CheckVerified(pid int64, g *VerificationGuard) error {
	if _, ok := s.txns.open[pid]; ok {
		return nil
	}
	if g == nil || s.verifying[pid] != g {
		return fmt.Errorf("producer %d: transactional batch without a current verification: %w", pid, ErrInvalidTxnState)
	}
	return nil
}

// clearVerification drops the producer's guard: a marker ended its
// transaction, or its transaction opened.
func (s *ProducerState) clearVerification(pid int64) {
	if len(s.verifying) > 0 {
		delete(s.verifying, pid)
	}
}
