// Package perftest holds the logic of gokafka's performance tools,
// producer-perf-test and consumer-perf-test, which mirror Apache Kafka's
// kafka-producer-perf-test.sh and kafka-consumer-perf-test.sh: the same flag
// names, the same property names (mapped onto franz-go kgo options) and the
// same report lines, so that numbers taken with them compare directly with
// numbers taken with the stock Java tools, against gokafka or any other
// Kafka broker.
//
// Where the Java tools measure in whole milliseconds, these tools measure in
// microseconds and print the same fields, so averages and maxima carry
// fractions; percentiles keep Kafka's whole-millisecond form. A non-Kafka
// flag, --summary-json, writes the run's figures (with microsecond
// percentiles) to a file for scripts such as scripts/bench.sh.
//
// The file map: args.go parses Kafka-style long options (including the
// multi-valued --producer-props); properties.go reads Java properties files;
// producer_props.go maps producer properties onto kgo options;
// producer_stats.go keeps latency statistics and formats Kafka's report
// lines; throttle.go is the --throughput limiter; producer.go and
// consumer.go run the tests; consumer_report.go formats the consumer's
// lines; metrics.go collects the client-side metrics that --print-metrics
// shows. e2e_latency.go is end-to-end-latency (Kafka's EndToEndLatency,
// plus a rate-limited mode that also reports send-to-acknowledgement
// latency). loopback.go, bench_probe.go and metadata_probe.go serve
// `make bench` only: the loopback TCP limit, restart/partition probes and
// Metadata latency while a backlog drains.
package perftest
