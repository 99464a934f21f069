package broker

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/gokafka/gokafka/wire"
	"github.com/gokafka/gokafka/zkmeta"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// AlterConfigs (33) and IncrementalAlterConfigs (44) for TOPIC and BROKER
// resources, as Kafka 3.9's ZkAdminManager handles them in ZooKeeper mode:
// the resulting config is validated as a whole, written to
// /config/topics/<t> or /config/brokers/<id|<default>>, and announced with
// a /config/changes notification that every broker applies
// (dynamic_config.go). AlterConfigs replaces an entity's whole config with
// the request's entries; IncrementalAlterConfigs edits the stored one.
//
// Errors follow Kafka's: an unknown topic key is INVALID_CONFIG ("Unknown
// topic config name: k"); a bad value, or a broker key that cannot change
// at runtime, is INVALID_REQUEST with "Invalid config value for resource
// ConfigResource(type=TOPIC, name='t'): " before the ConfigException's
// message ("Invalid value x for configuration k: ...", "Cannot update
// these configs dynamically: Set(k)"), because ZkAdminManager turns every
// ConfigException into an InvalidRequestException.

// configError is a resource's failure: its error and message.
type configError struct {
	err *kerr.Error
	msg string
}

func newConfigError(err *kerr.Error, format string, args ...any) *configError {
	return &configError{err: err, msg: fmt.Sprintf(format, args...)}
}

// resourceString is Java's ConfigResource.toString, which Kafka's
// messages embed.
func resourceString(typ kmsg.ConfigResourceType, name string) string {
	return fmt.Sprintf("ConfigResource(type=%s, name='%s')", typ, name)
}

// invalidResourceValue is a ConfigException as ZkAdminManager reports it.
func invalidResourceValue(typ kmsg.ConfigResourceType, name string, err error) *configError {
	return newConfigError(kerr.InvalidRequest, "Invalid config value for resource %s: %v", resourceString(typ, name), err)
}

func (s *Server) handleAlterConfigs(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.AlterConfigsRequest)
	resp := r.ResponseKind().(*kmsg.AlterConfigsResponse)
	for _, rr := range r.Resources {
		res := kmsg.NewAlterConfigsResponseResource()
		res.ResourceType, res.ResourceName = rr.ResourceType, rr.ResourceName
		if cerr := s.alterConfigs(ctx, rr, r.ValidateOnly); cerr != nil {
			res.ErrorCode, res.ErrorMessage = cerr.err.Code, strPtr(cerr.msg)
		}
		resp.Resources = append(resp.Resources, res)
	}
	return resp, nil
}

// alterConfigs replaces one resource's config.
func (s *Server) alterConfigs(ctx context.Context, rr kmsg.AlterConfigsRequestResource, validateOnly bool) *configError {
	props, nulls := configValues(rr.Configs, func(c kmsg.AlterConfigsRequestResourceConfig) (string, *string) { return c.Name, c.Value })
	if len(nulls) > 0 {
		return newConfigError(kerr.InvalidRequest, "Null value not supported for : %s", strings.Join(nulls, ","))
	}
	switch rr.ResourceType {
	case kmsg.ConfigResourceTypeTopic:
		return s.alterTopicConfig(ctx, rr.ResourceName, props, validateOnly)
	case kmsg.ConfigResourceTypeBroker:
		entity, cerr := s.brokerEntity(rr.ResourceName)
		if cerr != nil {
			return cerr
		}
		return s.alterBrokerConfig(ctx, rr.ResourceName, entity, props, validateOnly)
	}
	return newConfigError(kerr.InvalidRequest, "AlterConfigs is only supported for topics and brokers, but resource type is %s", rr.ResourceType)
}

func (s *Server) handleIncrementalAlterConfigs(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.IncrementalAlterConfigsRequest)
	resp := r.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	for _, rr := range r.Resources {
		res := kmsg.NewIncrementalAlterConfigsResponseResource()
		res.ResourceType, res.ResourceName = rr.ResourceType, rr.ResourceName
		if cerr := s.incrementalAlterConfigs(ctx, rr, r.ValidateOnly); cerr != nil {
			res.ErrorCode, res.ErrorMessage = cerr.err.Code, strPtr(cerr.msg)
		}
		resp.Resources = append(resp.Resources, res)
	}
	return resp, nil
}

