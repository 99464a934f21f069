package broker

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ElectLeaders on a one-broker cluster (its own controller): the answer's
// layout per version, ELECTION_NOT_NEEDED for a partition its preferred
// replica leads, nothing listed for a null (all partitions) request that
// needed no election, UNKNOWN_TOPIC_OR_PARTITION for unknown partitions,
// and UNKNOWN_SERVER_ERROR, as Kafka answers, for an unknown election type.
func TestElectLeadersHandler(t *testing.T) {
	s, addr, stop := runTestServer(t, testServerConfig(t))
	defer stop()
	createTestTopic(t, s, addr, "t", 2, nil)
	cl := newTestClient(t, addr)
	ctx := testCtx(t)
	br := cl.Broker(int(s.cfg.BrokerID))
	elect := func(version int16, typ int8, topics []kmsg.ElectLeadersRequestTopic) *kmsg.ElectLeadersResponse {
		t.Helper()
		req := kmsg.NewPtrElectLeadersRequest()
		req.Version = version
		req.ElectionType = typ
		req.Topics = topics
		req.TimeoutMillis = 10000
		raw, err := br.Request(ctx, req)
		if err != nil {
			t.Fatalf("ElectLeaders v%d: %v", version, err)
		}
		return raw.(*kmsg.ElectLeadersResponse)
	}
	codes := func(resp *kmsg.ElectLeadersResponse) map[string]int16 {
		m := map[string]int16{}
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				m[fmt.Sprintf("%s-%d", rt.Topic, rp.Partition)] = rp.ErrorCode
			}
		}
		return m
	}
	some := []kmsg.ElectLeadersRequestTopic{{Topic: "t", Partitions: []int32{1, 0, 1}}, {Topic: "nope", Partitions: []int32{0}}}
	for _, v := range []int16{0, 1, 2} {
		for _, typ := range []int8{0, 1} {
			resp := elect(v, typ, some)
			got := codes(resp)
			want := map[string]int16{"t-0": kerr.ElectionNotNeeded.Code, "t-1": kerr.ElectionNotNeeded.Code, "nope-0": kerr.UnknownTopicOrPartition.Code}
			if resp.ErrorCode != 0 || len(got) != len(want) || got["t-0"] != want["t-0"] || got["t-1"] != want["t-1"] || got["nope-0"] != want["nope-0"] {
				t.Errorf("v%d type %d: top-level %d, partitions %v; want 0 and %v", v, typ, resp.ErrorCode, got, want)
			}
		}
	}
	if resp := elect(2, 0, nil); resp.ErrorCode != 0 || len(resp.Topics) != 0 {
		t.Errorf("all partitions, all led by their preferred replica: %+v, want an empty answer", resp)
	}
	resp := elect(2, 7, some[:1])
	if got := codes(resp); resp.ErrorCode != kerr.UnknownServerError.Code || got["t-0"] != kerr.UnknownServerError.Code || got["t-1"] != kerr.UnknownServerError.Code {
		t.Errorf("election type 7: top-level %d, partitions %v; want UNKNOWN_SERVER_ERROR everywhere", resp.ErrorCode, got)
	}
}
