package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gokafka/gokafka/perftest"
)

// runBenchProbe is the hidden `gokafka bench-probe` used by make bench. It
// prints key=value lines for the script to read:
//
//	bench-probe wait-serving --bootstrap B --topic T --since-ns NS
//	bench-probe create-topics --bootstrap B --prefix P --topics N --partitions K
//	bench-probe metadata --bootstrap B --count N
//	bench-probe delete-topics --bootstrap B --topic T
//	bench-probe metadata-latency --bootstrap B [--interval 10ms] [--duration D]
func runBenchProbe(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: gokafka bench-probe wait-serving|create-topics|delete-topics|metadata|metadata-latency [flags]")
		return 2
	}
	if args[0] == "metadata-latency" {
		return runMetadataLatencyProbe(args[1:])
	}
	fs := flag.NewFlagSet("bench-probe "+args[0], flag.ContinueOnError)
	bootstrap := fs.String("bootstrap", "127.0.0.1:9092", "broker address")
	topic := fs.String("topic", "", "wait-serving: topic to produce to; delete-topics: topic to delete")
	sinceNs := fs.Int64("since-ns", 0, "wait-serving: Unix time in ns the wait is measured from (default now)")
	prefix := fs.String("prefix", "p", "create-topics: topic name prefix")
	topics := fs.Int("topics", 1, "create-topics: number of topics")
	partitions := fs.Int("partitions", 1, "create-topics: partitions per topic")
	perBatch := fs.Int("per-request", 10, "create-topics: topics per CreateTopics request")
	count := fs.Int("count", 20, "metadata: requests to time")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	switch args[0] {
	case "wait-serving":
		since := time.Now()
		if *sinceNs > 0 {
			since = time.Unix(0, *sinceNs)
		}
		d, err := perftest.WaitServing(ctx, *bootstrap, *topic, since)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench-probe: %v\n", err)
			return 1
		}
		fmt.Printf("serving_s=%.3f\n", d.Seconds())
	case "create-topics":
		d, err := perftest.CreateTopics(ctx, *bootstrap, *prefix, *topics, *partitions, *perBatch)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench-probe: %v\n", err)
			return 1
		}
		fmt.Printf("create_s=%.3f\n", d.Seconds())
	case "delete-topics":
		if err := perftest.DeleteTopics(ctx, *bootstrap, *topic); err != nil {
			fmt.Fprintf(os.Stderr, "bench-probe: %v\n", err)
			return 1
		}
		fmt.Println("deleted=1")
	case "metadata":
		lat, nt, np, err := perftest.MetadataLatency(ctx, *bootstrap, *count)
		if err != nil || len(lat) == 0 {
			fmt.Fprintf(os.Stderr, "bench-probe: %v\n", err)
			return 1
		}
		ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
		fmt.Printf("topics=%d\npartitions=%d\np50_ms=%.2f\np99_ms=%.2f\nmax_ms=%.2f\n", nt, np,
			ms(lat[len(lat)/2]), ms(lat[min(len(lat)*99/100, len(lat)-1)]), ms(lat[len(lat)-1]))
	default:
		fmt.Fprintf(os.Stderr, "bench-probe: unknown probe %q\n", args[0])
		return 2
	}
	return 0
}

// runMetadataLatencyProbe sends Metadata requests at a fixed interval until
// SIGINT or SIGTERM (make bench's stop) or --duration, then prints the
// summary. Being stopped is the normal end, so it exits 0 then.
func runMetadataLatencyProbe(args []string) int {
	o, err := perftest.ParseMetadataProbeArgs(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench-probe metadata-latency: %v\n%s\n", err, perftest.MetadataProbeUsage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := perftest.ProbeMetadata(ctx, o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench-probe metadata-latency: %v\n", err)
		return 1
	}
	fmt.Print(s.String())
	return 0
}
