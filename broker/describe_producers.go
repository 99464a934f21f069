package broker

import (
	"context"

	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleDescribeProducers answers DescribeProducers v0 (KIP-664, for
// kafka-transactions.sh describe-producers): the producer state of each
// partition this broker leads, as Kafka's Partition.activeProducerState
// reports it. A partition this cluster does not have is
// UNKNOWN_TOPIC_OR_PARTITION; one this broker does not lead is
// NOT_LEADER_OR_FOLLOWER.
func (s *Server) handleDescribeProducers(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.DescribeProducersRequest)
	resp := r.ResponseKind().(*kmsg.DescribeProducersResponse)
	for i := range r.Topics {
		rt := &r.Topics[i]
		st := kmsg.NewDescribeProducersResponseTopic()
		st.Topic = rt.Topic
		tm, topicOK := s.meta.topic(rt.Topic)
		for _, part := range rt.Partitions {
			sp := kmsg.NewDescribeProducersResponseTopicPartition()
			sp.Partition = part
			st.Partitions = append(st.Partitions, s.describePartitionProducers(tm, topicOK, rt.Topic, sp))
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}

// describePartitionProducers fills one partition's answer.
func (s *Server) describePartitionProducers(tm *topicMeta, topicOK bool, topic string, sp kmsg.DescribeProducersResponseTopicPartition) kmsg.DescribeProducersResponseTopicPartition {
	if topicOK {
		_, topicOK = tm.Partitions[sp.Partition]
	}
	if !topicOK {
		sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
		return sp
	}
	p, ok := s.replicas.get(topicPartition{topic, sp.Partition})
	if !ok || !p.leading.Load() {
		sp.ErrorCode = kerr.NotLeaderForPartition.Code
		return sp
	}
	if p.isDeleted() {
		sp.ErrorCode = p.goneError().Code
		return sp
	}
	for _, pi := range p.describeProducers() {
		ap := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
		ap.ProducerID = pi.ProducerID
		ap.ProducerEpoch = int32(pi.ProducerEpoch)
		ap.LastSequence = pi.LastSequence
		ap.LastTimestamp = pi.LastTimestamp
		ap.CoordinatorEpoch = pi.CoordinatorEpoch
		ap.CurrentTxnStartOffset = pi.CurrentTxnStartOffset
		sp.ActiveProducers = append(sp.ActiveProducers, ap)
	}
	return sp
}
