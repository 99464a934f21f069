// Package topics is `gokafka topics`, the counterpart of kafka-topics.sh:
// the same options, the same output (the tab-separated --describe lines
// included) and the same error messages, so that scripts written for the
// stock tool keep working.
//
// It talks to the cluster either through a broker (--bootstrap-server,
// Kafka 3.x's way: CreateTopics, Metadata, DescribeConfigs,
// CreatePartitions, DeleteTopics through franz-go's kadm) or by writing
// Kafka's znodes directly (--zookeeper HOST:PORT[/chroot], as Kafka 2.x's
// tool did; the controller notices the znodes and acts on them). Both
// produce the same topic description, printed by one formatter.
package topics

import (
	"errors"

	"github.com/gokafka/gokafka/tools/cmdline"
)

// Tool is kafka-topics.sh's option set (Kafka 3.9) plus 2.x's --zookeeper.
var Tool = &cmdline.Tool{
	Name:        "topics",
	Description: "This tool helps to create, delete, describe, or change a topic.",
	Options: []cmdline.Option{
		{Name: "bootstrap-server", Kind: cmdline.Value, Arg: "server to connect to", Help: "REQUIRED (unless --zookeeper): The Kafka server to connect to."},
		{Name: "command-config", Kind: cmdline.Value, Arg: "command config property file", Help: "Property file containing configs to be passed to Admin Client."},
		{Name: "zookeeper", Kind: cmdline.Value, Arg: "hosts", Help: "Write Kafka's znodes directly, as Kafka 2.x did: the ZooKeeper connection string\nHOST:PORT[,HOST:PORT...][/chroot]. The controller picks the changes up."},
		{Name: "list", Kind: cmdline.Switch, Help: "List all available topics."},
		{Name: "create", Kind: cmdline.Switch, Help: "Create a new topic."},
		{Name: "delete", Kind: cmdline.Switch, Help: "Delete a topic."},
		{Name: "alter", Kind: cmdline.Switch, Help: "Alter the number of partitions and replica assignment. (To alter topic configurations, the configs tool can be used.)"},
		{Name: "describe", Kind: cmdline.Switch, Help: "List details for the given topics."},
		{Name: "topic", Kind: cmdline.Value, Arg: "topic", Help: "The topic to create, alter, describe or delete. It also accepts a regular expression, except for --create option."},
		{Name: "config", Kind: cmdline.Value, Arg: "name=value", Help: "A topic configuration override for the topic being created. It is supported only in combination with --create."},
		{Name: "partitions", Kind: cmdline.Value, Arg: "# of partitions", Help: "The number of partitions for the topic being created or altered. If not supplied with --create, the topic uses the cluster default."},
		{Name: "replication-factor", Kind: cmdline.Value, Arg: "replication factor", Help: "The replication factor for each partition in the topic being created. If not supplied, the topic uses the cluster default."},
		{Name: "replica-assignment", Kind: cmdline.Value, Arg: "broker_id_for_part1_replica1 : broker_id_for_part1_replica2 , broker_id_for_part2_replica1 : broker_id_for_part2_replica2 , ...", Help: "A list of manual partition-to-broker assignments for the topic being created or altered."},
		{Name: "under-replicated-partitions", Kind: cmdline.Switch, Help: "If set when describing topics, only show under-replicated partitions."},
		{Name: "unavailable-partitions", Kind: cmdline.Switch, Help: "If set when describing topics, only show partitions whose leader is not available."},
		{Name: "under-min-isr-partitions", Kind: cmdline.Switch, Help: "If set when describing topics, only show partitions whose isr count is less than the configured minimum."},
		{Name: "at-min-isr-partitions", Kind: cmdline.Switch, Help: "If set when describing topics, only show partitions whose isr count is equal to the configured minimum."},
		{Name: "topics-with-overrides", Kind: cmdline.Switch, Help: "If set when describing topics, only show topics that have overridden configs."},
		{Name: "if-exists", Kind: cmdline.Switch, Help: "If set when altering or deleting or describing topics, the action will only execute if the topic exists."},
		{Name: "if-not-exists", Kind: cmdline.Switch, Help: "If set when creating topics, the create request will not fail if the topic already exists, but the request will still be sent."},
		{Name: "exclude-internal", Kind: cmdline.Switch, Help: "Exclude internal topics when listing or describing topics. By default, the internal topics are included."},
	},
}

var actions = []string{"create", "list", "alter", "describe", "delete"}

var reportOpts = []string{"under-replicated-partitions", "unavailable-partitions", "under-min-isr-partitions", "at-min-isr-partitions"}

// without returns the actions other than keep.
func without(keep ...string) []string {
	var out []string
	for _, a := range actions {
		found := false
		for _, k := range keep {
			found = found || a == k
		}
		if !found {
			out = append(out, a)
		}
	}
	return out
}

// checkArgs applies TopicCommandOptions.checkArgs' rules and messages.
func checkArgs(v cmdline.Values) error {
	if err := cmdline.CheckExclusive(v, "Command must include exactly one action: --list, --describe, --create, --alter or --delete", actions...); err != nil {
		return err
	}
	switch {
	case v.Has("bootstrap-server") && v.Has("zookeeper"):
		return cmdline.Usagef("Only one of --bootstrap-server or --zookeeper must be specified")
	case !v.Has("bootstrap-server") && !v.Has("zookeeper"):
		// An IllegalArgumentException in Kafka's tool: the message alone.
		return errors.New("--bootstrap-server must be specified")
	}
	if !v.Has("list") && !v.Has("describe") {
		if err := cmdline.CheckRequired(v, "topic"); err != nil {
			return err
		}
	}
	if v.Has("alter") {
		if err := cmdline.CheckRequired(v, "partitions"); err != nil {
			return err
		}
		if v.Has("config") {
			return cmdline.Usagef("Option \"[alter]\" can't be used with option \"[config]\" (To alter topic configurations, the configs tool can be used.)")
		}
	}
	checks := []struct {
		opt     string
		invalid []string
	}{
		{"config", without("alter", "create")},
		{"partitions", without("alter", "create")},
		{"replication-factor", without("create")},
		{"replica-assignment", without("alter", "create")},
		{"if-exists", without("alter", "delete", "describe")},
		{"if-not-exists", without("create")},
		{"exclude-internal", without("list", "describe")},
		{"topics-with-overrides", append(without("describe"), reportOpts...)},
	}
	for _, r := range reportOpts {
		checks = append(checks, struct {
			opt     string
			invalid []string
		}{r, append(without("describe"), "topics-with-overrides")})
	}
	for _, c := range checks {
		if err := cmdline.CheckInvalid(v, c.opt, c.invalid...); err != nil {
			return err
		}
	}
	if v.Has("create") && v.Has("replica-assignment") {
		if err := cmdline.CheckInvalid(v, "replica-assignment", "partitions", "replication-factor"); err != nil {
			return err
		}
	}
	if v.Has("zookeeper") && v.Has("create") && !v.Has("replica-assignment") {
		// Kafka 2.x's --zookeeper path had no broker to take defaults from.
		if err := cmdline.CheckRequired(v, "partitions", "replication-factor"); err != nil {
			return err
		}
	}
	return nil
}
