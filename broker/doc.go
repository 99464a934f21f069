// Package broker is the gokafka server: listeners, one handler file per API
// family (produce.go, fetch.go, metadata.go, ...), the replica manager that
// owns the partitions this broker leads, delayed operations (acks=all
// produce, long-poll fetch), and the controller duties that a single broker
// performs through ZooKeeper.
//
// The Produce path: Server.serve (server.go) accepts a connection and hands it
// to wire.ServeConn, which calls Server.Handle (handlers.go); Handle dispatches
// on the API key to handleProduce (produce.go), which validates each batch
// with wire and appends it through Partition.append (partition.go) to the
// storage.Log.
package broker
