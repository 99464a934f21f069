package broker

import (
	"errors"
	"strconv"
	"strings"
)

// Broker components that take dynamic broker configs at runtime (Kafka's
// Reconfigurable instances registered with DynamicBrokerConfig): the log
// cleaner (log.cleaner.*) and the replication quotas
// ({leader,follower}.replication.throttled.rate,
// replica.alter.log.dirs.io.max.bytes.per.second). The topic defaults are
// applied by reapplyTopicConfigs instead.

// applyBrokerReconfigurables hands the dynamic layers, as just loaded from
// ZooKeeper, to each component.
func (s *Server) applyBrokerReconfigurables(cluster, perBroker map[string]string) {
	s.applyThrottleRates(cluster, perBroker)
	s.reconfigureCleaner(cluster, perBroker)
}

// validateBrokerReconfigurables checks the dynamic layers as an
// AlterConfigs would leave them against each component's rules
// (validateReconfiguration), before anything is written.
func (s *Server) validateBrokerReconfigurables(cluster, perBroker map[string]string) error {
	return s.validateCleanerChange(cluster, perBroker)
}

// reconfigurableMinimums are the lower bounds Kafka's ConfigDef puts on
// the reconfigurable keys (ConfigDef.Range.atLeast).
var reconfigurableMinimums = map[string]int64{
	"log.cleaner.threads":                            0,
	"log.cleaner.io.buffer.size":                     0,
	"log.cleaner.backoff.ms":                         0,
	"leader.replication.throttled.rate":              0,
	"follower.replication.throttled.rate":            0,
	"replica.alter.log.dirs.io.max.bytes.per.second": 0,
}

// checkReconfigurableRange checks a value already of its key's type
// against the key's lower bound, in Kafka's words.
func checkReconfigurableRange(name, v string) error {
	lo, ok := reconfigurableMinimums[name]
	if !ok {
		return nil
	}
	if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && n < lo {
		return invalidValue(name, v, errors.New("Value must be at least "+strconv.FormatInt(lo, 10)))
	}
	return nil
}
