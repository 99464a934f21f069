package broker

import (
	"context"
	"fmt"
	"strconv"

	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleDescribeConfigs describes TOPIC resources (every key of Kafka
// 3.9's LogConfig with its value and source) and BROKER resources (the
// broker keys gokafka implements). The empty broker name is the cluster
// default resource, which holds only the dynamic defaults of
// /config/brokers/<default>. configuration_keys filters the entries;
// synonyms are sent only when asked (v1+).
func (s *Server) handleDescribeConfigs(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.DescribeConfigsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeConfigsResponse)
	resp.Version = r.Version
	for _, rr := range r.Resources {
		res := kmsg.NewDescribeConfigsResponseResource()
		res.ResourceType = rr.ResourceType
		res.ResourceName = rr.ResourceName
		var entries []configEntry
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			if err := validateTopicName(rr.ResourceName); err != nil {
				res.ErrorCode = kerr.InvalidTopicException.Code
				res.ErrorMessage = strPtr(err.Error())
				break
			}
			if _, ok := s.meta.topic(rr.ResourceName); !ok {
				res.ErrorCode = kerr.UnknownTopicOrPartition.Code
				res.ErrorMessage = strPtr(fmt.Sprintf("Topic %s does not exist.", rr.ResourceName))
				break
			}
			// The config cache, not the metadata snapshot: config
			// changes (dynamic_config.go) update the cache alone.
			entries = s.topicConfigEntries(s.topicConfigFor(ctx, rr.ResourceName).Overrides)
		case kmsg.ConfigResourceTypeBroker:
			if rr.ResourceName == "" {
				entries = s.brokerConfigEntries(false)
				break
			}
			id, err := strconv.ParseInt(rr.ResourceName, 10, 32)
			if err != nil {
				res.ErrorCode = kerr.InvalidRequest.Code
				res.ErrorMessage = strPtr("Broker id must be an integer, but it is: " + rr.ResourceName)
				break
			}
			if int32(id) != s.cfg.BrokerID {
				res.ErrorCode = kerr.InvalidRequest.Code
				res.ErrorMessage = strPtr(fmt.Sprintf("Unexpected broker id, expected %d or empty string, but received %s", s.cfg.BrokerID, rr.ResourceName))
				break
			}
			entries = s.brokerConfigEntries(true)
		default:
			res.ErrorCode = kerr.InvalidRequest.Code
			res.ErrorMessage = strPtr(fmt.Sprintf("Unsupported resource type %s", rr.ResourceType))
		}
		if res.ErrorCode == 0 {
			res.Configs = describeEntries(entries, rr.ConfigNames, r.Version, r.IncludeSynonyms, r.IncludeDocumentation)
		}
		resp.Resources = append(resp.Resources, res)
	}
	return resp, nil
}

// describeEntries renders entries, keeping only names (nil keeps all).
func describeEntries(entries []configEntry, names []string, version int16, synonyms, docs bool) []kmsg.DescribeConfigsResponseResourceConfig {
	var want map[string]bool
	if names != nil {
		want = make(map[string]bool, len(names))
		for _, n := range names {
			want[n] = true
		}
	}
	out := []kmsg.DescribeConfigsResponseResourceConfig{}
	for _, e := range entries {
		if want != nil && !want[e.name] {
			continue
		}
		c := kmsg.NewDescribeConfigsResponseResourceConfig()
		c.Name = e.name
		c.Value = e.value
		c.ReadOnly = e.readOnly
		c.Source = e.source
		c.IsDefault = e.source == kmsg.ConfigSourceDefaultConfig
		c.ConfigType = e.typ
		if synonyms && version >= 1 {
			c.ConfigSynonyms = e.synonyms
		}
		out = append(out, c)
	}
	return out
}
