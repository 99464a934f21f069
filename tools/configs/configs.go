// Package configs is `gokafka configs`, the counterpart of Kafka's
// kafka-configs.sh (ConfigCommand) for topics and brokers over
// --bootstrap-server: --describe [--all] prints each entity's configs as
// Kafka prints them, and --alter --add-config/--delete-config changes them
// through IncrementalAlterConfigs.
//
// Output mirrors ConfigCommand 3.9:
//
//	Dynamic configs for topic t are:
//	  retention.ms=1000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=1000, DEFAULT_CONFIG:log.retention.hours=168}
//	Completed updating config for topic t.
//
// Results go to stdout, errors to stderr (ConfigCommand prints its
// "Error while executing config command" line to stdout; here it goes to
// stderr with the error, so that pipelines see only data).
package configs

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Usage is the --help text.
const Usage = `usage: gokafka configs --bootstrap-server HOST:PORT --entity-type topics|brokers
         (--entity-name NAME | --entity-default)
         (--describe [--all] | --alter [--add-config k=v,k2=[a,b]] [--delete-config k,k2])

  --bootstrap-server HOST:PORT  the brokers to connect to (comma-separated)
  --entity-type TYPE            topics or brokers
  --entity-name NAME            a topic name or a broker id; all of them when
                                omitted with --describe
  --entity-default              the cluster-wide default broker config
  --describe                    list the configs (only the dynamic ones
                                without --all)
  --all                         with --describe: every config, with synonyms
  --alter                       change the configs
  --add-config k=v,...          configs to set; [a,b] groups a list value
  --delete-config k,...         configs to remove`

// requestTimeout bounds each admin request, as ConfigCommand's 30 s.
const requestTimeout = 30 * time.Second

// defaultEntity is ConfigCommand's name for the cluster default.
const defaultEntity = "<default>"

// options are the parsed command-line flags.
type options struct {
	bootstrap     string
	entityType    string
	entityName    string
	entityDefault bool
	describe      bool
	all           bool
	alter         bool
	addConfig     string
	deleteConfig  string
}

// usageError is a bad command line: the usage is printed and the exit
// code is 1, as joptsimple's printUsageAndExit.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// Main runs the tool with os.Args-style arguments (without the
// subcommand) and returns the exit code.
func Main(args []string) int {
	return Run(context.Background(), args, os.Stdout, os.Stderr)
}

// Run is Main with its streams and context given, for tests.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	for _, a := range args {
		if a == "--help" || a == "-h" {
			fmt.Fprintln(stdout, Usage)
			return 0
		}
	}
	o, err := parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "%v\n%s\n", err, Usage)
		return 1
	}
	if err := run(ctx, o, stdout); err != nil {
		fmt.Fprintf(stderr, "Error while executing config command with args '%s'\n%v\n", strings.Join(args, " "), err)
		return 1
	}
	return 0
}

func parse(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("configs", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.bootstrap, "bootstrap-server", "", "")
	fs.StringVar(&o.entityType, "entity-type", "", "")
	fs.StringVar(&o.entityName, "entity-name", "", "")
	fs.BoolVar(&o.entityDefault, "entity-default", false, "")
	fs.BoolVar(&o.describe, "describe", false, "")
	fs.BoolVar(&o.all, "all", false, "")
	fs.BoolVar(&o.alter, "alter", false, "")
	fs.StringVar(&o.addConfig, "add-config", "", "")
	fs.StringVar(&o.deleteConfig, "delete-config", "", "")
	// Kafka's shortcuts --topic T and --broker N.
	var topic, broker string
	fs.StringVar(&topic, "topic", "", "")
	fs.StringVar(&broker, "broker", "", "")
	if err := fs.Parse(args); err != nil {
		return o, usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return o, usageError{fmt.Sprintf("Found non argument parameters: %s", strings.Join(fs.Args(), ","))}
	}
	if topic != "" {
		o.entityType, o.entityName = "topics", topic
	}
	if broker != "" {
		o.entityType, o.entityName = "brokers", broker
	}
	switch {
	case o.bootstrap == "":
		return o, usageError{"One of the required arguments --bootstrap-server or --zookeeper must be specified"}
	case o.describe == o.alter:
		return o, usageError{"Command must include exactly one action: --describe, --alter"}
	case o.entityType == "":
		return o, usageError{"At least one entity type must be specified"}
	case o.entityType != "topics" && o.entityType != "brokers":
		return o, usageError{fmt.Sprintf("Invalid entity type %s, the entity type must be one of topics, brokers (gokafka implements these two)", o.entityType)}
	case o.entityName != "" && o.entityDefault:
		return o, usageError{"--entity-name and --entity-default cannot be used together"}
	case o.entityDefault && o.entityType == "topics":
		return o, usageError{"--entity-default is not supported for entity type topics"}
	case o.alter && o.entityName == "" && !o.entityDefault:
		return o, usageError{"an entity name must be specified with --alter of topics"}
	case o.alter && o.addConfig == "" && o.deleteConfig == "":
		return o, usageError{"At least one of --add-config or --delete-config must be specified with --alter"}
	case o.describe && (o.addConfig != "" || o.deleteConfig != ""):
		return o, usageError{"--add-config and --delete-config are only valid with --alter"}
	case o.all && !o.describe:
		return o, usageError{"--all is only valid with --describe"}
	}
	if o.entityType == "brokers" && o.entityName != "" {
		if _, err := strconv.ParseInt(o.entityName, 10, 32); err != nil {
			return o, usageError{fmt.Sprintf("The entity name for brokers must be a valid integer broker id, but it is: %s", o.entityName)}
		}
	}
	if o.entityDefault {
		o.entityName = defaultEntity
	}
	return o, nil
}

