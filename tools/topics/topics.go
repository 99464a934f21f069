package topics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gokafka/gokafka/tools/cmdline"
)

// zkCommandTimeout bounds a --zookeeper command, which has no
// default.api.timeout.ms of its own.
const zkCommandTimeout = 60 * time.Second

// backend is where the commands go: a broker or ZooKeeper.
type backend interface {
	list(ctx context.Context) ([]string, error)
	create(ctx context.Context, s createSpec) error
	describe(ctx context.Context, names []string) ([]topicInfo, map[int32]bool, error)
	partitionCount(ctx context.Context, topic string) (int, error)
	alter(ctx context.Context, topic string, count int32, assignment [][]int32) error
	delete(ctx context.Context, names []string) error
	close()
}

// createSpec is a --create command. partitions and replicationFactor are
// -1 for the broker's defaults; assignment, when set, replaces both.
type createSpec struct {
	name              string
	partitions        int32
	replicationFactor int32
	assignment        [][]int32
	configs           map[string]string
}

// commandError is an error of the command itself (not of its arguments):
// Kafka's tool prints it behind "Error while executing topic command : ".
type commandError struct{ err error }

func (e *commandError) Error() string {
	return "Error while executing topic command : " + e.err.Error()
}
func (e *commandError) Unwrap() error { return e.err }

// Run is `gokafka topics`: it writes data to stdout, diagnostics to
// stderr, and returns the exit status.
func Run(args []string, stdout, stderr io.Writer) int {
	return cmdline.Main(Tool, args, stdout, stderr, func(v cmdline.Values) error {
		if err := checkArgs(v); err != nil {
			return err
		}
		return run(v, stdout, stderr)
	})
}

func run(v cmdline.Values, stdout, stderr io.Writer) error {
	var (
		b      backend
		ctx    context.Context
		cancel context.CancelFunc
	)
	if v.Has("zookeeper") {
		ctx, cancel = context.WithTimeout(context.Background(), zkCommandTimeout)
		defer cancel()
		zb, err := newZKBackend(ctx, v.Get("zookeeper", ""))
		if err != nil {
			return &commandError{err}
		}
		b = zb
	} else {
		cfg, err := cmdline.LoadClientConfig(v.Get("bootstrap-server", ""), v.Get("command-config", ""), "adminclient-1")
		if err != nil {
			return err
		}
		for _, w := range cfg.Warnings {
			fmt.Fprintln(stderr, "WARN "+w)
		}
		ctx, cancel = context.WithTimeout(context.Background(), cfg.APITimeout)
		defer cancel()
		cl, err := cmdline.NewClient(ctx, cfg)
		if err != nil {
			return &commandError{err}
		}
		b = &adminBackend{cl: cl, adm: kadm.NewClient(cl), timeoutMs: int32(cfg.APITimeout / time.Millisecond)}
	}
	defer b.close()

	var err error
	switch {
	case v.Has("create"):
		err = create(ctx, b, v, stdout, stderr)
	case v.Has("list"):
		err = list(ctx, b, v, stdout)
	case v.Has("describe"):
		err = describe(ctx, b, v, stdout)
	case v.Has("alter"):
		err = alter(ctx, b, v, stderr)
	case v.Has("delete"):
		err = deleteTopics(ctx, b, v, stdout)
	}
	var ae *argError
	if err != nil && !errors.As(err, &ae) {
		return &commandError{err}
	}
	return err
}

// argError is Kafka's IllegalArgumentException from the command: printed
// as its message alone.
type argError struct{ msg string }

func (e *argError) Error() string { return e.msg }

func create(ctx context.Context, b backend, v cmdline.Values, stdout, stderr io.Writer) error {
	s := createSpec{name: v.Get("topic", ""), partitions: -1, replicationFactor: -1}
	var err error
	if s.configs, err = parseConfigs(v.All("config")); err != nil {
		return &argError{err.Error()}
	}
	if v.Has("replica-assignment") && v.Get("replica-assignment", "") != "" {
		if s.assignment, err = parseReplicaAssignment(v.Get("replica-assignment", "")); err != nil {
			return err
		}
	}
	if v.Has("partitions") {
		if s.partitions, err = parseCount("partitions", v.Get("partitions", "")); err != nil {
			return &argError{err.Error()}
		}
		if s.partitions < 1 {
			return &argError{"The partitions must be greater than 0"}
		}
	}
	if v.Has("replication-factor") {
		if s.replicationFactor, err = parseCount("replication-factor", v.Get("replication-factor", "")); err != nil {
			return &argError{err.Error()}
		}
		if s.replicationFactor < 1 || s.replicationFactor > 32767 {
			return &argError{"The replication factor must be between 1 and 32767 inclusive"}
		}
	}
	if strings.ContainsAny(s.name, "._") {
		fmt.Fprintln(stderr, "WARNING: Due to limitations in metric names, topics with a period ('.') or underscore ('_') could collide. To avoid issues it is best to use either, but not both.")
	}
	if err := b.create(ctx, s); err != nil {
		if v.Has("if-not-exists") && isTopicExists(err) {
			return nil
		}
		return err
	}
	fmt.Fprintf(stdout, "Created topic %s.\n", s.name)
	return nil
}

