// Package zkmeta is everything the broker keeps in ZooKeeper, with Apache
// Kafka's own znode paths and JSON formats (core/.../kafka/zk/ZkData.scala),
// so that ZooKeeper-era tools and a person with zkCli see what they would see
// on Kafka. It is the only package that imports go-zookeeper/zk.
package zkmeta
