// Package zkmeta is everything the broker keeps in ZooKeeper, with Apache
// Kafka's own znode paths and JSON formats (core/.../kafka/zk/ZkData.scala),
// so that ZooKeeper-era tools and a person with zkCli see what they would see
// on Kafka. It is the only package that imports go-zookeeper/zk.
//
// Files: client.go (Connect, chroot, Kafka's persistent paths), session.go
// (session loss and re-establishment), ops.go (context-aware ZooKeeper calls,
// controller-epoch fencing, retries), cluster.go (/cluster/id, /controller,
// /controller_epoch), brokers.go (/brokers/ids), topics.go (/brokers/topics,
// partition state, /config/topics, /admin/delete_topics), producer_ids.go
// (/latest_producer_id_block), ids.go (Kafka's base64url UUIDs),
// consumer_offsets.go (committed group offsets under /consumers).
//
// Paths in this package are Kafka's ("/brokers/ids"); the chroot of
// zookeeper.connect is prefixed on the way to ZooKeeper, because
// go-zookeeper has no chroot support.
//
// Writes a controller makes are fenced as Kafka fences them: they run in a
// multi that first checks /controller_epoch's zkVersion, and a failed check is
// ErrControllerMoved. Conditional writes that lose a race return
// ErrBadVersion; missing znodes ErrNoNode.
//
// go-zookeeper's calls take no context; each call here runs on a goroutine
// and returns when ctx ends. Reads, and writes whose repetition is harmless,
// are retried while the connection is being re-established (for up to one
// session timeout), as Kafka's ZooKeeperClient retries CONNECTIONLOSS.
//
// # Taking over a dead process's ephemerals
//
// A broker killed with SIGKILL leaves its session alive in ZooKeeper until
// zookeeper.session.timeout.ms passes, and with it /brokers/ids/<id> (and
// /controller if it was controller); a broker restarted at once would wait
// that long. The broker records its session id in each log dir
// (.gokafka-zk-session, see storage.Dirs), and a process that holds the log
// dirs' .lock knows the process that wrote it has exited. TakeOverBroker
// and TakeOverController delete those two znodes when, and only when, their
// ephemeralOwner is one of the sessions the caller names (a delete
// conditional on the version read with the owner); any other owner is left
// alone, and RegisterBroker and ElectController wait for it as before.
package zkmeta