// isTopicExists tells a TOPIC_ALREADY_EXISTS answer (or the --zookeeper
// path's same message) from other failures, for --if-not-exists.
func isTopicExists(err error) bool {
	return errors.Is(err, kerr.TopicAlreadyExists) || strings.HasSuffix(err.Error(), "' already exists.")
}

// topics lists the topics --topic and --exclude-internal select, failing
// as Kafka's ensureTopicExists does when a named topic is missing and
// --if-exists was not given.
func topics(ctx context.Context, b backend, v cmdline.Values) ([]string, error) {
	all, err := b.list(ctx)
	if err != nil {
		return nil, err
	}
	names, err := filterTopics(all, v.Get("topic", ""), v.Has("exclude-internal"))
	if err != nil {
		return nil, err
	}
	if t := v.Get("topic", ""); t != "" && len(names) == 0 && !v.Has("if-exists") {
		return nil, &argError{fmt.Sprintf("Topic '%s' does not exist as expected", t)}
	}
	return names, nil
}

func list(ctx context.Context, b backend, v cmdline.Values, stdout io.Writer) error {
	all, err := b.list(ctx)
	if err != nil {
		return err
	}
	names, err := filterTopics(all, v.Get("topic", ""), v.Has("exclude-internal"))
	if err != nil {
		return err
	}
	if zb, ok := b.(*zkBackend); ok {
		marked, err := zb.marked(ctx)
		if err != nil {
			return err
		}
		for i, n := range names {
			if marked[n] {
				names[i] = n + " - marked for deletion"
			}
		}
	}
	fmt.Fprintln(stdout, strings.Join(names, "\n"))
	return nil
}

func describe(ctx context.Context, b backend, v cmdline.Values, stdout io.Writer) error {
	names, err := topics(ctx, b, v)
	if err != nil || len(names) == 0 {
		return err
	}
	infos, live, err := b.describe(ctx, names)
	if err != nil {
		return err
	}
	f := describeFilter{
		underReplicated: v.Has("under-replicated-partitions"),
		unavailable:     v.Has("unavailable-partitions"),
		underMinISR:     v.Has("under-min-isr-partitions"),
		atMinISR:        v.Has("at-min-isr-partitions"),
		withOverrides:   v.Has("topics-with-overrides"),
	}
	writeDescription(stdout, infos, f, live)
	return nil
}

func alter(ctx context.Context, b backend, v cmdline.Values, stderr io.Writer) error {
	names, err := topics(ctx, b, v)
	if err != nil {
		return err
	}
	count, err := parseCount("partitions", v.Get("partitions", ""))
	if err != nil {
		return &argError{err.Error()}
	}
	var assignment [][]int32
	if ra := v.Get("replica-assignment", ""); ra != "" {
		if assignment, err = parseReplicaAssignment(ra); err != nil {
			return err
		}
	}
	if _, zk := b.(*zkBackend); zk {
		fmt.Fprintln(stderr, "WARNING: If partitions are increased for a topic that has a key, the partition logic or ordering of the messages will be affected")
	}
	for _, t := range names {
		var add [][]int32
		if assignment != nil {
			// The list covers every partition; only those past the
			// current count are new.
			have, err := b.partitionCount(ctx, t)
			if err != nil {
				return err
			}
			if have < len(assignment) {
				add = assignment[have:]
			}
		}
		if err := b.alter(ctx, t, count, add); err != nil {
			return err
		}
	}
	if _, zk := b.(*zkBackend); zk {
		fmt.Fprintln(stderr, "Adding partitions succeeded!")
	}
	return nil
}

func deleteTopics(ctx context.Context, b backend, v cmdline.Values, stdout io.Writer) error {
	names, err := topics(ctx, b, v)
	if err != nil || len(names) == 0 {
		return err
	}
	if err := b.delete(ctx, names); err != nil {
		return err
	}
	if _, zk := b.(*zkBackend); zk {
		for _, n := range names {
			fmt.Fprintf(stdout, "Topic %s is marked for deletion.\nNote: This will have no impact if delete.topic.enable is not set to true.\n", n)
		}
	}
	return nil
}