// incrementalAlterConfigs applies one resource's SET, DELETE, APPEND and
// SUBTRACT operations to its stored config.
func (s *Server) incrementalAlterConfigs(ctx context.Context, rr kmsg.IncrementalAlterConfigsRequestResource, validateOnly bool) *configError {
	seen := map[string]int{}
	var dups, nulls []string
	for _, c := range rr.Configs {
		seen[c.Name]++
		if seen[c.Name] == 2 {
			dups = append(dups, c.Name)
		}
		if c.Value == nil && c.Op != kmsg.IncrementalAlterConfigOpDelete {
			nulls = append(nulls, fmt.Sprintf("%s:%s", opName(c.Op), c.Name))
		}
	}
	if len(dups) > 0 {
		return newConfigError(kerr.InvalidRequest, "Error due to duplicate config keys : %s", strings.Join(dups, ","))
	}
	if len(nulls) > 0 {
		return newConfigError(kerr.InvalidRequest, "Null value not supported for : %s", strings.Join(nulls, ","))
	}
	var (
		entityType, entity string
		listDefault        func(string) (string, bool, bool)
	)
	switch rr.ResourceType {
	case kmsg.ConfigResourceTypeTopic:
		if err := validateTopicName(rr.ResourceName); err != nil {
			return newConfigError(kerr.InvalidTopicException, "%v", err)
		}
		entityType, entity = zkmeta.ConfigTypeTopics, rr.ResourceName
		listDefault = topicListDefault
	case kmsg.ConfigResourceTypeBroker:
		var cerr *configError
		entity, cerr = s.brokerEntity(rr.ResourceName)
		if cerr != nil {
			return cerr
		}
		entityType = zkmeta.ConfigTypeBrokers
		listDefault = brokerListDefault
	default:
		return newConfigError(kerr.InvalidRequest, "AlterConfigs is only supported for topics and brokers, but resource type is %s", rr.ResourceType)
	}
	props, err := s.zk.EntityConfig(ctx, entityType, entity)
	if err != nil {
		s.logger.Warn("read entity config", zap.String("entity", entityType+"/"+entity), zap.Error(err))
		return newConfigError(kerr.UnknownServerError, "read %s/%s: %v", entityType, entity, err)
	}
	for _, c := range rr.Configs {
		switch c.Op {
		case kmsg.IncrementalAlterConfigOpSet:
			props[c.Name] = *c.Value
		case kmsg.IncrementalAlterConfigOpDelete:
			delete(props, c.Name)
		case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
			def, isList, known := listDefault(c.Name)
			if !known && entityType == zkmeta.ConfigTypeTopics {
				return newConfigError(kerr.InvalidConfig, "Unknown topic config name: %s", c.Name)
			}
			if !isList {
				verb := "append"
				if c.Op == kmsg.IncrementalAlterConfigOpSubtract {
					verb = "subtract"
				}
				return newConfigError(kerr.InvalidRequest, "Config value %s is not allowed for config key: %s", verb, c.Name)
			}
			old, ok := props[c.Name]
			if !ok {
				old = def
			}
			props[c.Name] = editList(old, *c.Value, c.Op == kmsg.IncrementalAlterConfigOpAppend)
		default:
			return newConfigError(kerr.InvalidRequest, "Unknown alter config operation %d for config key: %s", c.Op, c.Name)
		}
	}
	if rr.ResourceType == kmsg.ConfigResourceTypeTopic {
		return s.alterTopicConfig(ctx, rr.ResourceName, props, validateOnly)
	}
	return s.alterBrokerConfig(ctx, rr.ResourceName, entity, props, validateOnly)
}

