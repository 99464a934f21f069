package reassign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/gokafka/tools/cmdline"
)

// The stock tool's messages.
const (
	cannotExecuteBecauseOfExisting = "Cannot execute because there is an existing partition assignment.  Use --additional to override this and create a new partition assignment in addition to the existing one. The --additional flag can also be used to change the throttle by resubmitting the current reassignment."
	mustRunVerifyPeriodically      = "Warning: You must run --verify periodically, until the reassignment completes, to ensure the throttle is removed."
)

// The throttle configs the tool sets and clears.
var (
	brokerThrottles = []string{"leader.replication.throttled.rate", "follower.replication.throttled.rate", "replica.alter.log.dirs.io.max.bytes.per.second"}
	topicThrottles  = []string{"leader.replication.throttled.replicas", "follower.replication.throttled.replicas"}
)

// Run runs the tool with os.Args-style arguments (without the subcommand)
// and returns the exit code.
func Run(args []string, stdout, stderr io.Writer) int {
	return cmdline.Main(Tool, args, stdout, stderr, func(v cmdline.Values) error {
		action, err := checkArgs(v)
		if err != nil {
			return err
		}
		cfg, err := cmdline.LoadClientConfig(v.Get("bootstrap-server", ""), v.Get("command-config", ""), "reassign-partitions-tool")
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
			return fmt.Errorf("Error: %w", err)
		}
		defer cl.Close()
		c := &command{cl: cl, adm: kadm.NewClient(cl), v: v, out: stdout}
		switch action {
		case "list":
			err = c.list(ctx)
		case "execute":
			err = c.execute(ctx)
		case "verify":
			err = c.verify(ctx)
		case "cancel":
			err = c.cancel(ctx)
		case "generate":
			err = c.generate(ctx)
		}
		return err
	})
}

type command struct {
	cl  *kgo.Client
	adm *kadm.Client
	v   cmdline.Values
	out io.Writer
}

// tp is a topic partition, printed as Kafka prints a TopicPartition.
type tp struct {
	topic     string
	partition int32
}

func (p tp) String() string { return fmt.Sprintf("%s-%d", p.topic, p.partition) }

func sortTPs(ps []tp) {
	slices.SortFunc(ps, func(a, b tp) int {
		if c := strings.Compare(a.topic, b.topic); c != 0 {
			return c
		}
		return int(a.partition - b.partition)
	})
}

func joinTPs(ps []tp) string {
	sortTPs(ps)
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

func itoa(id int32) string { return strconv.Itoa(int(id)) }

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// entry is one partition of a reassignment JSON file.
type entry struct {
	p        tp
	replicas []int32
	logDirs  []string // nil, or a dir or "any" per replica
}

// reassignmentJSON is the --reassignment-json-file format.
type reassignmentJSON struct {
	Version    *int `json:"version"`
	Partitions []struct {
		Topic     *string  `json:"topic"`
		Partition *int32   `json:"partition"`
		Replicas  []int32  `json:"replicas"`
		LogDirs   []string `json:"log_dirs"`
	} `json:"partitions"`
}

// readReassignment parses a reassignment JSON file (Kafka's
// parsePartitionReassignmentData), keeping duplicates for the checks.
func readReassignment(path string) ([]entry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var v reassignmentJSON
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("The input string is not a valid JSON: %v", err)
	}
	if v.Version != nil && *v.Version != 1 {
		return nil, fmt.Errorf("Not supported version field value %d", *v.Version)
	}
	var out []entry
	for _, p := range v.Partitions {
		if p.Topic == nil || p.Partition == nil || p.Replicas == nil {
			return nil, errors.New("Each partition needs \"topic\", \"partition\" and \"replicas\"")
		}
		e := entry{p: tp{*p.Topic, *p.Partition}, replicas: p.Replicas, logDirs: p.LogDirs}
		if p.LogDirs != nil && len(p.LogDirs) != len(p.Replicas) {
			return nil, fmt.Errorf("Size of replicas list %s is different from size of log dirs list %s for partition %s",
				javaList(p.Replicas), "["+strings.Join(p.LogDirs, ", ")+"]", e.p)
		}
		out = append(out, e)
	}
	return out, nil
}

