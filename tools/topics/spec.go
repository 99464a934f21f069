package topics

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// includeRegexp compiles a --topic include list as Kafka's IncludeList
// does: commas become alternation, spaces and surrounding quotes go, and
// the expression must match the whole topic name.
func includeRegexp(s string) (*regexp.Regexp, error) {
	s = strings.ReplaceAll(strings.TrimSpace(s), ",", "|")
	s = strings.ReplaceAll(s, " ", "")
	s = strings.Trim(s, `"'`)
	re, err := regexp.Compile("^(?:" + s + ")$")
	if err != nil {
		return nil, fmt.Errorf("%s is an invalid regex: %w", s, err)
	}
	return re, nil
}

// parseReplicaAssignment reads "1:2,2:3,3:1": partition i's replicas are
// the i-th comma-separated list. Duplicates within a partition and
// partitions with different replication factors are refused with Kafka's
// messages.
func parseReplicaAssignment(s string) ([][]int32, error) {
	var out [][]int32
	for i, part := range strings.Split(s, ",") {
		var ids []int32
		seen := map[int32]bool{}
		var dups []string
		for _, f := range strings.Split(part, ":") {
			n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 32)
			if err != nil {
				return nil, fmt.Errorf("For input string: %q", strings.TrimSpace(f))
			}
			if seen[int32(n)] {
				dups = append(dups, strconv.Itoa(int(n)))
			}
			seen[int32(n)] = true
			ids = append(ids, int32(n))
		}
		if len(dups) > 0 {
			return nil, fmt.Errorf("Partition replica lists may not contain duplicate entries: %s", strings.Join(dups, ","))
		}
		if i > 0 && len(ids) != len(out[0]) {
			return nil, fmt.Errorf("Partition %d has different replication factor: %v", i, ids)
		}
		out = append(out, ids)
	}
	return out, nil
}

// parseConfigs reads --config k=v options: each must split into exactly
// a key and a value around '=' (TopicCommand's parseTopicConfigsToBeAdded,
// which also trims both).
func parseConfigs(vals []string) (map[string]string, error) {
	out := map[string]string{}
	for _, s := range vals {
		parts := regexp.MustCompile(`\s*=\s*`).Split(s, -1)
		if len(parts) != 2 {
			return nil, fmt.Errorf("requirement failed: Invalid topic config: all configs to be added must be in the format \"key=val\".")
		}
		out[strings.TrimSpace(parts[0])] = strings.TrimSpace(parts[1])
	}
	return out, nil
}

// parseCount reads --partitions or --replication-factor as jopt-simple
// reads an Integer option.
func parseCount(opt, v string) (int32, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("Cannot parse argument '%s' of option %s", v, opt)
	}
	return int32(n), nil
}
