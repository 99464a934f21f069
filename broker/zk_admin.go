package broker

import "github.com/gokafka/gokafka/zkmeta"

// The functions below let `gokafka topics --zookeeper` write a topic's
// znodes the way Kafka 2.x's TopicCommand did, without a broker: it must
// name-check, config-check and assign replicas exactly as CreateTopics and
// CreatePartitions here do, so it shares their code rather than copying it.

// ValidateTopicName applies Kafka's topic naming rules (Topic.validate) and
// returns Kafka's message for a bad name.
func ValidateTopicName(name string) error { return validateTopicName(name) }

// ValidateTopicConfigs checks topic-level overrides as CreateTopics does:
// unknown names and bad values are errors with Kafka's messages.
func ValidateTopicConfigs(overrides map[string]string) error {
	return validateTopicConfigs(overrides)
}

// AssignReplicas spreads partitions [first, first+count) over brokers with
// rf distinct replicas each, as CreateTopics does (Kafka's AdminUtils:
// rack-aware when every broker has a rack). rf must be at most
// len(brokers), which must be sorted by id.
func AssignReplicas(brokers []zkmeta.BrokerInfo, first, count int32, rf int16) map[int32][]int32 {
	racks := make([]brokerRack, 0, len(brokers))
	for _, b := range brokers {
		r := brokerRack{id: b.ID}
		if b.Rack != nil {
			r.rack = *b.Rack
		}
		racks = append(racks, r)
	}
	return assignReplicas(racks, first, count, rf)
}
