package compattests

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/gokafka/gokafka/internal/testcluster"
)

// wantLeaderRecoveryState fails the test unless the state znode of
// topic-p carries Kafka's KIP-704 leader recovery state want: the key
// "leader_recovery_state" with 1 while a leader elected unclean recovers,
// no key at all once the partition is RECOVERED (0), as Kafka's
// TopicPartitionStateZNode writes it.
func wantLeaderRecoveryState(t *testing.T, z *testcluster.ZKConn, topic string, p int32, want int) {
	t.Helper()
	path := fmt.Sprintf("/brokers/topics/%s/partitions/%d/state", topic, p)
	data, err := z.Get(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	var v map[string]json.RawMessage
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s holds %q: %v", path, data, err)
	}
	got, ok := v["leader_recovery_state"]
	switch {
	case want == 0 && ok:
		t.Errorf("%s = %s: leader_recovery_state %s, want the key absent (RECOVERED)", path, data, got)
	case want != 0 && string(got) != fmt.Sprint(want):
		t.Errorf("%s = %s: leader_recovery_state %q, want %d", path, data, got, want)
	}
}
