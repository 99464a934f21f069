package groupcoord

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Verification guards for TxnOffsetCommit (KIP-890, on the group side).
//
// Before it stores a transaction's pending offsets, the broker asks the
// transaction coordinator whether the group's __consumer_offsets partition
// is in the producer's open transaction. That question is a network round
// trip made without any group lock, so the transaction may end meanwhile:
// its ABORT marker reaches CompleteTxnOffsets, finds nothing pending, and
// the offsets stored afterwards would stay pending until the producer's next
// COMMIT at the same epoch committed them, skipping input. As Kafka 3.9's
// group coordinator does with the __consumer_offsets partition's
// VerificationGuard, the broker takes a guard before the round trip; a
// marker of the producer for that offsets partition drops it, and the
// pending offsets are stored only while the guard presented is still the
// producer's (or the producer already has offsets pending in the group, so
// its transaction there is open).

// TxnOffsetGuard is the token of one TxnOffsetCommit verification. Only its
// identity matters.
type TxnOffsetGuard struct {
	key txnGuardKey
}

// txnGuardKey names a producer's guard in one __consumer_offsets
// partition. A producer has at most one guard per offsets partition, so the
// table is bounded by producers times offsets partitions.
type txnGuardKey struct {
	offsetsPartition int32
	producerID       int64
}

// errTxnNotVerified is INVALID_TXN_STATE: a marker ended the transaction
// between the verification and the store.
var errTxnNotVerified = fmt.Errorf("transactional offsets without a current verification: %w", kerr.InvalidTxnState)

// StartTxnOffsetVerification returns producerID's guard for
// offsetsPartition, creating one when it has none, for a verification about
// to be asked. TxnOffsetCommit then stores the offsets only if the guard is
// still current or the producer already has offsets pending in the group.
func (c *Coordinator) StartTxnOffsetVerification(offsetsPartition int32, producerID int64) *TxnOffsetGuard {
	k := txnGuardKey{offsetsPartition: offsetsPartition, producerID: producerID}
	c.mu.Lock()
	defer c.mu.Unlock()
	if g := c.txnGuards[k]; g != nil {
		return g
	}
	if c.txnGuards == nil {
		c.txnGuards = map[txnGuardKey]*TxnOffsetGuard{}
	}
	g := &TxnOffsetGuard{key: k}
	c.txnGuards[k] = g
	return g
}

// EndTxnOffsetVerification drops producerID's guard for offsetsPartition:
// a marker of the producer reached that partition, so any verification in
// flight answered about a transaction that is over. The marker hook calls
// it before it looks for the producer's pending offsets, whether or not
// there are any.
func (c *Coordinator) EndTxnOffsetVerification(offsetsPartition int32, producerID int64) {
	c.mu.Lock()
	delete(c.txnGuards, txnGuardKey{offsetsPartition: offsetsPartition, producerID: producerID})
	c.mu.Unlock()
}

// ReleaseTxnOffsetVerification drops guard if it is still its producer's
// current one: the verification was refused, so nothing will be stored
// with it (and a guard must not outlive its use).
func (c *Coordinator) ReleaseTxnOffsetVerification(guard *TxnOffsetGuard) {
	if guard == nil {
		return
	}
	c.mu.Lock()
	if c.txnGuards[guard.key] == guard {
		delete(c.txnGuards, guard.key)
	}
	c.mu.Unlock()
}

// checkTxnVerified decides whether producerID's offsets may be stored as
// pending in g: they may when the producer already has offsets pending
// there, or when guard is the producer's current guard, which is then used
// up (the offsets stored make the producer's transaction open in g). Called
// with g.mu held, and with g.commitMu held when there is a TxnStore, so that
// a marker's completion of g cannot come between the check and the store.
func (c *Coordinator) checkTxnVerified(g *group, producerID int64, guard *TxnOffsetGuard) error {
	if g.pendingTxn[producerID] != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if guard == nil || guard.key.producerID != producerID || c.txnGuards[guard.key] != guard {
		return fmt.Errorf("group %s, producer %d: %w", g.id, producerID, errTxnNotVerified)
	}
	delete(c.txnGuards, guard.key)
	return nil
}

// txnGuardCount is the number of guards held, for tests that check none
// leaks.
func (c *Coordinator) txnGuardCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.txnGuards)
}
