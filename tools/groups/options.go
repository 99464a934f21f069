// Package groups is `gokafka consumer-groups`, the counterpart of
// kafka-consumer-groups.sh: --list (with --state), --describe (offsets,
// --members, --state), --reset-offsets with its scopes and scenarios, and
// --delete, with the stock tool's column layouts and messages.
//
// Two deliberate differences: diagnostics ("Error: ...", "Consumer group
// 'g' has no active members.") go to stderr, so that stdout holds only the
// tables; and an "Error:" outcome exits 1 where Kafka's tool exits 0, so
// that scripts can tell.
package groups

import (
	"github.com/gokafka/gokafka/tools/cmdline"
)

// Tool is kafka-consumer-groups.sh's option set (Kafka 3.9) that gokafka
// implements.
var Tool = &cmdline.Tool{
	Name:        "consumer-groups",
	Description: "This tool helps to list all consumer groups, describe a consumer group, delete consumer group info, or reset consumer group offsets.",
	Options: []cmdline.Option{
		{Name: "bootstrap-server", Kind: cmdline.Value, Arg: "String: server to connect to", Help: "REQUIRED: The server(s) to connect to."},
		{Name: "command-config", Kind: cmdline.Value, Arg: "String: command config property file", Help: "Property file containing configs to be passed to Admin Client and Consumer."},
		{Name: "list", Kind: cmdline.Switch, Help: "List all consumer groups."},
		{Name: "describe", Kind: cmdline.Switch, Help: "Describe consumer group and list offset lag (number of messages not yet processed) related to given group."},
		{Name: "delete", Kind: cmdline.Switch, Help: "Pass in groups to delete topic partition offsets and ownership information over the entire consumer group."},
		{Name: "reset-offsets", Kind: cmdline.Switch, Help: "Reset offsets of consumer group. Supports one consumer group at the time, and instances should be inactive.\nHas 2 execution options: --dry-run (the default) to plan which offsets to reset, and --execute to update the offsets."},
		{Name: "group", Kind: cmdline.Value, Arg: "String: consumer group", Help: "The consumer group we wish to act on."},
		{Name: "all-groups", Kind: cmdline.Switch, Help: "Apply to all consumer groups."},
		{Name: "topic", Kind: cmdline.Value, Arg: "String: topic", Help: "The topic whose consumer group information should be deleted or topic whose should be included in the reset offset process.\nIn `reset-offsets` case, partitions can be specified using this format: `topic1:0,1,2`."},
		{Name: "all-topics", Kind: cmdline.Switch, Help: "Consider all topics assigned to a group in the `reset-offsets` process."},
		{Name: "members", Kind: cmdline.Switch, Help: "Describe members of the group. This option may be used with '--describe' and '--bootstrap-server' options only."},
		{Name: "offsets", Kind: cmdline.Switch, Help: "Describe the group and list all topic partitions in the group along with their offset lag. This is the default sub-action of and may be used with '--describe' and '--bootstrap-server' options only."},
		{Name: "state", Kind: cmdline.OptionalValue, Arg: "String", Help: "When specified with '--describe', includes the state of the group.\nWhen specified with '--list', it displays the state of all groups. It can also be used to list groups with specific states."},
		{Name: "dry-run", Kind: cmdline.Switch, Help: "Only show results without executing changes on Consumer Groups. Supported operations: reset-offsets."},
		{Name: "execute", Kind: cmdline.Switch, Help: "Execute operation. Supported operations: reset-offsets."},
		{Name: "to-offset", Kind: cmdline.Value, Arg: "Long: offset", Help: "Reset offsets to a specific offset."},
		{Name: "to-earliest", Kind: cmdline.Switch, Help: "Reset offsets to earliest offset."},
		{Name: "to-latest", Kind: cmdline.Switch, Help: "Reset offsets to latest offset."},
		{Name: "to-current", Kind: cmdline.Switch, Help: "Reset offsets to current offset."},
		{Name: "shift-by", Kind: cmdline.Value, Arg: "Long: number-of-offsets", Help: "Reset offsets shifting current offset by 'n', where 'n' can be positive or negative."},
		{Name: "to-datetime", Kind: cmdline.Value, Arg: "String: datetime", Help: "Reset offsets to offset from datetime. Format: 'YYYY-MM-DDTHH:mm:SS.sss'"},
		{Name: "by-duration", Kind: cmdline.Value, Arg: "String: duration", Help: "Reset offsets to offset by duration from current timestamp. Format: 'PnDTnHnMnS'"},
		{Name: "timeout", Kind: cmdline.Value, Arg: "Long: timeout (ms)", Help: "The timeout that can be set for some use cases.", Default: "5000"},
	},
}

var actions = []string{"list", "describe", "delete", "reset-offsets"}

var scenarios = []string{"to-offset", "to-datetime", "by-duration", "to-earliest", "to-latest", "shift-by", "to-current"}

// checkArgs applies ConsumerGroupCommandOptions.checkArgs' rules.
func checkArgs(v cmdline.Values) error {
	if err := cmdline.CheckExclusive(v, "Command must include exactly one action: --list, --describe, --delete, --reset-offsets", actions...); err != nil {
		return err
	}
	if err := cmdline.CheckRequired(v, "bootstrap-server"); err != nil {
		return err
	}
	needsGroup := func(action string) error {
		if v.Has(action) && !v.Has("group") && !v.Has("all-groups") {
			return cmdline.Usagef("Option [%s] takes one of these options: [all-groups], [group]", action)
		}
		return nil
	}
	for _, a := range []string{"describe", "delete", "reset-offsets"} {
		if err := needsGroup(a); err != nil {
			return err
		}
	}
	for _, o := range []string{"members", "offsets"} {
		if v.Has(o) && !v.Has("describe") {
			return cmdline.Usagef("Option [%s] takes one of these options: [describe]", o)
		}
	}
	if v.Has("state") && !v.Has("describe") && !v.Has("list") {
		return cmdline.Usagef("Option [state] takes one of these options: [describe], [list]")
	}
	if v.Has("describe") {
		n := 0
		for _, o := range []string{"members", "offsets", "state"} {
			if v.Has(o) {
				n++
			}
		}
		if n > 1 {
			return cmdline.Usagef("Option [describe] takes at most one of these options: [members], [offsets], [state]")
		}
	}
	if v.Has("reset-offsets") {
		if v.Has("dry-run") && v.Has("execute") {
			return cmdline.Usagef("Option [reset-offsets] only accepts one of [execute], [dry-run]")
		}
		n := 0
		for _, s := range scenarios {
			if v.Has(s) {
				n++
			}
		}
		if n != 1 {
			return cmdline.Usagef("Option [reset-offsets] takes exactly one of these options: [to-offset], [to-datetime], [by-duration], [to-earliest], [to-latest], [shift-by], [to-current]")
		}
		if v.Has("topic") == v.Has("all-topics") {
			return cmdline.Usagef("Option [reset-offsets] takes one of these options: [all-topics], [topic]")
		}
	} else {
		for _, o := range append([]string{"dry-run", "execute", "all-topics"}, scenarios...) {
			if v.Has(o) {
				return cmdline.Usagef("Option [%s] takes one of these options: [reset-offsets]", o)
			}
		}
	}
	return nil
}