// configValues collects a request's name/value entries into a map, and
// the names whose value is null, which CreateTopics and AlterConfigs
// refuse ("Null value not supported for ...").
func configValues[T any](entries []T, nameValue func(T) (string, *string)) (map[string]string, []string) {
	out := make(map[string]string, len(entries))
	var nulls []string
	for _, e := range entries {
		n, v := nameValue(e)
		if v == nil {
			nulls = append(nulls, n)
			continue
		}
		out[n] = *v
	}
	return out, nulls
}

// opName is Java's AlterConfigOp.OpType name, as Kafka's messages print it.
func opName(op kmsg.IncrementalAlterConfigOp) string {
	switch op {
	case kmsg.IncrementalAlterConfigOpSet:
		return "SET"
	case kmsg.IncrementalAlterConfigOpDelete:
		return "DELETE"
	case kmsg.IncrementalAlterConfigOpAppend:
		return "APPEND"
	case kmsg.IncrementalAlterConfigOpSubtract:
		return "SUBTRACT"
	}
	return strconv.Itoa(int(op))
}

// editList appends items to a comma-separated list, or removes every
// occurrence of them. Empty items are dropped, so appending to an empty
// list does not start it with a comma.
func editList(old, items string, add bool) string {
	var out []string
	for _, v := range strings.Split(old, ",") {
		if v != "" {
			out = append(out, v)
		}
	}
	var edit []string
	for _, v := range strings.Split(items, ",") {
		if v != "" {
			edit = append(edit, v)
		}
	}
	if add {
		out = append(out, edit...)
	} else {
		kept := out[:0]
		for _, v := range out {
			drop := false
			for _, e := range edit {
				drop = drop || v == e
			}
			if !drop {
				kept = append(kept, v)
			}
		}
		out = kept
	}
	return strings.Join(out, ",")
}

// topicListDefault says whether a topic key is a LIST and its default.
func topicListDefault(name string) (def string, isList, known bool) {
	k, ok := topicKeyByName[name]
	if !ok {
		return "", false, false
	}
	return k.def, k.typ == kmsg.ConfigTypeList, true
}

// brokerListDefault says whether a broker key is a LIST and its default.
func brokerListDefault(name string) (def string, isList, known bool) {
	if k, ok := dynamicBrokerTopicKey(name); ok {
		return k.def, k.typ == kmsg.ConfigTypeList, true
	}
	if t, ok := extraDynamicBrokerKeys[name]; ok {
		return "", t == kmsg.ConfigTypeList, true
	}
	return "", false, false
}

// brokerEntity maps a BROKER resource name to its /config/brokers entity:
// "" is the cluster default; anything else must be this broker's id
// (Kafka's getBrokerId: the admin client sends a broker's resource to that
// broker).
func (s *Server) brokerEntity(name string) (string, *configError) {
	if name == "" {
		return zkmeta.DefaultEntity, nil
	}
	id, err := strconv.ParseInt(name, 10, 32)
	if err != nil {
		return "", newConfigError(kerr.InvalidRequest, "Broker id must be an integer, but it is: %s", name)
	}
	if int32(id) != s.cfg.BrokerID {
		return "", newConfigError(kerr.InvalidRequest, "Unexpected broker id, expected %d, but received %s", s.cfg.BrokerID, name)
	}
	return name, nil
}

// alterTopicConfig validates a topic's complete new config and, unless
// validateOnly, writes it and applies it here at once (the notification
// brings it to the other brokers).
func (s *Server) alterTopicConfig(ctx context.Context, topic string, props map[string]string, validateOnly bool) *configError {
	if err := validateTopicName(topic); err != nil {
		return newConfigError(kerr.InvalidTopicException, "%v", err)
	}
	if _, ok := s.meta.topic(topic); !ok {
		return newConfigError(kerr.UnknownTopicOrPartition, "The topic '%s' does not exist.", topic)
	}
	if cerr := checkTopicProps(topic, props); cerr != nil {
		return cerr
	}
	if validateOnly {
		return nil
	}
	if err := s.zk.SetEntityConfig(ctx, zkmeta.ConfigTypeTopics, topic, props); err != nil {
		s.logger.Warn("write topic config", zap.String("topic", topic), zap.Error(err))
		return newConfigError(kerr.UnknownServerError, "write config of topic %s: %v", topic, err)
	}
	s.logger.Info("updated topic config", zap.String("topic", topic), zap.Any("config", props))
	s.applyTopicConfig(topic, s.resolveTopicConfig(topic, props))
	return nil
}

