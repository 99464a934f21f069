package storage

// The cleaner's transaction rules, as Kafka's LogCleaner applies them: it
// cleans below the last stable offset only (cleanView.bound), so every
// transaction it sees is complete; records of aborted transactions never
// enter the offset map (they must not shadow a committed value of the same
// key) and are removed; markers stay; a cleaned segment keeps the
// transaction index entries of the segments it replaces.

// addAborted appends one segment's transaction index entries to the view.
func (v *cleanView) addAborted(entries []AbortedTxn) {
	v.aborted = append(v.aborted, entries)
	v.addAbortedBeyond(entries)
}

// addAbortedBeyond makes entries decide which batches the clean drops
// without carrying them into a cleaned segment: the entries of a segment
// the clean does not rewrite (the active one) stay in its own index.
func (v *cleanView) addAbortedBeyond(entries []AbortedTxn) {
	for _, a := range entries {
		if v.abortedBy == nil {
			v.abortedBy = map[int64][]AbortedTxn{}
		}
		v.abortedBy[a.ProducerID] = append(v.abortedBy[a.ProducerID], a)
	}
}

// isAborted reports whether h is a batch of an aborted transaction: a
// transactional data batch of a producer whose aborted transaction spans
// its offset. A transaction index entry covers the transaction from its
// first batch to its marker, and a producer has one transaction at a
// time, so the ranges of one producer never overlap.
func (v *cleanView) isAborted(h *batchHeader) bool {
	if !h.IsTransactional() || h.IsControl() || len(v.abortedBy) == 0 {
		return false
	}
	for _, a := range v.abortedBy[h.ProducerID] {
		if a.FirstOffset <= h.BaseOffset && h.BaseOffset < a.LastOffset {
			return true
		}
	}
	return false
}
