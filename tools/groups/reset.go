package groups

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gokafka/gokafka/tools/cmdline"
)

// topicPartition names one partition of --reset-offsets' scope.
type topicPartition struct {
	topic     string
	partition int32
}

func (tp topicPartition) String() string { return fmt.Sprintf("%s-%d", tp.topic, tp.partition) }

// reset is --reset-offsets: plan new offsets for each inactive group,
// commit them with --execute, and print the plan. A group with members
// is refused, as Kafka refuses it: its consumers would overwrite the
// reset with their next commit.
func (s *service) reset(ctx context.Context) error {
	execute := s.v.Has("execute")
	if !execute && !s.v.Has("dry-run") {
		fmt.Fprintln(s.stderr, "WARN: No action will be performed as the --execute option is missing. "+
			"In a future major release, the default behavior of this command will be to prompt the user before executing the reset rather than doing a dry run. "+
			"You should add the --dry-run option explicitly if you are scripting this command and want to keep the current default behavior without prompting.")
	}
	ids, err := s.groupIDs(ctx)
	if err != nil {
		return err
	}
	dg, err := s.adm.DescribeGroups(ctx, ids...)
	if err != nil && len(dg) == 0 {
		return fmt.Errorf("describe groups: %w", err)
	}
	var plan []resetRow
	failed := false
	for _, id := range ids {
		d, ok := dg[id]
		if ok && d.Err != nil && !errors.Is(d.Err, kerr.GroupIDNotFound) {
			return fmt.Errorf("describe group %s: %w", id, d.Err)
		}
		if ok && d.Err == nil && d.State != "Empty" && d.State != "Dead" {
			fmt.Fprintf(s.stderr, "\nError: Assignments can only be reset if the group '%s' is inactive, but the current state is %s.\n", id, d.State)
			failed = true
			continue
		}
		rows, err := s.planReset(ctx, id)
		if err != nil {
			return err
		}
		if execute && len(rows) > 0 {
			offs := kadm.Offsets{}
			for _, r := range rows {
				offs.Add(kadm.Offset{Topic: r.topic, Partition: r.partition, At: r.offset, LeaderEpoch: -1})
			}
			resp, err := s.adm.CommitOffsets(ctx, id, offs)
			if err == nil {
				err = resp.Error()
			}
			if err != nil {
				return fmt.Errorf("commit offsets of %s: %w", id, err)
			}
		}
		plan = append(plan, rows...)
	}
	writeResets(s.stdout, plan)
	if failed {
		return cmdline.ErrReported
	}
	return nil
}

// scope returns the partitions to reset: those with a committed offset
// (--all-topics), or every partition of each --topic T, or the listed
// ones of --topic T:0,1.
func (s *service) scope(ctx context.Context, committed kadm.OffsetResponses) ([]topicPartition, error) {
	var out []topicPartition
	if s.v.Has("all-topics") {
		committed.Each(func(o kadm.OffsetResponse) {
			if o.Err == nil {
				out = append(out, topicPartition{o.Topic, o.Partition})
			}
		})
		return out, nil
	}
	var whole []string
	for _, t := range s.v.All("topic") {
		name, parts, ok := strings.Cut(t, ":")
		if !ok {
			whole = append(whole, name)
			continue
		}
		for _, p := range cmdline.SplitList(parts) {
			n, err := strconv.ParseInt(p, 10, 32)
			if err != nil {
				return nil, &toolError{fmt.Sprintf("Executing consumer group command failed due to For input string: \"%s\"", p)}
			}
			out = append(out, topicPartition{name, int32(n)})
		}
	}
	if len(whole) > 0 {
		ends, err := s.adm.ListEndOffsets(ctx, whole...)
		if err != nil && len(ends) == 0 {
			return nil, fmt.Errorf("list partitions: %w", err)
		}
		for _, t := range whole {
			ps, ok := ends[t]
			if !ok || ps[-1].Err != nil {
				return nil, &toolError{fmt.Sprintf("Executing consumer group command failed due to The partitions of topic '%s' could not be found (unknown topic or partition)", t)}
			}
			for p := range ps {
				out = append(out, topicPartition{t, p})
			}
		}
	}
	return out, nil
}

