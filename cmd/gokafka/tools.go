package main

import (
	"fmt"
	"os"

	"github.com/gokafka/gokafka/tools/cmdline"
	"github.com/gokafka/gokafka/tools/console"
	"github.com/gokafka/gokafka/tools/groups"
	"github.com/gokafka/gokafka/tools/reassign"
	"github.com/gokafka/gokafka/tools/topics"
)

// The Kafka-compatible tools: each takes the stock script's options and
// prints what it prints (tools/...); these wrappers only bind them to the
// process's streams.

func runTopics(args []string) int { return topics.Run(args, os.Stdout, os.Stderr) }

func runConsoleProducer(args []string) int {
	return console.RunProducer(args, os.Stdin, os.Stdout, os.Stderr)
}

func runConsoleConsumer(args []string) int { return console.RunConsumer(args, os.Stdout, os.Stderr) }

func runConsumerGroups(args []string) int { return groups.Run(args, os.Stdout, os.Stderr) }

func runReassignPartitions(args []string) int { return reassign.Run(args, os.Stdout, os.Stderr) }

// runVersion is `gokafka version`.
func runVersion(args []string) int {
	fmt.Println(cmdline.Version())
	return 0
}
