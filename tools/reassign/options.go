// Package reassign is `gokafka reassign-partitions`, the counterpart of
// kafka-reassign-partitions.sh (ReassignPartitionsCommand, Kafka 3.9) over
// --bootstrap-server: --generate proposes an assignment of some topics
// over a broker list, --execute starts the reassignments of a JSON file
// (AlterPartitionReassignments, with --throttle setting the replication
// throttles as Kafka's tool does; then AlterReplicaLogDirs for the
// replicas whose log_dirs name a dir, with --replica-alter-log-dirs-throttle
// setting replica.alter.log.dirs.io.max.bytes.per.second on their
// brokers), --verify reports the progress of both and clears the throttles
// once they are done, --cancel cancels them and --list lists every
// reassignment in progress. The JSON formats and the messages are the
// stock tool's.
//
// What is left out: --generate assigns without racks (as with
// --disable-rack-aware); a cluster whose brokers all have a rack gets an
// error asking for --disable-rack-aware rather than a plan that ignores
// them silently. Diagnostics go to stderr and a failure exits 1, as the
// stock tool exits 1 (it prints its errors to stdout).
package reassign

import (
	"maps"
	"slices"
	"strings"

	"github.com/gokafka/gokafka/tools/cmdline"
)

// Tool is kafka-reassign-partitions.sh's option set (Kafka 3.9).
var Tool = &cmdline.Tool{
	Name:        "reassign-partitions",
	Description: "This tool helps to move topic partitions between replicas.",
	Options: []cmdline.Option{
		{Name: "bootstrap-server", Kind: cmdline.Value, Arg: "String: Server(s) to use for bootstrapping", Help: "REQUIRED: the server(s) to use for bootstrapping."},
		{Name: "command-config", Kind: cmdline.Value, Arg: "String: Admin client property file", Help: "Property file containing configs to be passed to Admin Client."},
		{Name: "generate", Kind: cmdline.Switch, Help: "Generate a candidate partition reassignment configuration. Note that this only generates a candidate assignment, it does not execute it."},
		{Name: "execute", Kind: cmdline.Switch, Help: "Kick off the reassignment as specified by the --reassignment-json-file option."},
		{Name: "verify", Kind: cmdline.Switch, Help: "Verify if the reassignment completed as specified by the --reassignment-json-file option. If there is a throttle engaged for the replicas specified, and the rebalance has completed, the throttle will be removed"},
		{Name: "cancel", Kind: cmdline.Switch, Help: "Cancel an active reassignment."},
		{Name: "list", Kind: cmdline.Switch, Help: "List all active partition reassignments."},
		{Name: "reassignment-json-file", Kind: cmdline.Value, Arg: "String: manual assignment json file path", Help: "The JSON file with the partition reassignment configurationThe format to use is - \n{\"partitions\":\n\t[{\"topic\": \"foo\",\n\t  \"partition\": 1,\n\t  \"replicas\": [1,2,3],\n\t  \"log_dirs\": [\"dir1\",\"dir2\",\"dir3\"] }],\n\"version\":1\n}\nNote that \"log_dirs\" is optional. When it is specified, its length must equal the length of the replicas list. The value in this list can be either \"any\" or the absolution path of the log directory on the broker. If absolute log directory path is specified, the replica will be moved to the specified log directory on the broker."},
		{Name: "topics-to-move-json-file", Kind: cmdline.Value, Arg: "String: topics to reassign json file path", Help: "Generate a reassignment configuration to move the partitions of the specified topics to the list of brokers specified by the --broker-list option. The format to use is - \n{\"topics\":\n\t[{\"topic\": \"foo\"},{\"topic\": \"foo1\"}],\n\"version\":1\n}"},
		{Name: "broker-list", Kind: cmdline.Value, Arg: "String: brokerlist", Help: "The list of brokers to which the partitions need to be reassigned in the form \"0,1,2\". This is required if --topics-to-move-json-file is used to generate reassignment configuration"},
		{Name: "disable-rack-aware", Kind: cmdline.Switch, Help: "Disable rack aware replica assignment"},
		{Name: "throttle", Kind: cmdline.Value, Arg: "Long: throttle", Help: "The movement of partitions between brokers will be throttled to this value (bytes/sec). This option can be included with --execute when a reassignment is started, and it can be altered by resubmitting the current reassignment along with the --additional flag. The throttle rate should be at least 1 KB/s.", Default: "-1"},
		{Name: "replica-alter-log-dirs-throttle", Kind: cmdline.Value, Arg: "Long: replicaAlterLogDirsThrottle", Help: "The movement of replicas between log directories on the same broker will be throttled to this value (bytes/sec). This option can be included with --execute when a reassignment is started, and it can be altered by resubmitting the current reassignment along with the --additional flag. The throttle rate should be at least 1 KB/s.", Default: "-1"},
		{Name: "timeout", Kind: cmdline.Value, Arg: "Long: timeout", Help: "The maximum time in ms to wait for log directory replica assignment to begin.", Default: "10000"},
		{Name: "additional", Kind: cmdline.Switch, Help: "Execute this reassignment in addition to any other ongoing ones. This option can also be used to change the throttle of an ongoing reassignment."},
		{Name: "preserve-throttles", Kind: cmdline.Switch, Help: "Do not modify broker or topic throttles."},
	},
}

var actions = []string{"generate", "execute", "verify", "cancel", "list"}

// required and permitted are validateAndParseArgs' tables: the options
// each action needs and may have.
var (
	required = map[string][]string{
		"verify":   {"reassignment-json-file"},
		"generate": {"topics-to-move-json-file", "broker-list"},
		"execute":  {"reassignment-json-file"},
		"cancel":   {"reassignment-json-file"},
		"list":     nil,
	}
	permitted = map[string][]string{
		"verify":   {"bootstrap-server", "command-config", "preserve-throttles"},
		"generate": {"bootstrap-server", "broker-list", "command-config", "disable-rack-aware"},
		"execute":  {"additional", "bootstrap-server", "command-config", "throttle", "replica-alter-log-dirs-throttle", "timeout"},
		"cancel":   {"bootstrap-server", "command-config", "preserve-throttles", "timeout"},
		"list":     {"bootstrap-server", "command-config"},
	}
)

// checkArgs applies validateAndParseArgs' rules and returns the action.
func checkArgs(v cmdline.Values) (string, error) {
	var given []string
	for _, a := range actions {
		if v.Has(a) {
			given = append(given, a)
		}
	}
	if len(given) != 1 {
		return "", cmdline.Usagef("Command must include exactly one action: --generate, --execute, --verify, --cancel, --list")
	}
	action := given[0]
	if !v.Has("bootstrap-server") {
		return "", cmdline.Usagef("Please specify --bootstrap-server")
	}
	if err := cmdline.CheckRequired(v, required[action]...); err != nil {
		return "", err
	}
	for _, name := range slices.Sorted(maps.Keys(v)) {
		if name == action || contains(required[action], name) || contains(permitted[action], name) {
			continue
		}
		// jopt-simple prints an option spec as its names in brackets.
		return "", cmdline.Usagef("Option \"[%s]\" can't be used with action \"[%s]\"", name, action)
	}
	return action, nil
}

func contains(xs []string, x string) bool { return slices.Contains(xs, x) }

// joinInts writes ids comma-separated, as the tool prints replica lists.
func joinInts(ids []int32) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(itoa(id))
	}
	return b.String()
}
