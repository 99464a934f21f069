// Package clusterbench holds the replication benchmarks of `make bench`
// (issue 8's "Benchmark" section): Go benchmarks that each start three real
// gokafka brokers on a real ZooKeeper with internal/testcluster, the harness
// of the end-to-end tests, and measure them with the perf tools of package
// perftest called as a library (the same producer and end-to-end-latency
// code as `gokafka producer-perf-test` and `gokafka end-to-end-latency`).
//
// The benchmarks, in *_bench_test.go:
//
//   - BenchmarkReplicatedProduce: 1 KiB records, RF 3 acks=all idempotent
//     against RF 1 acks=1 on the same leader broker, runs interleaved; the
//     medians, their spread and their ratio.
//   - BenchmarkReplicatedEndToEnd: end-to-end p99 at 20 MiB/s of 1 KiB
//     records, RF 3 acks=all (and RF 1 acks=all on the same broker for
//     comparison), runs interleaved.
//   - BenchmarkFailoverSIGTERM, BenchmarkFailoverSIGKILL: from the signal to
//     the partition leader until the first acks=all batch acknowledged by its
//     successor, under a steady 1 MiB/s idempotent producer
//     (zookeeper.session.timeout.ms=6000).
//   - BenchmarkFollowerCatchUp: a follower stopped while BENCH_CATCHUP_MB MiB
//     are written, started again, timed until the partition's state znode
//     lists it in the ISR.
//   - BenchmarkReassignment (issue 11): BENCH_REASSIGN_MB MiB moved onto a
//     fourth broker that joined empty with AlterPartitionReassignments; the
//     time to complete, the replication rate, and the p99 of an acks=all
//     producer at 20 MiB/s during the move against the 5 s before it.
//   - BenchmarkTransactionalProduce (issue 12): franz-go, 1 KiB records,
//     transactions of 100 records committed one after another, against the
//     idempotent non-transactional producer, on one partition and on six,
//     runs interleaved; the ratio (target >= 0.8x), and per 100 records the
//     time spent producing (with AddPartitionsToTxn) and committing; the
//     mean AddPartitionsToTxn, Produce and EndTxn times and the median of a
//     lone replicated write, which together show what one producer waits
//     for; and the same comparison with BENCH_TXN_PRODUCERS producers at
//     once.
//
// Each figure comes with the brokers' CPU seconds (utime+stime from
// /proc/<pid>/stat) per GiB, and each benchmark notes the machine's load:
// the CPU seconds that processes other than the brokers and the benchmark
// itself used during its runs (on a shared machine they compete for the same
// two cores). Nothing here fails on a timing: the figures are reported, and
// a benchmark fails only when the cluster does not do what it must (a record
// not acknowledged, a leader not elected, a follower never back).
//
// Run them with `make bench-cluster` (all, with -benchtime 1x: each
// benchmark does its own repeats and reports medians) or by hand:
//
//	make build
//	GOKAFKA_BIN=$PWD/bin/gokafka go test ./internal/clusterbench/ \
//	    -run '^$' -bench FollowerCatchUp -benchtime 1x -timeout 60m -v
//
// With BENCH_CLUSTER_OUT set to a markdown file (make bench-cluster sets it
// to bench/results.md), TestMain writes the section "Replication (three
// brokers)" into that file after the benchmarks, replacing the section a
// previous run wrote and leaving the rest of the file alone. The knobs
// (environment, defaults in brackets):
//
//	BENCH_CLUSTER_RECORDS   [1000000] 1 KiB records per produce run
//	BENCH_CLUSTER_REPEAT    [3]       interleaved runs of each produce and
//	                                  end-to-end workload, catch-up rounds
//	BENCH_TXN_RECORDS       [200000]  1 KiB records per transactional
//	                                  benchmark run
//	BENCH_TXN_PRODUCERS     [8]       producers at once in the concurrent
//	                                  transactional comparison (0: none)
//	BENCH_CLUSTER_E2E_SECONDS [10]    length of one end-to-end run
//	BENCH_CLUSTER_FAILOVERS [3]       leader kills per failover benchmark
//	BENCH_CATCHUP_MB        [1024]    MiB written while the follower is down
//	                                  (scaled down when the temp dir's
//	                                  filesystem has less than 5x that free)
//	BENCH_REASSIGN_MB       [5120]    MiB moved by BenchmarkReassignment
//	                                  (scaled down as BENCH_CATCHUP_MB, to a
//	                                  sixth of the free space)
//	BENCH_REASSIGN_PARTITIONS [4]     partitions the data is spread over
//	BENCH_PRODUCER_PROPS    ["linger.ms=1 batch.size=1048576"] as in
//	                                  scripts/bench.sh
//	BENCH_WARM              [1]       0: do not warm memory before writing
//	BENCH_CLUSTER_BROKER_PROPS [unset] "key=value ..." for every broker (for
//	                                  experiments; the section names them)
//	BENCH_CLUSTER_OUT       [unset]   the results file to write the section to
//
// The file map: cluster_test.go starts the three brokers and reads their
// state from ZooKeeper; measure_test.go holds the knobs, CPU accounting,
// memory warming and the median-and-spread arithmetic; report_test.go
// collects the figures and writes the markdown section; the benchmarks are
// in produce_bench_test.go, failover_bench_test.go, catchup_bench_test.go,
// reassign_bench_test.go and txn_bench_test.go.
package clusterbench