// run connects and performs the action.
func run(ctx context.Context, o options, stdout io.Writer) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(o.bootstrap, ",")...), kgo.ClientID("gokafka-configs"))
	if err != nil {
		return fmt.Errorf("bootstrap server %s: %w", o.bootstrap, err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if o.describe {
		return describe(ctx, adm, o, stdout)
	}
	return alter(ctx, adm, o, stdout)
}

// describe prints the configs of the named entity, or of every topic or
// every broker and the cluster default.
func describe(ctx context.Context, adm *kadm.Client, o options, stdout io.Writer) error {
	entities := []string{o.entityName}
	if o.entityName == "" {
		rctx, cancel := context.WithTimeout(ctx, requestTimeout)
		defer cancel()
		entities = nil
		if o.entityType == "topics" {
			tds, err := adm.ListTopicsWithInternal(rctx)
			if err != nil {
				return connErr(o, err)
			}
			entities = tds.Names()
		} else {
			bs, err := adm.ListBrokers(rctx)
			if err != nil {
				return connErr(o, err)
			}
			for _, id := range bs.NodeIDs() {
				entities = append(entities, strconv.Itoa(int(id)))
			}
			entities = append(entities, defaultEntity)
		}
	}
	singular := strings.TrimSuffix(o.entityType, "s")
	for _, e := range entities {
		cfgs, err := resourceConfigs(ctx, adm, o, e)
		if err != nil {
			return err
		}
		switch {
		case e == defaultEntity:
			fmt.Fprintf(stdout, "Default configs for %s in the cluster are:\n", o.entityType)
		case o.all:
			fmt.Fprintf(stdout, "All configs for %s %s are:\n", singular, e)
		default:
			fmt.Fprintf(stdout, "Dynamic configs for %s %s are:\n", singular, e)
		}
		for _, c := range cfgs {
			syns := make([]string, len(c.Synonyms))
			for i, s := range c.Synonyms {
				syns[i] = fmt.Sprintf("%s:%s=%s", s.Source, s.Key, orNull(s.Value))
			}
			fmt.Fprintf(stdout, "  %s=%s sensitive=%t synonyms={%s}\n", c.Key, orNull(c.Value), c.Sensitive, strings.Join(syns, ", "))
		}
	}
	return nil
}

// orNull prints a nullable value as Java's string concatenation does.
func orNull(s *string) string {
	if s == nil {
		return "null"
	}
	return *s
}

// resourceConfigs describes one entity and keeps, unless --all, the
// configs set at its own level (ConfigCommand.getResourceConfig), sorted
// by name.
func resourceConfigs(ctx context.Context, adm *kadm.Client, o options, entity string) ([]kadm.Config, error) {
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	var (
		rcs  kadm.ResourceConfigs
		err  error
		keep = kmsg.ConfigSourceDynamicTopicConfig
	)
	switch {
	case o.entityType == "topics":
		rcs, err = adm.DescribeTopicConfigs(rctx, entity)
	case entity == defaultEntity:
		keep = kmsg.ConfigSourceDynamicDefaultBrokerConfig
		rcs, err = adm.DescribeBrokerConfigs(rctx)
	default:
		keep = kmsg.ConfigSourceDynamicBrokerConfig
		id, _ := strconv.ParseInt(entity, 10, 32)
		rcs, err = adm.DescribeBrokerConfigs(rctx, int32(id))
	}
	if err != nil {
		return nil, connErr(o, err)
	}
	if len(rcs) != 1 {
		return nil, fmt.Errorf("describe %s %s: %d resources in the answer", o.entityType, entity, len(rcs))
	}
	if rcs[0].Err != nil {
		return nil, kafkaError(rcs[0].Err, rcs[0].ErrMessage)
	}
	var out []kadm.Config
	for _, c := range rcs[0].Configs {
		if o.all || c.Source == keep {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// alter applies --add-config and --delete-config to one entity; a key to
// delete that the entity does not set is refused first, as ConfigCommand
// refuses it.
func alter(ctx context.Context, adm *kadm.Client, o options, stdout io.Writer) error {
	add, err := parseAddConfig(o.addConfig)
	if err != nil {
		return err
	}
	var del []string
	for _, k := range strings.Split(o.deleteConfig, ",") {
		if k = strings.TrimSpace(k); k != "" {
			del = append(del, k)
		}
	}
	if len(del) > 0 {
		cur, err := resourceConfigs(ctx, adm, options{entityType: o.entityType, bootstrap: o.bootstrap}, o.entityName)
		if err != nil {
			return err
		}
		set := map[string]bool{}
		for _, c := range cur {
			set[c.Key] = true
		}
		var missing []string
		for _, k := range del {
			if !set[k] {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("org.apache.kafka.common.errors.InvalidConfigurationException: Invalid config(s): %s", strings.Join(missing, ","))
		}
	}
	var acs []kadm.AlterConfig
	for _, kv := range add {
		acs = append(acs, kadm.AlterConfig{Op: kadm.SetConfig, Name: kv[0], Value: kadm.StringPtr(kv[1])})
	}
	for _, k := range del {
		acs = append(acs, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
	}
	rctx, cancel := context.WithTimeout(ctx, 2*requestTimeout)
	defer cancel()
	var rs kadm.AlterConfigsResponses
	switch {
	case o.entityType == "topics":
		rs, err = adm.AlterTopicConfigs(rctx, acs, o.entityName)
	case o.entityName == defaultEntity:
		rs, err = adm.AlterBrokerConfigs(rctx, acs)
	default:
		id, _ := strconv.ParseInt(o.entityName, 10, 32)
		rs, err = adm.AlterBrokerConfigs(rctx, acs, int32(id))
	}
	if err != nil {
		return connErr(o, err)
	}
	for _, r := range rs {
		if r.Err != nil {
			return kafkaError(r.Err, r.ErrMessage)
		}
	}
	if o.entityName == defaultEntity {
		fmt.Fprintf(stdout, "Completed updating default config for %s in the cluster.\n", o.entityType)
	} else {
		fmt.Fprintf(stdout, "Completed updating config for %s %s.\n", strings.TrimSuffix(o.entityType, "s"), o.entityName)
	}
	return nil
}

// parseAddConfig splits "k=v,k2=[a,b],k3=v3" into pairs; square brackets
// group a list value whose commas are not separators, and are removed, as
// ConfigCommand.parseConfigsToBeAdded does.
func parseAddConfig(s string) ([][2]string, error) {
	var out [][2]string
	depth, start := 0, 0
	var items []string
	for i, r := range s {
		switch r {
		case '[':
			depth++
		case ']':
			depth--
		case ',':
			if depth == 0 {
				items = append(items, s[start:i])
				start = i + 1
			}
		}
	}
	items = append(items, s[start:])
	for _, it := range items {
		if strings.TrimSpace(it) == "" {
			continue
		}
		k, v, ok := strings.Cut(it, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, errors.New("java.lang.IllegalArgumentException: requirement failed: Invalid entity config: all configs to be added must be in the format \"key=val\".")
		}
		v = strings.TrimSpace(v)
		if strings.HasPrefix(v, "[") && strings.HasSuffix(v, "]") {
			v = v[1 : len(v)-1]
		}
		out = append(out, [2]string{strings.TrimSpace(k), v})
	}
	return out, nil
}

// javaExceptions names the Java exception of the errors this tool meets,
// so messages read like ConfigCommand's.
var javaExceptions = map[int16]string{
	kerr.InvalidConfig.Code:           "org.apache.kafka.common.errors.InvalidConfigurationException",
	kerr.InvalidRequest.Code:          "org.apache.kafka.common.errors.InvalidRequestException",
	kerr.UnknownTopicOrPartition.Code: "org.apache.kafka.common.errors.UnknownTopicOrPartitionException",
	kerr.InvalidTopicException.Code:   "org.apache.kafka.common.errors.InvalidTopicException",
	kerr.PolicyViolation.Code:         "org.apache.kafka.common.errors.PolicyViolationException",
	kerr.UnknownServerError.Code:      "org.apache.kafka.common.errors.UnknownServerException",
}

// kafkaError renders a broker's error as ConfigCommand prints the
// exception: its class and message.
func kafkaError(err error, msg string) error {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		name, ok := javaExceptions[ke.Code]
		if !ok {
			name = "org.apache.kafka.common.errors." + ke.Message
		}
		if msg == "" {
			msg = ke.Description
		}
		return fmt.Errorf("%s: %s", name, msg)
	}
	if msg != "" {
		return fmt.Errorf("%w: %s", err, msg)
	}
	return err
}

// connErr names the bootstrap servers when the cluster could not be
// reached.
func connErr(o options, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("org.apache.kafka.common.errors.TimeoutException: no answer from the bootstrap server(s) %s within %s: %w", o.bootstrap, requestTimeout, err)
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return kafkaError(err, "")
	}
	return fmt.Errorf("bootstrap server(s) %s: %w", o.bootstrap, err)
}
