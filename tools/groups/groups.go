package groups

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gokafka/gokafka/tools/cmdline"
)

// toolError is an "Error: ..." outcome: Kafka's printError wording, on
// stderr, exit 1.
type toolError struct{ msg string }

func (e *toolError) Error() string { return "\nError: " + e.msg }

// Run is `gokafka consumer-groups`.
func Run(args []string, stdout, stderr io.Writer) int {
	return cmdline.Main(Tool, args, stdout, stderr, func(v cmdline.Values) error {
		if err := checkArgs(v); err != nil {
			return err
		}
		cfg, err := cmdline.LoadClientConfig(v.Get("bootstrap-server", ""), v.Get("command-config", ""), "adminclient-1")
		if err != nil {
			return err
		}
		for _, w := range cfg.Warnings {
			fmt.Fprintln(stderr, "WARN "+w)
		}
		ctx, cancel := context.WithTimeout(context.Background(), cfg.APITimeout)
		defer cancel()
		cl, err := cmdline.NewClient(ctx, cfg)
		if err != nil {
			return &toolError{"Executing consumer group command failed due to " + err.Error()}
		}
		defer cl.Close()
		s := &service{adm: kadm.NewClient(cl), v: v, stdout: stdout, stderr: stderr}
		switch {
		case v.Has("list"):
			err = s.list(ctx)
		case v.Has("describe"):
			err = s.describe(ctx)
		case v.Has("delete"):
			err = s.delete(ctx)
		case v.Has("reset-offsets"):
			err = s.reset(ctx)
		}
		var te *toolError
		if err != nil && !errors.As(err, &te) && !errors.Is(err, cmdline.ErrReported) {
			err = &toolError{"Executing consumer group command failed due to " + err.Error()}
		}
		return err
	})
}

type service struct {
	adm            *kadm.Client
	v              cmdline.Values
	stdout, stderr io.Writer
}

// consumerGroups lists the groups with states, keeping those of the
// consumer protocol (or none yet), as Kafka's tool lists consumer groups.
func (s *service) consumerGroups(ctx context.Context) (kadm.ListedGroups, error) {
	lg, err := s.adm.ListGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	for g, l := range lg {
		if l.ProtocolType != "consumer" && l.ProtocolType != "" {
			delete(lg, g)
		}
	}
	return lg, nil
}

func (s *service) list(ctx context.Context) error {
	lg, err := s.consumerGroups(ctx)
	if err != nil {
		return err
	}
	if !s.v.Has("state") {
		for _, g := range lg.Groups() {
			fmt.Fprintln(s.stdout, g)
		}
		return nil
	}
	want := map[string]bool{}
	valid := []string{"PreparingRebalance", "CompletingRebalance", "Stable", "Dead", "Empty"}
	for _, st := range cmdline.SplitList(s.v.Get("state", "")) {
		i := slices.IndexFunc(valid, func(v string) bool { return strings.EqualFold(v, st) })
		if i < 0 {
			return &toolError{fmt.Sprintf("Invalid state list '%s'. Valid states are: %s", s.v.Get("state", ""), strings.Join(valid, ", "))}
		}
		want[valid[i]] = true
	}
	states := map[string]string{}
	var names []string
	for _, g := range lg.Groups() {
		if len(want) == 0 || want[lg[g].State] {
			names = append(names, g)
			states[g] = lg[g].State
		}
	}
	writeList(s.stdout, names, states)
	return nil
}

// groupIDs is --group (repeatable) or every consumer group (--all-groups).
func (s *service) groupIDs(ctx context.Context) ([]string, error) {
	if !s.v.Has("all-groups") {
		return s.v.All("group"), nil
	}
	lg, err := s.consumerGroups(ctx)
	if err != nil {
		return nil, err
	}
	return lg.Groups(), nil
}