// javaList prints ids as a Java List: [1, 2, 3].
func javaList(ids []int32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = itoa(id)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// formatJSON writes assignments as the tool's JSON (formatAsReassignmentJson):
// partitions sorted, each with "log_dirs" of "any".
func formatJSON(a map[tp][]int32) string {
	ps := slices.Collect(maps.Keys(a))
	sortTPs(ps)
	type part struct {
		Topic     string   `json:"topic"`
		Partition int32    `json:"partition"`
		Replicas  []int32  `json:"replicas"`
		LogDirs   []string `json:"log_dirs"`
	}
	v := struct {
		Version    int    `json:"version"`
		Partitions []part `json:"partitions"`
	}{Version: 1, Partitions: []part{}}
	for _, p := range ps {
		dirs := make([]string, len(a[p]))
		for i := range dirs {
			dirs[i] = "any"
		}
		v.Partitions = append(v.Partitions, part{p.topic, p.partition, a[p], dirs})
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// ongoing is every reassignment in progress (ListPartitionReassignments
// with no topics named, as the Java admin client's
// listPartitionReassignments()).
func (c *command) ongoing(ctx context.Context) (map[tp]kmsg.ListPartitionReassignmentsResponseTopicPartition, error) {
	req := kmsg.NewPtrListPartitionReassignmentsRequest()
	req.TimeoutMillis = 30000
	resp, err := req.RequestWith(ctx, c.cl)
	if err != nil {
		return nil, err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, err
	}
	out := map[tp]kmsg.ListPartitionReassignmentsResponseTopicPartition{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			out[tp{t.Topic, p.Partition}] = p
		}
	}
	return out, nil
}

// list is --list.
func (c *command) list(ctx context.Context) error {
	cur, err := c.ongoing(ctx)
	if err != nil {
		return err
	}
	if len(cur) == 0 {
		fmt.Fprintln(c.out, "No partition reassignments found.")
		return nil
	}
	ps := slices.Collect(maps.Keys(cur))
	sortTPs(ps)
	fmt.Fprintln(c.out, "Current partition reassignments:")
	for _, p := range ps {
		r := cur[p]
		line := fmt.Sprintf("%s: replicas: %s.", p, joinInts(r.Replicas))
		if len(r.AddingReplicas) > 0 {
			line += fmt.Sprintf(" adding: %s.", joinInts(r.AddingReplicas))
		}
		if len(r.RemovingReplicas) > 0 {
			line += fmt.Sprintf(" removing: %s.", joinInts(r.RemovingReplicas))
		}
		fmt.Fprintln(c.out, line)
	}
	return nil
}

// replicasOf reads the current replicas of the given topics' partitions
// from Metadata; a topic that does not exist is an error.
func (c *command) replicasOf(ctx context.Context, topics []string) (map[tp][]int32, error) {
	m, err := c.adm.Metadata(ctx, topics...)
	if err != nil {
		return nil, err
	}
	out := map[tp][]int32{}
	for _, t := range topics {
		td, ok := m.Topics[t]
		if !ok || td.Err != nil {
			return nil, fmt.Errorf("org.apache.kafka.common.errors.UnknownTopicOrPartitionException: Topic %s not found.", t)
		}
		for _, p := range td.Partitions {
			out[tp{t, p.Partition}] = p.Replicas
		}
	}
	return out, nil
}

func topicsOf(es []entry) []string {
	var out []string
	for _, e := range es {
		if !slices.Contains(out, e.p.topic) {
			out = append(out, e.p.topic)
		}
	}
	return out
}

// execute is --execute (Kafka's executeAssignment).
func (c *command) execute(ctx context.Context) error {
	throttle, err := c.longOption("throttle", "-1")
	if err != nil {
		return err
	}
	dirThrottle, err := c.longOption("replica-alter-log-dirs-throttle", "-1")
	if err != nil {
		return err
	}
	timeoutMs, err := c.longOption("timeout", "10000")
	if err != nil {
		return err
	}
	es, err := readReassignment(c.v.Get("reassignment-json-file", ""))
	if err != nil {
		return err
	}
	if err := checkExecute(es); err != nil {
		return err
	}
	proposed := map[tp][]int32{}
	for _, e := range es {
		proposed[e.p] = e.replicas
	}
	cur, err := c.ongoing(ctx)
	if err != nil {
		return err
	}
	if !c.v.Has("additional") && len(cur) > 0 {
		return errors.New(cannotExecuteBecauseOfExisting)
	}
	meta, err := c.adm.BrokerMetadata(ctx)
	if err != nil {
		return err
	}
	known := meta.Brokers.NodeIDs()
	for _, e := range es {
		for _, r := range e.replicas {
			if !slices.Contains(known, r) {
				return fmt.Errorf("Unknown broker id %d", r)
			}
		}
	}
	current, err := c.replicasOf(ctx, topicsOf(es))
	if err != nil {
		return err
	}
	shown := map[tp][]int32{}
	var missing []string
	for p := range proposed {
		if r, ok := current[p]; ok {
			shown[p] = r
		} else {
			missing = append(missing, p.String())
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("org.apache.kafka.common.errors.UnknownTopicOrPartitionException: Unable to find partition: %s", strings.Join(missing, ", "))
	}
	fmt.Fprintf(c.out, "Current partition replica assignment\n\n%s\n\nSave this to use as the --reassignment-json-file option during rollback\n", formatJSON(shown))
	targets := logDirTargets(es)
	if throttle >= 0 || dirThrottle >= 0 {
		fmt.Fprintln(c.out, mustRunVerifyPeriodically)
	}
	if throttle >= 0 {
		if err := c.setThrottles(ctx, moveMap(cur, proposed, current), throttle); err != nil {
			return err
		}
	}
	if dirThrottle >= 0 {
		if err := c.setLogDirThrottle(ctx, targets, dirThrottle); err != nil {
			return err
		}
	}
	req := kadm.AlterPartitionAssignmentsReq{}
	for p, r := range proposed {
		req.Assign(p.topic, p.partition, r)
	}
	failed, err := c.alter(ctx, req)
	if err != nil {
		return err
	}
	if len(failed) > 0 {
		return fmt.Errorf("Error reassigning partition(s):\n%s", strings.Join(failed, "\n"))
	}
	fmt.Fprintf(c.out, "Successfully started partition reassignment%s for %s\n", plural(len(proposed)), joinTPs(slices.Collect(maps.Keys(proposed))))
	// The log dir moves go after the reassignment, as Kafka's tool sends
	// them: a replica new to a broker is retried until it is there.
	if len(targets) > 0 {
		return c.executeMoves(ctx, targets, time.Duration(timeoutMs)*time.Millisecond)
	}
	return nil
}

// longOption parses a Long option, with jopt-simple's message.
func (c *command) longOption(name, def string) (int64, error) {
	n, err := strconv.ParseInt(c.v.Get(name, def), 10, 64)
	if err != nil {
		return 0, cmdline.Usagef("Cannot parse argument '%s' of option %s", c.v.Get(name, ""), name)
	}
	return n, nil
}

// alter sends AlterPartitionReassignments and returns the partitions it
// refused as "topic-p: message" lines, sorted.
func (c *command) alter(ctx context.Context, req kadm.AlterPartitionAssignmentsReq) ([]string, error) {
	resp, err := c.adm.AlterPartitionAssignments(ctx, req)
	if err != nil {
		return nil, err
	}
	var failed []string
	resp.Each(func(r kadm.AlterPartitionAssignmentsResponse) {
		if r.Err != nil {
			failed = append(failed, fmt.Sprintf("%s: %s", tp{r.Topic, r.Partition}, errMessage(r.Err, r.ErrMessage)))
		}
	})
	slices.Sort(failed)
	return failed, nil
}

// errMessage is what the Java client's exception says: the broker's
// message when it sent one, else the error's description.
func errMessage(err error, msg string) string {
	if msg != "" {
		return msg
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Description
	}
	return err.Error()
}

// checkExecute applies parseExecuteAssignmentArgs' checks.
func checkExecute(es []entry) error {
	if len(es) == 0 {
		return errors.New("Partition reassignment list cannot be empty")
	}
	seen := map[tp]bool{}
	var dup []tp
	for _, e := range es {
		if len(e.replicas) == 0 {
			return errors.New("Partition replica list cannot be empty")
		}
		if seen[e.p] && !slices.Contains(dup, e.p) {
			dup = append(dup, e.p)
		}
		seen[e.p] = true
	}
	if len(dup) > 0 {
		return fmt.Errorf("Partition reassignment contains duplicate topic partitions: %s", joinTPs(dup))
	}
	var msgs []string
	for _, e := range es {
		var d []string
		for i, r := range e.replicas {
			if slices.Contains(e.replicas[:i], r) && !slices.Contains(d, itoa(r)) {
				d = append(d, itoa(r))
			}
		}
		if len(d) > 0 {
			msgs = append(msgs, fmt.Sprintf("%s contains multiple entries for %s", e.p, strings.Join(d, ",")))
		}
	}
	if len(msgs) > 0 {
		return fmt.Errorf("Partition replica lists may not contain duplicate entries: %s", strings.Join(msgs, ". "))
	}
	return nil
}

// move is one partition's sources and destinations (Kafka's
// PartitionMove).
type move struct{ sources, destinations []int32 }

// moveMap is Kafka's calculateProposedMoveMap: ongoing moves keep their
// sources; the destinations are the proposed replicas not among them.
func moveMap(cur map[tp]kmsg.ListPartitionReassignmentsResponseTopicPartition, proposed, current map[tp][]int32) map[tp]move {
	out := map[tp]move{}
	for p, r := range cur {
		out[p] = move{sources: without(r.Replicas, r.AddingReplicas), destinations: slices.Clone(r.AddingReplicas)}
	}
	for p, reps := range proposed {
		sources := current[p]
		if m, ok := out[p]; ok {
			sources = m.sources
		}
		out[p] = move{sources: sources, destinations: without(reps, sources)}
	}
	return out
}

func without(xs, drop []int32) []int32 {
	var out []int32
	for _, x := range xs {
		if !slices.Contains(drop, x) {
			out = append(out, x)
		}
	}
	return out
}

// setThrottles writes the throttled replica lists of every moving topic
// (leaders: the sources, followers: the destinations) and the rate on
// every broker taking part, as Kafka's modifyReassignmentThrottle.
func (c *command) setThrottles(ctx context.Context, moves map[tp]move, rate int64) error {
	leaders, followers := map[string][]string{}, map[string][]string{}
	var brokers []int32
	for p, m := range moves {
		for _, s := range m.sources {
			leaders[p.topic] = append(leaders[p.topic], fmt.Sprintf("%d:%d", p.partition, s))
		}
		for _, d := range m.destinations {
			followers[p.topic] = append(followers[p.topic], fmt.Sprintf("%d:%d", p.partition, d))
		}
		if _, ok := followers[p.topic]; !ok {
			followers[p.topic] = nil
		}
		for _, b := range append(slices.Clone(m.sources), m.destinations...) {
			if !slices.Contains(brokers, b) {
				brokers = append(brokers, b)
			}
		}
	}
	for _, t := range slices.Sorted(maps.Keys(leaders)) {
		l, f := sortedSet(leaders[t]), sortedSet(followers[t])
		if err := c.alterConfigs(ctx, kmsg.ConfigResourceTypeTopic, t, []configOp{
			{topicThrottles[0], &l}, {topicThrottles[1], &f},
		}); err != nil {
			return err
		}
	}
	slices.Sort(brokers)
	r := strconv.FormatInt(rate, 10)
	for _, b := range brokers {
		if err := c.alterConfigs(ctx, kmsg.ConfigResourceTypeBroker, itoa(b), []configOp{
			{brokerThrottles[0], &r}, {brokerThrottles[1], &r},
		}); err != nil {
			return err
		}
	}
	fmt.Fprintf(c.out, "The inter-broker throttle limit was set to %d B/s\n", rate)
	return nil
}

// sortedSet joins the distinct values sorted as strings (Kafka's TreeSet
// of "partition:broker").
func sortedSet(xs []string) string {
	s := slices.Compact(slices.Sorted(slices.Values(xs)))
	return strings.Join(s, ",")
}

// configOp sets a config to value, or deletes it when value is nil.
type configOp struct {
	name  string
	value *string
}

// alterConfigs sends IncrementalAlterConfigs for one resource and fails on
// any error.
func (c *command) alterConfigs(ctx context.Context, typ kmsg.ConfigResourceType, name string, ops []configOp) error {
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType = typ
	res.ResourceName = name
	for _, o := range ops {
		rc := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		rc.Name = o.name
		rc.Value = o.value
		rc.Op = kmsg.IncrementalAlterConfigOpSet
		if o.value == nil {
			rc.Op = kmsg.IncrementalAlterConfigOpDelete
		}
		res.Configs = append(res.Configs, rc)
	}
	req.Resources = append(req.Resources, res)
	// Broker resources go to that broker, as the Java admin client sends
	// them; topic resources to any broker.
	var resp *kmsg.IncrementalAlterConfigsResponse
	var err error
	if typ == kmsg.ConfigResourceTypeBroker {
		id, _ := strconv.Atoi(name)
		resp, err = req.RequestWith(ctx, c.cl.Broker(id))
	} else {
		resp, err = req.RequestWith(ctx, c.cl)
	}
	if err != nil {
		return err
	}
	for _, r := range resp.Resources {
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			msg := ""
			if r.ErrorMessage != nil {
				msg = *r.ErrorMessage
			}
			return fmt.Errorf("alter configs of %s: %s", name, errMessage(err, msg))
		}
	}
	return nil
}

// clearThrottles removes every throttle config from every broker of the
// cluster and the target replicas, and from the topics of the file (Kafka's
// clearAllThrottles).
func (c *command) clearThrottles(ctx context.Context, es []entry) error {
	meta, err := c.adm.BrokerMetadata(ctx)
	if err != nil {
		return err
	}
	brokers := meta.Brokers.NodeIDs()
	for _, e := range es {
		for _, r := range e.replicas {
			if !slices.Contains(brokers, r) {
				brokers = append(brokers, r)
			}
		}
	}
	slices.Sort(brokers)
	fmt.Fprintf(c.out, "Clearing broker-level throttles on broker%s %s\n", plural(len(brokers)), joinInts(brokers))
	for _, b := range brokers {
		var ops []configOp
		for _, k := range brokerThrottles {
			ops = append(ops, configOp{name: k})
		}
		if err := c.alterConfigs(ctx, kmsg.ConfigResourceTypeBroker, itoa(b), ops); err != nil {
			return err
		}
	}
	topics := topicsOf(es)
	slices.Sort(topics)
	fmt.Fprintf(c.out, "Clearing topic-level throttles on topic%s %s\n", plural(len(topics)), strings.Join(topics, ","))
	for _, t := range topics {
		var ops []configOp
		for _, k := range topicThrottles {
			ops = append(ops, configOp{name: k})
		}
		if err := c.alterConfigs(ctx, kmsg.ConfigResourceTypeTopic, t, ops); err != nil {
			return err
		}
	}
	return nil
}

// verify is --verify (Kafka's verifyAssignment).
func (c *command) verify(ctx context.Context) error {
	es, err := c.readTargets()
	if err != nil {
		return err
	}
	cur, err := c.ongoing(ctx)
	if err != nil {
		return err
	}
	var lookUp []string
	for _, e := range es {
		if _, ok := cur[e.p]; !ok && !slices.Contains(lookUp, e.p.topic) {
			lookUp = append(lookUp, e.p.topic)
		}
	}
	current := map[tp][]int32{}
	if len(lookUp) > 0 {
		if current, err = c.replicasOf(ctx, lookUp); err != nil {
			return err
		}
	}
	sorted := slices.Clone(es)
	slices.SortFunc(sorted, func(a, b entry) int {
		if c := strings.Compare(a.p.topic, b.p.topic); c != 0 {
			return c
		}
		return int(a.p.partition - b.p.partition)
	})
	fmt.Fprintln(c.out, "Status of partition reassignment:")
	for _, e := range sorted {
		if _, ok := cur[e.p]; ok {
			fmt.Fprintf(c.out, "Reassignment of partition %s is still in progress.\n", e.p)
			continue
		}
		reps, ok := current[e.p]
		if !ok {
			return fmt.Errorf("org.apache.kafka.common.errors.UnknownTopicOrPartitionException: Unable to find partition: %s", e.p)
		}
		if slices.Equal(reps, e.replicas) {
			fmt.Fprintf(c.out, "Reassignment of partition %s is completed.\n", e.p)
		} else {
			fmt.Fprintf(c.out, "There is no active reassignment of partition %s, but replica set is %s rather than %s.\n", e.p, joinInts(reps), joinInts(e.replicas))
		}
	}
	// The log dir moves (Kafka's verifyReplicaMoves).
	moves, err := c.logDirMoveStates(ctx, logDirTargets(es))
	if err != nil {
		return err
	}
	fmt.Fprintln(c.out, moveStatesString(moves))
	movesOngoing := false
	for _, m := range moves {
		movesOngoing = movesOngoing || !m.done()
	}
	if len(cur) == 0 && !movesOngoing && !c.v.Has("preserve-throttles") {
		return c.clearThrottles(ctx, es)
	}
	return nil
}

// readTargets reads --reassignment-json-file for --verify and --cancel.
func (c *command) readTargets() ([]entry, error) {
	return readReassignment(c.v.Get("reassignment-json-file", ""))
}

// cancel is --cancel (Kafka's cancelAssignment).
func (c *command) cancel(ctx context.Context) error {
	es, err := c.readTargets()
	if err != nil {
		return err
	}
	set := kadm.TopicsSet{}
	for _, e := range es {
		set.Add(e.p.topic, e.p.partition)
	}
	ls, err := c.adm.ListPartitionReassignments(ctx, set)
	if err != nil {
		return err
	}
	var active []tp
	ls.Each(func(r kadm.ListPartitionReassignmentsResponse) {
		// Kafka's condition, as written: a reassignment that only adds
		// replicas is left alone.
		if len(r.AddingReplicas) == 0 || len(r.RemovingReplicas) > 0 {
			active = append(active, tp{r.Topic, r.Partition})
		}
	})
	if len(active) > 0 {
		req := kadm.AlterPartitionAssignmentsReq{}
		for _, p := range active {
			req.CancelAssign(p.topic, p.partition)
		}
		failed, err := c.alter(ctx, req)
		if err != nil {
			return err
		}
		if len(failed) > 0 {
			return fmt.Errorf("Error cancelling partition reassignment%s for:\n%s", plural(len(failed)), strings.Join(failed, "\n"))
		}
		fmt.Fprintf(c.out, "Successfully cancelled partition reassignment%s for: %s\n", plural(len(active)), joinTPs(active))
	} else {
		fmt.Fprintln(c.out, "None of the specified partition reassignments are active.")
	}
	// Moves in progress are cancelled by moving each replica back to
	// where it is (the broker drops the future log).
	moves, err := c.logDirMoveStates(ctx, logDirTargets(es))
	if err != nil {
		return err
	}
	back := map[replica]string{}
	for r, m := range moves {
		if m.kind == moveActive {
			back[r] = m.current
		}
	}
	if len(back) == 0 {
		fmt.Fprintln(c.out, "None of the specified partition moves are active.")
	} else {
		timeoutMs, err := c.longOption("timeout", "10000")
		if err != nil {
			return err
		}
		if err := c.executeMoves(ctx, back, time.Duration(timeoutMs)*time.Millisecond); err != nil {
			return err
		}
	}
	if !c.v.Has("preserve-throttles") {
		return c.clearThrottles(ctx, es)
	}
	return nil
}

// topicsJSON is the --topics-to-move-json-file format.
type topicsJSON struct {
	Version *int `json:"version"`
	Topics  []struct {
		Topic *string `json:"topic"`
	} `json:"topics"`
}

// generate is --generate (Kafka's generateAssignment): each topic's
// partitions are spread over the brokers of --broker-list with the
// topic's replication factor, round-robin from a random start with a
// random follower shift, as Kafka's rack-unaware assignment.
func (c *command) generate(ctx context.Context) error {
	var brokers []int32
	for _, s := range strings.Split(c.v.Get("broker-list", ""), ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
		if err != nil {
			return fmt.Errorf("For input string: %q", s)
		}
		if slices.Contains(brokers, int32(n)) {
			return fmt.Errorf("Broker list contains duplicate entries: [%d]", n)
		}
		brokers = append(brokers, int32(n))
	}
	data, err := os.ReadFile(c.v.Get("topics-to-move-json-file", ""))
	if err != nil {
		return err
	}
	var tj topicsJSON
	if err := json.Unmarshal(data, &tj); err != nil {
		return fmt.Errorf("The input string is not a valid JSON: %v", err)
	}
	if tj.Version != nil && *tj.Version != 1 {
		return fmt.Errorf("Not supported version field value %d", *tj.Version)
	}
	var topics []string
	for _, t := range tj.Topics {
		if t.Topic == nil {
			return errors.New("Each topic needs \"topic\"")
		}
		if slices.Contains(topics, *t.Topic) {
			return fmt.Errorf("List of topics to reassign contains duplicate entries: [%s]", *t.Topic)
		}
		topics = append(topics, *t.Topic)
	}
	current, err := c.replicasOf(ctx, topics)
	if err != nil {
		return err
	}
	meta, err := c.adm.BrokerMetadata(ctx)
	if err != nil {
		return err
	}
	var live []int32
	racked := 0
	for _, b := range meta.Brokers {
		if slices.Contains(brokers, b.NodeID) {
			live = append(live, b.NodeID)
			if b.Rack != nil {
				racked++
			}
		}
	}
	if !c.v.Has("disable-rack-aware") && racked > 0 {
		if racked != len(live) {
			return errors.New("Not all brokers have rack information. Add --disable-rack-aware in command line to make replica assignment without rack information.")
		}
		return errors.New("rack-aware --generate is not supported by gokafka reassign-partitions; add --disable-rack-aware")
	}
	slices.Sort(live)
	proposed := map[tp][]int32{}
	for _, t := range topics {
		var n int32
		rf := 0
		for p, reps := range current {
			if p.topic == t {
				n++
				rf = len(reps)
			}
		}
		if rf > len(live) {
			return fmt.Errorf("org.apache.kafka.common.errors.InvalidReplicationFactorException: Replication factor: %d larger than available brokers: %d.", rf, len(live))
		}
		for p, reps := range assign(live, n, rf, rand.IntN(len(live)), rand.IntN(len(live))) {
			proposed[tp{t, p}] = reps
		}
	}
	fmt.Fprintf(c.out, "Current partition replica assignment\n%s\n\n", formatJSON(current))
	fmt.Fprintf(c.out, "Proposed partition reassignment configuration\n%s\n", formatJSON(proposed))
	return nil
}

// assign is Kafka's rack-unaware assignReplicasToBrokers over brokers
// (sorted): partition p's leader is the broker at (p+start) mod n, its
// followers follow at a shift that grows by one after each round over the
// brokers.
func assign(brokers []int32, partitions int32, rf, start, shift int) map[int32][]int32 {
	n := len(brokers)
	out := map[int32][]int32{}
	for p := int32(0); p < partitions; p++ {
		if p > 0 && int(p)%n == 0 {
			shift++
		}
		lead := (int(p) + start) % n
		reps := []int32{brokers[lead]}
		for j := 0; j < rf-1; j++ {
			reps = append(reps, brokers[(lead+1+(shift+j)%(n-1))%n])
		}
		out[p] = reps
	}
	return out
}