// planReset computes the new offsets of one group, each kept within the
// partition's [log start, log end] with Kafka's warning when clamped.
func (s *service) planReset(ctx context.Context, group string) ([]resetRow, error) {
	committed, err := s.adm.FetchOffsets(ctx, group)
	if err != nil {
		return nil, fmt.Errorf("fetch offsets of %s: %w", group, err)
	}
	parts, err := s.scope(ctx, committed)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(parts, func(a, b topicPartition) int {
		if c := strings.Compare(a.topic, b.topic); c != 0 {
			return c
		}
		return int(a.partition) - int(b.partition)
	})
	topicSet := map[string]bool{}
	for _, p := range parts {
		topicSet[p.topic] = true
	}
	topics := slices.Sorted(maps.Keys(topicSet))
	starts, err := s.adm.ListStartOffsets(ctx, topics...)
	if err != nil && len(starts) == 0 && len(topics) > 0 {
		return nil, fmt.Errorf("list start offsets: %w", err)
	}
	ends, err := s.adm.ListEndOffsets(ctx, topics...)
	if err != nil && len(ends) == 0 && len(topics) > 0 {
		return nil, fmt.Errorf("list end offsets: %w", err)
	}
	bounds := func(tp topicPartition) (int64, int64, error) {
		st, ok1 := starts.Lookup(tp.topic, tp.partition)
		en, ok2 := ends.Lookup(tp.topic, tp.partition)
		if !ok1 || !ok2 || st.Err != nil || en.Err != nil {
			return 0, 0, &toolError{fmt.Sprintf("Executing consumer group command failed due to Partition %s does not exist or has no leader", tp)}
		}
		return st.Offset, en.Offset, nil
	}
	var byTime kadm.ListedOffsets
	if s.v.Has("to-datetime") || s.v.Has("by-duration") {
		var ms int64
		if s.v.Has("to-datetime") {
			t, err := parseDateTime(s.v.Get("to-datetime", ""))
			if err != nil {
				return nil, &toolError{"Executing consumer group command failed due to " + err.Error()}
			}
			ms = t.UnixMilli()
		} else {
			d, err := parseDuration(s.v.Get("by-duration", ""))
			if err != nil {
				return nil, &toolError{"Executing consumer group command failed due to " + err.Error()}
			}
			ms = time.Now().Add(-d).UnixMilli()
		}
		if byTime, err = s.adm.ListOffsetsAfterMilli(ctx, ms, topics...); err != nil && len(byTime) == 0 {
			return nil, fmt.Errorf("list offsets by time: %w", err)
		}
	}
	var rows []resetRow
	for _, tp := range parts {
		lo, hi, err := bounds(tp)
		if err != nil {
			return nil, err
		}
		cur, hasCur := int64(0), false
		if o, ok := committed.Lookup(tp.topic, tp.partition); ok && o.Err == nil && o.At >= 0 {
			cur, hasCur = o.At, true
		}
		var want int64
		switch {
		case s.v.Has("to-earliest"):
			want = lo
		case s.v.Has("to-latest"):
			want = hi
		case s.v.Has("to-current"):
			want = hi
			if hasCur {
				want = cur
			}
		case s.v.Has("to-offset"):
			if want, err = strconv.ParseInt(s.v.Get("to-offset", ""), 10, 64); err != nil {
				return nil, &toolError{fmt.Sprintf("Executing consumer group command failed due to For input string: \"%s\"", s.v.Get("to-offset", ""))}
			}
		case s.v.Has("shift-by"):
			shift, err := strconv.ParseInt(s.v.Get("shift-by", ""), 10, 64)
			if err != nil {
				return nil, &toolError{fmt.Sprintf("Executing consumer group command failed due to For input string: \"%s\"", s.v.Get("shift-by", ""))}
			}
			if !hasCur {
				return nil, &toolError{fmt.Sprintf("Executing consumer group command failed due to Cannot shift offset for partition %s since there is no current committed offset", tp)}
			}
			want = cur + shift
		default: // to-datetime, by-duration
			want = hi
			if o, ok := byTime.Lookup(tp.topic, tp.partition); ok && o.Err == nil && o.Offset >= 0 {
				want = o.Offset
			}
		}
		switch {
		case want > hi:
			fmt.Fprintf(s.stderr, "WARN New offset (%d) is higher than latest offset for topic partition %s. Value will be set to %d\n", want, tp, hi)
			want = hi
		case want < lo:
			fmt.Fprintf(s.stderr, "WARN New offset (%d) is lower than earliest offset for topic partition %s. Value will be set to %d\n", want, tp, lo)
			want = lo
		}
		rows = append(rows, resetRow{group: group, topic: tp.topic, partition: tp.partition, offset: want})
	}
	return rows, nil
}

// parseDateTime reads --to-datetime as Kafka's Utils.getDateTime does:
// "YYYY-MM-DDTHH:mm:SS[.sss]" with an optional zone ("Z", "+hh:mm",
// "+hhmm"); without one the local time zone applies.
func parseDateTime(s string) (time.Time, error) {
	layouts := []string{"2006-01-02T15:04:05.000Z07:00", "2006-01-02T15:04:05.000Z0700", "2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05Z0700"}
	for _, l := range layouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	for _, l := range []string{"2006-01-02T15:04:05.000", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(l, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("Error parsing timestamp. It does not contain a 'T' according to ISO8601 format or the format is wrong: %s", s)
}

// durationRE is the subset of ISO-8601 durations Java's Duration.parse
// reads: PnDTnHnMn.nS, each part optional, with an optional sign.
var durationRE = regexp.MustCompile(`^([-+]?)P(?:([-+]?[0-9]+)D)?(?:T(?:([-+]?[0-9]+)H)?(?:([-+]?[0-9]+)M)?(?:([-+]?[0-9]+)(?:[.,]([0-9]{0,9}))?S)?)?$`)

// parseDuration reads --by-duration (Java's Duration.parse).
func parseDuration(s string) (time.Duration, error) {
	m := durationRE.FindStringSubmatch(strings.ToUpper(s))
	if m == nil || strings.HasSuffix(strings.ToUpper(s), "T") || strings.TrimLeft(strings.ToUpper(s), "+-") == "P" {
		return 0, fmt.Errorf("Text cannot be parsed to a Duration")
	}
	var d time.Duration
	for i, unit := range []time.Duration{24 * time.Hour, time.Hour, time.Minute, time.Second} {
		if m[2+i] == "" {
			continue
		}
		n, err := strconv.ParseInt(m[2+i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("Text cannot be parsed to a Duration")
		}
		d += time.Duration(n) * unit
	}
	if m[6] != "" {
		frac := (m[6] + "000000000")[:9]
		n, _ := strconv.ParseInt(frac, 10, 64)
		if strings.HasPrefix(m[5], "-") {
			n = -n
		}
		d += time.Duration(n)
	}
	if m[1] == "-" {
		d = -d
	}
	return d, nil
}