// checkState prints Kafka's notes on a group's state and reports whether
// its table should follow (shouldPrintMemberState).
func (s *service) checkState(group, state string) (bool, error) {
	switch state {
	case "Dead", "":
		return false, &toolError{fmt.Sprintf("Consumer group '%s' does not exist.", group)}
	case "Empty":
		fmt.Fprintf(s.stderr, "\nConsumer group '%s' has no active members.\n", group)
	case "PreparingRebalance", "CompletingRebalance":
		fmt.Fprintf(s.stderr, "\nWarning: Consumer group '%s' is rebalancing.\n", group)
	}
	return true, nil
}

func (s *service) describe(ctx context.Context) error {
	ids, err := s.groupIDs(ctx)
	if err != nil {
		return err
	}
	slices.Sort(ids)
	dg, err := s.adm.DescribeGroups(ctx, ids...)
	if err != nil && len(dg) == 0 {
		return fmt.Errorf("describe groups: %w", err)
	}
	failed := false
	for _, id := range ids {
		d, ok := dg[id]
		if !ok || d.Err != nil {
			if errors.Is(d.Err, kerr.GroupIDNotFound) || !ok {
				d.State = "Dead"
			} else {
				return fmt.Errorf("describe group %s: %w", id, d.Err)
			}
		}
		var err error
		switch {
		case s.v.Has("members"):
			err = s.describeMembers(d)
		case s.v.Has("state"):
			err = s.describeState(d)
		default:
			err = s.describeOffsets(ctx, d)
		}
		if err != nil {
			var te *toolError
			if !errors.As(err, &te) {
				return err
			}
			fmt.Fprintln(s.stderr, err)
			failed = true
		}
	}
	if failed {
		return cmdline.ErrReported
	}
	return nil
}

func (s *service) describeOffsets(ctx context.Context, d kadm.DescribedGroup) error {
	committed, err := s.adm.FetchOffsets(ctx, d.Group)
	if err != nil {
		return fmt.Errorf("fetch offsets of %s: %w", d.Group, err)
	}
	type tp struct {
		t string
		p int32
	}
	assigned := map[tp]bool{}
	type memberParts struct {
		m     kadm.DescribedGroupMember
		parts []tp
	}
	var members []memberParts
	for _, m := range d.Members {
		ca, ok := m.Assigned.AsConsumer()
		if !ok {
			continue
		}
		var parts []tp
		for _, t := range ca.Topics {
			for _, p := range t.Partitions {
				parts = append(parts, tp{t.Topic, p})
			}
		}
		if len(parts) > 0 {
			members = append(members, memberParts{m, parts})
		}
	}
	// Members with the most partitions first (a stable sort keeps the
	// broker's order among equals), each member's partitions by topic and
	// partition.
	slices.SortStableFunc(members, func(a, b memberParts) int { return len(b.parts) - len(a.parts) })
	topics := map[string]bool{}
	committed.Each(func(o kadm.OffsetResponse) { topics[o.Topic] = true })
	for _, m := range members {
		for _, p := range m.parts {
			topics[p.t] = true
		}
	}
	ends, err := s.adm.ListEndOffsets(ctx, slices.Sorted(maps.Keys(topics))...)
	if err != nil && len(ends) == 0 && len(topics) > 0 {
		return fmt.Errorf("list end offsets: %w", err)
	}
	row := func(p tp, consumer, host, client string) offsetRow {
		r := offsetRow{group: d.Group, topic: p.t, partition: p.p, hasTopic: true, consumerID: consumer, host: host, clientID: client}
		if o, ok := committed.Lookup(p.t, p.p); ok && o.Err == nil && o.At >= 0 {
			r.offset, r.hasOffset = o.At, true
		}
		if e, ok := ends.Lookup(p.t, p.p); ok && e.Err == nil {
			r.logEnd, r.hasLogEnd = e.Offset, true
		}
		return r
	}
	byPartition := func(a, b tp) int {
		if c := strings.Compare(a.t, b.t); c != 0 {
			return c
		}
		return int(a.p) - int(b.p)
	}
	var rows []offsetRow
	for _, m := range members {
		slices.SortFunc(m.parts, byPartition)
		for _, p := range m.parts {
			assigned[p] = true
			rows = append(rows, row(p, m.m.MemberID, m.m.ClientHost, m.m.ClientID))
		}
	}
	var rest []tp
	committed.Each(func(o kadm.OffsetResponse) {
		if p := (tp{o.Topic, o.Partition}); !assigned[p] && o.Err == nil {
			rest = append(rest, p)
		}
	})
	slices.SortFunc(rest, byPartition)
	for _, p := range rest {
		rows = append(rows, row(p, missing, missing, missing))
	}
	if len(rows) == 0 && d.State == "Dead" {
		_, err := s.checkState(d.Group, d.State)
		return err
	}
	if d.State != "Dead" {
		if _, err := s.checkState(d.Group, d.State); err != nil {
			return err
		}
	}
	if len(rows) > 0 {
		writeOffsets(s.stdout, rows)
	}
	return nil
}

