package broker

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// produceN writes n records to topic-partition 0 and waits for them.
func produceN(t *testing.T, seeds []string, topic string, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0), kgo.MaxBufferedRecords(1))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := range n {
		if err := cl.ProduceSync(adminCtx(t), &kgo.Record{Value: []byte(strings.Repeat("v", 100) + string(rune('a'+i%26)))}).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
	}
}

// deleteRecords sends one DeleteRecords partition to broker b and returns
// its answer.
func deleteRecords(t *testing.T, b *kgo.Broker, topic string, partition int32, offset int64) kmsg.DeleteRecordsResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrDeleteRecordsRequest()
	req.TimeoutMillis = 5000
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewDeleteRecordsRequestTopicPartition()
	rp.Partition, rp.Offset = partition, offset
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	raw, err := b.Request(adminCtx(t), req)
	if err != nil {
		t.Fatalf("delete records: %v", err)
	}
	return raw.(*kmsg.DeleteRecordsResponse).Topics[0].Partitions[0]
}

// TestDeleteRecords moves the log start of a partition with tiny segments
// step by step, checking Kafka's answers and errors, the segments left on
// disk, ListOffsets(earliest), and that the start
// survives a restart through log-start-offset-checkpoint.
func TestDeleteRecords(t *testing.T) {
	cfg := testServerConfig(t, "log.segment.bytes=400")
	s, addr, stop := runTestServer(t, cfg)
	adm, cl := newAdmin(t, addr)
	ctx := adminCtx(t)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "dr"); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, "compacted"); err != nil {
		t.Fatal(err)
	}
	produceN(t, []string{addr}, "dr", 30)
	b0 := cl.Broker(0)
	tests := []struct {
		name   string
		topic  string
		part   int32
		offset int64
		code   *kerr.Error
		low    int64
	}{
		{"move to 5", "dr", 0, 5, nil, 5},
		{"backwards keeps 5", "dr", 0, 2, nil, 5},
		{"above the high watermark", "dr", 0, 31, kerr.OffsetOutOfRange, -1},
		{"below -1", "dr", 0, -2, kerr.OffsetOutOfRange, -1},
		{"unknown partition", "dr", 3, 1, kerr.UnknownTopicOrPartition, -1},
		{"unknown topic", "nope", 0, 1, kerr.UnknownTopicOrPartition, -1},
		{"compact only", "compacted", 0, 0, kerr.PolicyViolation, -1},
		{"move to 17", "dr", 0, 17, nil, 17},
		{"-1 is the high watermark", "dr", 0, -1, nil, 30},
	}
	for _, tc := range tests {
		if tc.name == "-1 is the high watermark" {
			// Before the last step, check what a consumer sees at 17.
			lo, err := adm.ListStartOffsets(ctx, "dr")
			if err != nil || lo["dr"][0].Offset != 17 {
				t.Errorf("earliest offset: %v %+v", err, lo)
			}
			checkSegmentsFrom(t, s.cfg.LogDirs[0], "dr-0", 17)
		}
		got := deleteRecords(t, b0, tc.topic, tc.part, tc.offset)
		wantCode := int16(0)
		if tc.code != nil {
			wantCode = tc.code.Code
		}
		if got.ErrorCode != wantCode || got.LowWatermark != tc.low {
			t.Errorf("%s: %v low %d, want %v low %d", tc.name, kerr.ErrorForCode(got.ErrorCode), got.LowWatermark, tc.code, tc.low)
		}
	}
	cp, err := os.ReadFile(filepath.Join(s.cfg.LogDirs[0], "log-start-offset-checkpoint"))
	if err != nil || !strings.Contains(string(cp), "dr 0 30\n") {
		t.Errorf("log-start-offset-checkpoint: %q %v", cp, err)
	}

	// The start survives a restart.
	stop()
	_, addr, _ = runTestServer(t, cfg)
	adm, _ = newAdmin(t, addr)
	waitFor(t, 20*time.Second, "the partition after restart", func() bool {
		lo, err := adm.ListStartOffsets(context.Background(), "dr")
		return err == nil && lo["dr"][0].Err == nil && lo["dr"][0].Offset == 30
	})
}

// checkSegmentsFrom fails unless the first remaining segment of a
// partition directory starts at or below start and its successor, if any,
// above it: every segment wholly below the start is gone.
func checkSegmentsFrom(t *testing.T, logDir, part string, start int64) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(logDir, part))
	if err != nil {
		t.Fatal(err)
	}
	var bases []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".log") {
			bases = append(bases, strings.TrimSuffix(e.Name(), ".log"))
		}
	}
	if len(bases) < 2 {
		t.Fatalf("segments of %s: %v; the test wants several", part, bases)
	}
	first, err1 := strconv.ParseInt(bases[0], 10, 64)
	second, err2 := strconv.ParseInt(bases[1], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("segment names %v: %v %v", bases, err1, err2)
	}
	if first > start || second <= start {
		t.Errorf("segments of %s with the log start at %d: %v", part, start, bases)
	}
}

// TestDeleteRecordsFollowers deletes records on an RF 3 partition: the
// answer comes once every in-sync follower has moved its log start too.
func TestDeleteRecordsFollowers(t *testing.T) {
	c := startTestCluster(t, 3)
	adm, _ := newAdmin(t, c.addrs[0])
	ctx := adminCtx(t)
	if res, err := adm.CreateTopics(ctx, 1, 3, nil, "drf"); err != nil || res["drf"].Err != nil {
		t.Fatalf("create: %v %+v", err, res)
	}
	waitFor(t, 30*time.Second, "full ISR", func() bool {
		for _, s := range c.servers {
			p, ok := s.replicas.get(topicPartition{"drf", 0})
			if !ok {
				return false
			}
			if p.leading.Load() {
				if n, _ := p.isrSize(); n != 3 {
					return false
				}
			}
		}
		return true
	})
	produceN(t, c.seeds(), "drf", 20)
	rs, err := adm.DeleteRecords(ctx, kadm.Offsets{"drf": {0: kadm.Offset{At: 12}}})
	if err != nil || rs["drf"][0].Err != nil || rs["drf"][0].LowWatermark != 12 {
		t.Fatalf("delete records: %v %+v", err, rs)
	}
	// The low watermark is the followers' too: no waiting here.
	for i, s := range c.servers {
		p, _ := s.replicas.get(topicPartition{"drf", 0})
		if got := p.StartOffset(); got != 12 {
			t.Errorf("broker %d: log start %d, want 12", i+1, got)
		}
	}
}
