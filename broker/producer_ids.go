package broker

// producerIDs hands out producer ids for InitProducerId from blocks claimed
// in /latest_producer_id_block.
type producerIDs struct{}
