// Package broker is the gokafka server: listeners, one handler file per API
// family (produce.go, fetch.go, metadata.go, ...), the replica manager that
// owns the partitions this broker leads or follows, replication (replica
// fetchers, ISR changes, the high watermark), the waits of acks=all produce
// and long-poll fetch, and the broker's side of the cluster: it runs for
// controller (package controller) and does what the controller's
// LeaderAndIsr, UpdateMetadata and StopReplica requests say.
//
// Lock order: replicaManager.openMu, then replicaManager.mu, then
// Partition.mu. The controller's loop and the fetchers never hold a
// partition's lock while they wait on the network.
//
// The Produce path: Server.serve (server.go) accepts a connection and hands it
// to wire.ServeConn, which calls Server.Handle (handlers.go); Handle dispatches
// on the API key to handleProduce (produce.go), which validates each batch
// with wire and appends it through Partition.append (partition.go) to the
// storage.Log.
package broker
