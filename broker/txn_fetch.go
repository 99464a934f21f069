package broker

import "github.com/twmb/franz-go/pkg/kmsg"

// abortedTransactions lists, for a read_committed fetch that returned the
// offsets [from, next), the aborted transactions overlapping them, from
// the partition's transaction indexes (storage.Log.AbortedTxns): the
// consumer drops their records. An empty read (next 0) lists those that
// overlap from. Kafka answers an empty list, never null, to read_committed.
func abortedTransactions(p *Partition, from, next int64) []kmsg.FetchResponseTopicPartitionAbortedTransaction {
	upper := max(next, from)
	aborted := p.log.AbortedTxns(from, upper)
	out := make([]kmsg.FetchResponseTopicPartitionAbortedTransaction, 0, len(aborted))
	for _, a := range aborted {
		at := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
		at.ProducerID = a.ProducerID
		at.FirstOffset = a.FirstOffset
		out = append(out, at)
	}
	return out
}