func (s *service) describeMembers(d kadm.DescribedGroup) error {
	if _, err := s.checkState(d.Group, d.State); err != nil {
		return err
	}
	var rows []memberRow
	for _, m := range d.Members {
		r := memberRow{group: d.Group, consumerID: m.MemberID, host: m.ClientHost, clientID: m.ClientID}
		if m.InstanceID != nil {
			r.instanceID = *m.InstanceID
		}
		if ca, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range ca.Topics {
				r.partitions += len(t.Partitions)
			}
		}
		rows = append(rows, r)
	}
	if len(rows) > 0 {
		writeMembers(s.stdout, d.Group, rows)
	}
	return nil
}

func (s *service) describeState(d kadm.DescribedGroup) error {
	if _, err := s.checkState(d.Group, d.State); err != nil {
		return err
	}
	c := d.Coordinator
	writeState(s.stdout, groupState{
		group:       d.Group,
		coordinator: c.Host + ":" + strconv.Itoa(int(c.Port)) + "  (" + strconv.Itoa(int(c.NodeID)) + ")",
		strategy:    d.Protocol,
		state:       d.State,
		members:     len(d.Members),
	})
	return nil
}

func (s *service) delete(ctx context.Context) error {
	ids, err := s.groupIDs(ctx)
	if err != nil {
		return err
	}
	resp, err := s.adm.DeleteGroups(ctx, ids...)
	if err != nil && len(resp) == 0 {
		return fmt.Errorf("delete groups: %w", err)
	}
	var ok, failed []string
	for _, id := range ids {
		r, found := resp[id]
		if found && r.Err == nil {
			ok = append(ok, "'"+id+"'")
			continue
		}
		why := "no response"
		if found {
			why = javaException(r.Err)
		}
		failed = append(failed, fmt.Sprintf("* Group '%s' could not be deleted due to: %s", id, why))
	}
	if len(failed) == 0 {
		fmt.Fprintf(s.stdout, "Deletion of requested consumer groups (%s) was successful.\n", strings.Join(ok, ", "))
		return nil
	}
	fmt.Fprintln(s.stderr, "\nError: Deletion of some consumer groups failed:")
	for _, f := range failed {
		fmt.Fprintln(s.stderr, f)
	}
	if len(ok) > 0 {
		fmt.Fprintf(s.stdout, "\nThese consumer groups were deleted successfully: %s\n", strings.Join(ok, ", "))
	}
	return cmdline.ErrReported
}

// javaException words a broker error as the Java tool prints the
// exception: class name and message.
func javaException(err error) string {
	var ke *kerr.Error
	if !errors.As(err, &ke) {
		return err.Error()
	}
	names := map[int16]string{
		kerr.NonEmptyGroup.Code:   "org.apache.kafka.common.errors.GroupNotEmptyException: The group is not empty.",
		kerr.GroupIDNotFound.Code: "org.apache.kafka.common.errors.GroupIdNotFoundException: The group id does not exist.",
		kerr.InvalidGroupID.Code:  "org.apache.kafka.common.errors.InvalidGroupIdException: The configured groupId is invalid.",
	}
	if n, ok := names[ke.Code]; ok {
		return n
	}
	return ke.Message + ": " + ke.Description
}
