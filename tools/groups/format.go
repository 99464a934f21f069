package groups

import (
	"fmt"
	"io"
	"strconv"
)

// missing is what Kafka's tool prints for a value it does not have.
const missing = "-"

// offsetRow is one line of --describe's offsets table.
type offsetRow struct {
	group, topic               string
	partition                  int32
	offset, logEnd             int64
	consumerID, host, clientID string
	// hasTopic is false for a member with no partitions; hasOffset and
	// hasLogEnd say whether the offsets are known.
	hasTopic, hasOffset, hasLogEnd bool
}

func orMissing(ok bool, n int64) string {
	if !ok {
		return missing
	}
	return strconv.FormatInt(n, 10)
}

// writeOffsets prints one group's offsets table in kafka-consumer-groups'
// layout: columns padded to at least 15 (group, topic, consumer id and
// host to their longest value), a blank line before the header.
func writeOffsets(w io.Writer, rows []offsetRow) {
	gw, tw, cw, hw := 15, 15, 15, 15
	for _, r := range rows {
		gw, tw = max(gw, len(r.group)), max(tw, len(r.topic))
		cw, hw = max(cw, len(r.consumerID)), max(hw, len(r.host))
	}
	format := fmt.Sprintf("\n%%-%ds %%-%ds %%-10s %%-15s %%-15s %%-15s %%-%ds %%-%ds %%s", gw, tw, cw, hw)
	fmt.Fprintf(w, format, "GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID")
	for _, r := range rows {
		topic, part := missing, missing
		if r.hasTopic {
			topic, part = r.topic, strconv.Itoa(int(r.partition))
		}
		lag := missing
		if r.hasOffset && r.hasLogEnd {
			lag = strconv.FormatInt(r.logEnd-r.offset, 10)
		}
		fmt.Fprintf(w, format, r.group, topic, part, orMissing(r.hasOffset, r.offset), orMissing(r.hasLogEnd, r.logEnd), lag, r.consumerID, r.host, r.clientID)
	}
	fmt.Fprintln(w)
}

// memberRow is one line of --describe --members.
type memberRow struct {
	group, consumerID, instanceID, host, clientID string
	partitions                                    int
}

// writeMembers prints --describe --members: GROUP-INSTANCE-ID appears only
// when some member has one. Each line ends in a space, as Kafka's does.
func writeMembers(w io.Writer, group string, rows []memberRow) {
	gw, cw, iw, hw, lw := max(15, len(group)), 15, 17, 15, 15
	withInstance := false
	for _, r := range rows {
		cw, iw, hw, lw = max(cw, len(r.consumerID)), max(iw, len(r.instanceID)), max(hw, len(r.host)), max(lw, len(r.clientID))
		withInstance = withInstance || r.instanceID != ""
	}
	var format string
	if withInstance {
		format = fmt.Sprintf("%%-%ds %%-%ds %%-%ds %%-%ds %%-%ds %%-15s \n", gw, cw, iw, hw, lw)
		fmt.Fprintf(w, "\n"+format, "GROUP", "CONSUMER-ID", "GROUP-INSTANCE-ID", "HOST", "CLIENT-ID", "#PARTITIONS")
	} else {
		format = fmt.Sprintf("%%-%ds %%-%ds %%-%ds %%-%ds %%-15s \n", gw, cw, hw, lw)
		fmt.Fprintf(w, "\n"+format, "GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS")
	}
	for _, r := range rows {
		if withInstance {
			fmt.Fprintf(w, format, r.group, r.consumerID, r.instanceID, r.host, r.clientID, strconv.Itoa(r.partitions))
		} else {
			fmt.Fprintf(w, format, r.group, r.consumerID, r.host, r.clientID, strconv.Itoa(r.partitions))
		}
	}
}

// groupState is one group for --describe --state.
type groupState struct {
	group, coordinator, strategy, state string
	members                             int
}

// writeState prints --describe --state; the coordinator column reads
// "host:port  (id)".
func writeState(w io.Writer, s groupState) {
	cw, gw := max(25, len(s.coordinator)), max(15, len(s.group))
	strategy := s.strategy
	if strategy == "" {
		strategy = missing
	}
	format := fmt.Sprintf("\n%%-%ds %%-%ds %%-20s %%-20s %%s", gw, cw)
	fmt.Fprintf(w, format, "GROUP", "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS")
	fmt.Fprintf(w, format, s.group, s.coordinator, strategy, s.state, strconv.Itoa(s.members))
	fmt.Fprintln(w)
}

// writeList prints --list --state: groups padded to the longest name plus
// ten (at least 25), then the state.
func writeList(w io.Writer, groups []string, states map[string]string) {
	gw := 15
	for _, g := range groups {
		gw = max(gw, len(g))
	}
	format := fmt.Sprintf("%%-%ds %%-20s\n", gw+10)
	fmt.Fprintf(w, format, "GROUP", "STATE")
	for _, g := range groups {
		fmt.Fprintf(w, format, g, states[g])
	}
}

// resetRow is one planned offset of --reset-offsets.
type resetRow struct {
	group, topic string
	partition    int32
	offset       int64
}

// writeResets prints the --reset-offsets plan in Kafka's fixed columns.
func writeResets(w io.Writer, rows []resetRow) {
	const format = "%-30s %-30s %-10s %-15s\n"
	if len(rows) > 0 {
		fmt.Fprintf(w, "\n"+format, "GROUP", "TOPIC", "PARTITION", "NEW-OFFSET")
	}
	for _, r := range rows {
		fmt.Fprintf(w, format, r.group, r.topic, strconv.Itoa(int(r.partition)), strconv.FormatInt(r.offset, 10))
	}
}
