// Package storage holds one broker's partition logs on disk in Apache Kafka's
// layout, so that Kafka's own tools (kafka-dump-log, kafka-log-dirs) and a
// person with ls see what they would see on Kafka.
//
// The package doc of each file specifies its format; see docs/design.md for
// the whole layout. storage knows nothing about the network or ZooKeeper.
package storage
