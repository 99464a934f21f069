package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/gokafka/gokafka/perftest"
)

// runProducerPerfTest is `gokafka producer-perf-test`, the counterpart of
// kafka-producer-perf-test.sh. Ctrl-C stops sending and prints the totals so
// far.
func runProducerPerfTest(args []string) int {
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" {
		fmt.Fprintln(os.Stderr, perftest.ProducerUsage)
		return 2
	}
	o, err := perftest.ParseProducerArgs(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "producer-perf-test: %v\n\n%s\n", err, perftest.ProducerUsage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := perftest.RunProducer(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "producer-perf-test: %v\n", err)
		return 1
	}
	return 0
}

// runConsumerPerfTest is `gokafka consumer-perf-test`, the counterpart of
// kafka-consumer-perf-test.sh. Ctrl-C stops consuming and prints the totals
// so far.
func runConsumerPerfTest(args []string) int {
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" {
		fmt.Fprintln(os.Stderr, perftest.ConsumerUsage)
		return 2
	}
	o, err := perftest.ParseConsumerArgs(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "consumer-perf-test: %v\n\n%s\n", err, perftest.ConsumerUsage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := perftest.RunConsumer(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "consumer-perf-test: %v\n", err)
		return 1
	}
	return 0
}

// runE2ELatency is `gokafka end-to-end-latency`, the counterpart of Kafka's
// EndToEndLatency tool (kafka-e2e-latency.sh). Ctrl-C stops and prints the
// latencies measured so far.
func runE2ELatency(args []string) int {
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" {
		fmt.Fprintln(os.Stderr, perftest.E2EUsage)
		return 2
	}
	o, err := perftest.ParseE2EArgs(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "end-to-end-latency: %v\n\n%s\n", err, perftest.E2EUsage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := perftest.RunE2E(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "end-to-end-latency: %v\n", err)
		return 1
	}
	return 0
}