// checkTopicProps is Kafka's LogConfig.validate: names first
// (INVALID_CONFIG), then each value (INVALID_REQUEST), then the rules
// between keys (INVALID_CONFIG).
func checkTopicProps(topic string, props map[string]string) *configError {
	names := sortedKeys(props)
	for _, n := range names {
		if _, ok := topicKeyByName[n]; !ok {
			return newConfigError(kerr.InvalidConfig, "Unknown topic config name: %s", n)
		}
	}
	for _, n := range names {
		if err := topicKeyByName[n].check(props[n]); err != nil {
			return invalidResourceValue(kmsg.ConfigResourceTypeTopic, topic, err)
		}
	}
	if err := validateTopicConfigs(props); err != nil {
		return newConfigError(kerr.InvalidConfig, "%v", err)
	}
	return nil
}

// alterBrokerConfig validates a broker entity's complete new dynamic
// config (DynamicBrokerConfig.validate) and, unless validateOnly, writes
// it and reloads the dynamic layers here.
func (s *Server) alterBrokerConfig(ctx context.Context, resource, entity string, props map[string]string, validateOnly bool) *configError {
	bad := func(err error) *configError {
		return invalidResourceValue(kmsg.ConfigResourceTypeBroker, resource, err)
	}
	var static []string
	for _, n := range sortedKeys(props) {
		if staticOnlyBrokerKey(n) {
			static = append(static, n)
		}
	}
	if len(static) > 0 {
		return bad(fmt.Errorf("Cannot update these configs dynamically: Set(%s)", strings.Join(static, ", ")))
	}
	for _, n := range sortedKeys(props) {
		if err := checkBrokerValue(n, props[n]); err != nil {
			return bad(err)
		}
	}
	// The layers as they would be after the change must still resolve
	// (log.roll.ms against the topic rules, ...).
	perBroker, cluster := s.dynamicLayers()
	if entity == zkmeta.DefaultEntity {
		cluster = props
	} else {
		perBroker = props
	}
	if _, err := mergeDynamic(s.cfg, cluster, perBroker); err != nil {
		return bad(err)
	}
	if err := s.validateBrokerReconfigurables(cluster, perBroker); err != nil {
		return bad(err)
	}
	if validateOnly {
		return nil
	}
	if err := s.zk.SetEntityConfig(ctx, zkmeta.ConfigTypeBrokers, entity, props); err != nil {
		s.logger.Warn("write broker config", zap.String("entity", entity), zap.Error(err))
		return newConfigError(kerr.UnknownServerError, "write config of brokers/%s: %v", entity, err)
	}
	s.logger.Info("updated dynamic broker config", zap.String("entity", entity), zap.Any("config", props))
	if err := s.loadDynamicBrokerConfigs(ctx); err != nil {
		s.logger.Warn("reload dynamic broker configs", zap.Error(err))
	}
	s.reapplyTopicConfigs()
	return nil
}

// checkBrokerValue checks a dynamic broker key's value against its type
// and, for a topic default, the topic key's rule, naming the broker key as
// Kafka does ("Invalid value 0 for configuration log.segment.bytes: ...").
func checkBrokerValue(name, v string) error {
	if k, ok := dynamicBrokerTopicKey(name); ok {
		if err := checkType(k.typ, v); err != nil {
			return invalidValue(name, v, err)
		}
		if k.validate != nil {
			if err := k.validate(strings.TrimSpace(v)); err != nil {
				return invalidValue(name, v, err)
			}
		}
		return nil
	}
	if t, ok := extraDynamicBrokerKeys[name]; ok {
		if err := checkType(t, v); err != nil {
			return invalidValue(name, v, err)
		}
		return checkReconfigurableRange(name, v)
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
