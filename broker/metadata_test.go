package broker

import (
	"context"
	"errors"
	"net"
	"sort"
	"testing"

	"github.com/gokafka/gokafka/zkmeta"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

func metadataFor(t *testing.T, cl *kgo.Client, version int16, allowCreate bool, topics ...string) *kmsg.MetadataResponse {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	req.Version = version
	req.AllowAutoTopicCreation = allowCreate
	for _, n := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(n)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(adminCtx(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestMetadataAutoCreate(t *testing.T) {
	t.Run("enabled", func(t *testing.T) {
		_, addr := startTestServer(t, "num.partitions=3")
		_, cl := newAdmin(t, addr)
		resp := metadataFor(t, cl, 12, true, "auto", "bad/name")
		if got := resp.Topics[0].ErrorCode; got != kerr.LeaderNotAvailable.Code {
			t.Errorf("first metadata for a new topic: %v, want LEADER_NOT_AVAILABLE", kerr.ErrorForCode(got))
		}
		if got := resp.Topics[1].ErrorCode; got != kerr.InvalidTopicException.Code {
			t.Errorf("invalid name: %v, want INVALID_TOPIC_EXCEPTION", kerr.ErrorForCode(got))
		}
		resp = metadataFor(t, cl, 12, true, "auto")
		tp := resp.Topics[0]
		if tp.ErrorCode != 0 || len(tp.Partitions) != 3 || tp.TopicID == [16]byte{} {
			t.Errorf("second metadata: err %d, %d partitions, id %x", tp.ErrorCode, len(tp.Partitions), tp.TopicID)
		}
		resp = metadataFor(t, cl, 12, false, "not-allowed")
		if got := resp.Topics[0].ErrorCode; got != kerr.UnknownTopicOrPartition.Code {
			t.Errorf("allow_auto_topic_creation=false: %v", kerr.ErrorForCode(got))
		}
		// Lookup by topic id (v12, name null), as kafka-topics --topic-id.
		req := kmsg.NewPtrMetadataRequest()
		req.Topics = []kmsg.MetadataRequestTopic{{TopicID: tp.TopicID}, {TopicID: [16]byte{9}}}
		byID, err := req.RequestWith(adminCtx(t), cl)
		if err != nil {
			t.Fatal(err)
		}
		if byID.Topics[0].Topic == nil || *byID.Topics[0].Topic != "auto" || byID.Topics[1].ErrorCode != kerr.UnknownTopicID.Code {
			t.Errorf("by id: %+v", byID.Topics)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		_, addr := startTestServer(t, "auto.create.topics.enable=false")
		_, cl := newAdmin(t, addr)
		resp := metadataFor(t, cl, 12, true, "auto")
		if got := resp.Topics[0].ErrorCode; got != kerr.UnknownTopicOrPartition.Code {
			t.Errorf("auto-create disabled: %v, want UNKNOWN_TOPIC_OR_PARTITION", kerr.ErrorForCode(got))
		}
		// A producer that relies on auto-creation fails the same way.
		p, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordRetries(1), kgo.UnknownTopicRetries(1))
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		err = p.ProduceSync(adminCtx(t), &kgo.Record{Topic: "auto", Value: []byte("x")}).FirstErr()
		if !errors.Is(err, kerr.UnknownTopicOrPartition) {
			t.Errorf("produce to a missing topic: %v", err)
		}
	})
}

// TestMetadataOldVersions covers kafka-python's Metadata v0 and v1: v0's
// empty list means all topics, v1's empty list means none and null all.
func TestMetadataOldVersions(t *testing.T) {
	s, addr := startTestServer(t)
	adm, _ := newAdmin(t, addr)
	ctx := adminCtx(t)
	for _, n := range []string{"a", "b"} {
		if _, err := adm.CreateTopic(ctx, 1, 1, nil, n); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name     string
		versions *kversion.Versions
		version  int16
	}{{"v0", kversion.V0_8_2(), 0}, {"v1", kversion.V0_10_0(), 1}} {
		t.Run(tc.name, func(t *testing.T) {
			cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.MaxVersions(tc.versions))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			req := kmsg.NewPtrMetadataRequest()
			req.Topics = []kmsg.MetadataRequestTopic{}
			resp, err := req.RequestWith(ctx, cl)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Version != tc.version {
				t.Fatalf("answered at v%d, want v%d", resp.Version, tc.version)
			}
			want := 0
			if tc.version == 0 {
				want = 2
			}
			if len(resp.Topics) != want {
				t.Errorf("empty topic list at v%d: %d topics, want %d", tc.version, len(resp.Topics), want)
			}
			if tc.version == 1 && resp.ControllerID != s.cfg.BrokerID {
				t.Errorf("controller %d", resp.ControllerID)
			}
			if len(resp.Brokers) != 1 || int(resp.Brokers[0].Port) != s.Addr().(*net.TCPAddr).Port || resp.Brokers[0].Host != "127.0.0.1" {
				t.Errorf("brokers %+v", resp.Brokers)
			}
			resp = metadataFor(t, cl, tc.version, true, "a", "new-"+tc.name)
			if resp.Topics[0].ErrorCode != 0 || len(resp.Topics[0].Partitions) != 1 || resp.Topics[0].Partitions[0].Leader != 0 {
				t.Errorf("topic a: %+v", resp.Topics[0])
			}
			if resp.Topics[1].ErrorCode != kerr.LeaderNotAvailable.Code {
				t.Errorf("v%d auto-creates regardless of the flag: got %v", tc.version, kerr.ErrorForCode(resp.Topics[1].ErrorCode))
			}
		})
	}
}

// TestApiVersionsTable checks that ApiVersions advertises exactly the
// handler table.
func TestApiVersionsTable(t *testing.T) {
	_, addr := startTestServer(t)
	_, cl := newAdmin(t, addr)
	for _, v := range []int16{0, 3, 4} {
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version = v
		req.ClientSoftwareName, req.ClientSoftwareVersion = "gokafka-test", "1.0"
		br := cl.Broker(0)
		resp, err := req.RequestWith(adminCtx(t), br)
		if err != nil {
			t.Fatal(err)
		}
		if resp.ErrorCode != 0 || len(resp.ApiKeys) != len(apis) {
			t.Fatalf("v%d: error %d, %d keys, want %d", v, resp.ErrorCode, len(resp.ApiKeys), len(apis))
		}
		if !sort.SliceIsSorted(resp.ApiKeys, func(i, j int) bool { return resp.ApiKeys[i].ApiKey < resp.ApiKeys[j].ApiKey }) {
			t.Error("keys not sorted")
		}
		for _, k := range resp.ApiKeys {
			a, ok := apis[k.ApiKey]
			if !ok || a.versions.Min != k.MinVersion || a.versions.Max != k.MaxVersion {
				t.Errorf("advertised key %d %d-%d, table has %+v", k.ApiKey, k.MinVersion, k.MaxVersion, a.versions)
			}
		}
	}
}

// TestToolCreatedTopic writes a topic the way 2.x kafka-topics
// --zookeeper --create does (config znode, then the assignment without a
// topic id, no state znodes) and expects the broker to complete it.
func TestToolCreatedTopic(t *testing.T) {
	s, addr := startTestServer(t)
	_, cl := newAdmin(t, addr)
	ctx := adminCtx(t)
	zk := toolClient(t, s)
	if err := zk.CreateTopic(ctx, "legacy", zkmeta.TopicAssignment{Partitions: map[int32][]int32{0: {0}, 1: {0}}}, map[string]string{"retention.ms": "1000"}); err != nil {
		t.Fatal(err)
	}
	var tp kmsg.MetadataResponseTopic
	waitFor(t, resyncTimeout, "the tool-created topic to get leaders", func() bool {
		tp = metadataFor(t, cl, 12, false, "legacy").Topics[0]
		return tp.ErrorCode == 0 && len(tp.Partitions) == 2 && tp.Partitions[0].Leader == 0 && tp.Partitions[1].Leader == 0
	})
	if tp.TopicID == [16]byte{} {
		t.Error("no topic id in metadata")
	}
	a, err := zk.Topic(ctx, "legacy")
	if err != nil || a.TopicID != tp.TopicID {
		t.Errorf("znode topic id %x, metadata %x (%v)", a.TopicID, tp.TopicID, err)
	}
	for p := int32(0); p < 2; p++ {
		st, err := zk.PartitionState(ctx, "legacy", p)
		if err != nil || st.Leader != 0 || st.LeaderEpoch != 0 || len(st.ISR) != 1 {
			t.Errorf("state of partition %d: %+v %v", p, st, err)
		}
	}
	if tm, ok := s.meta.topic("legacy"); !ok || tm.Config.Log.RetentionMs != 1000 {
		t.Errorf("topic config not applied: %+v", tm)
	}

	// The tool adds a partition by rewriting the topic znode (unfenced:
	// version -1 of /controller_epoch matches any).
	a.Partitions[2] = []int32{0}
	if err := zk.SetTopic(ctx, zkmeta.ControllerEpoch{ZkVersion: -1}, "legacy", a); err != nil {
		t.Fatal(err)
	}
	waitFor(t, resyncTimeout, "the added partition to get a leader", func() bool {
		tp = metadataFor(t, cl, 12, false, "legacy").Topics[0]
		return len(tp.Partitions) == 3 && tp.Partitions[2].Leader == 0
	})

	// The tool marks it for deletion.
	if err := zk.MarkTopicForDeletion(ctx, "legacy"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, resyncTimeout, "the marked topic to be deleted", func() bool {
		return metadataFor(t, cl, 12, false, "legacy").Topics[0].ErrorCode == kerr.UnknownTopicOrPartition.Code
	})
	// The znodes go once the replica confirmed deleting its log.
	waitFor(t, resyncTimeout, "the topic's znodes to be gone", func() bool {
		ts, err := zk.Topics(ctx)
		return err == nil && len(ts) == 0
	})
}

const resyncTimeout = 3*resyncInterval + 5e9

// toolClient is a second ZooKeeper session in the server's chroot, playing
// the part of a ZooKeeper-era admin tool.
func toolClient(t *testing.T, s *Server) *zkmeta.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30e9)
	defer cancel()
	zk, err := zkmeta.Connect(ctx, zkmeta.Config{Connect: s.cfg.ZooKeeperConnect, SessionTimeout: 6e9})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { zk.Close() })
	return zk
}
