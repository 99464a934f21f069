// Command gokafka is the gokafka broker and its tools.
//
//	gokafka server config/server.properties [--override key=value ...]
//
// The server subcommand lives in server.go; the perf-test tools in perf.go;
// the Kafka-compatible admin and console tools in tools.go.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/gokafka/gokafka/tools/configs"
)

// subcommands maps a subcommand name to its entry point. Each returns the
// process exit code.
var subcommands = map[string]func(args []string) int{
	"server":              runServer,
	"configs":             configs.Main,
	"producer-perf-test":  runProducerPerfTest,
	"consumer-perf-test":  runConsumerPerfTest,
	"end-to-end-latency":  runE2ELatency,
	"topics":              runTopics,
	"console-producer":    runConsoleProducer,
	"console-consumer":    runConsoleConsumer,
	"consumer-groups":     runConsumerGroups,
	"reassign-partitions": runReassignPartitions,
	"version":             runVersion,
	// Hidden: make bench's loopback TCP ceiling (loopback.go).
	"loopback-test": runLoopbackTest,
	// Hidden: make bench's restart and many-partition probes (bench_probe.go).
	"bench-probe": runBenchProbe,
}

func main() {
	if len(os.Args) < 2 {
		usage(os.Stderr)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "--help", "-h", "help":
		usage(os.Stdout)
		os.Exit(0)
	case "--version":
		os.Exit(runVersion(nil))
	}
	run, ok := subcommands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "gokafka: unknown command %q\n", os.Args[1])
		usage(os.Stderr)
		os.Exit(2)
	}
	os.Exit(run(os.Args[2:]))
}

// usage lists the subcommands; `gokafka <tool> --help` gives each tool's
// options.
func usage(w io.Writer) {
	fmt.Fprintln(w, `usage:
  gokafka server <server.properties> [--override key=value ...]
  gokafka topics            (kafka-topics.sh)
  gokafka console-producer  (kafka-console-producer.sh)
  gokafka console-consumer  (kafka-console-consumer.sh)
  gokafka consumer-groups   (kafka-consumer-groups.sh)
  gokafka reassign-partitions (kafka-reassign-partitions.sh)
  gokafka version
  gokafka producer-perf-test --topic T --num-records N --record-size S --throughput -1 --producer-props bootstrap.servers=HOST:PORT [k=v ...]
  gokafka consumer-perf-test --bootstrap-server HOST:PORT --topic T --messages N
  gokafka end-to-end-latency HOST:PORT TOPIC NUM_MESSAGES ACKS SIZE [--throughput-mb MB_PER_SEC]

The server also reads KAFKA_CFG_ environment variables (KAFKA_CFG_LOG_DIRS
sets log.dirs): they win over the file, and --override wins over both.
The tools take the stock scripts' options: gokafka <tool> --help.`)
}
