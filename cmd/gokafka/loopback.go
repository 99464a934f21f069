package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/gokafka/gokafka/perftest"
)

// runLoopbackTest is the hidden `gokafka loopback-test` used by make bench:
// single-stream TCP throughput over 127.0.0.1, the machine's ceiling for
// one client connection. It prints "<MiB/s> MB/s" on the last line.
func runLoopbackTest(args []string) int {
	fs := flag.NewFlagSet("loopback-test", flag.ContinueOnError)
	total := fs.Int64("bytes", 4<<30, "bytes to send")
	chunk := fs.Int("chunk", 1<<20, "bytes per write and read")
	timeout := fs.Duration("timeout", time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	res, err := perftest.Loopback(ctx, *total, *chunk)
	if err != nil {
		fmt.Fprintf(os.Stderr, "loopback-test: %v\n", err)
		return 1
	}
	fmt.Printf("%d bytes in %.3f s\n%.1f MB/s\n", res.Bytes, res.Elapsed.Seconds(), res.MBPerSec())
	return 0
}
