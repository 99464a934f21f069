package compattests

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gokafka/gokafka/internal/testcluster"
)

// TestDeleteRecordsThenConsume deletes the first records of an RF 3
// partition through kadm (kafka-delete-records.sh's request) on three real
// brokers: a consumer from the earliest offset then starts at the new log
// start, every replica checkpoints it in log-start-offset-checkpoint, and
// after every broker restarted a new consumer from the earliest offset
// still starts there; DescribeLogDirs then shows the three replicas.
func TestDeleteRecordsThenConsume(t *testing.T) {
	c := testcluster.New(t)
	bs := c.StartBrokers(t, 3, map[string]string{"log.segment.bytes": "600"})
	z := c.ZKClient(t)
	ctx := testCtx(t)
	adm := newClient(t, bs[0])
	createReplicated(ctx, t, adm, z, "dr", 1, nil)
	producer := newClient(t, bs[0], kgo.DefaultProduceTopic("dr"), kgo.ProducerLinger(0), kgo.MaxBufferedRecords(1))
	for i := range 40 {
		produceSync(t, producer, &kgo.Record{Value: []byte("record-" + strconv.Itoa(i))})
	}
	rs, err := kadm.NewClient(adm).DeleteRecords(ctx, kadm.Offsets{"dr": {0: kadm.Offset{At: 25}}})
	if err != nil || rs["dr"][0].Err != nil || rs["dr"][0].LowWatermark != 25 {
		t.Fatalf("delete records: %v %+v", err, rs)
	}
	first := func(b *testcluster.Broker) *kgo.Record {
		recs := consume(t, b, map[string]map[int32]kgo.Offset{"dr": {0: kgo.NewOffset().AtStart()}}, 15)
		return recs[0]
	}
	if r := first(bs[1]); r.Offset != 25 || string(r.Value) != "record-25" {
		t.Errorf("first record from the earliest offset: %d %q", r.Offset, r.Value)
	}
	for _, b := range bs {
		waitUntil(t, time.Minute, "broker "+strconv.Itoa(int(b.ID))+" to checkpoint the log start", func() bool {
			data, _ := os.ReadFile(filepath.Join(b.LogDirs()[0], "log-start-offset-checkpoint"))
			return strings.Contains(string(data), "\ndr 0 25\n")
		})
	}
	for _, b := range bs {
		b.Restart()
	}
	waitUntil(t, time.Minute, "full ISRs after the restarts", wholeISRs(t, z, "dr", 1, 3))
	if r := first(bs[2]); r.Offset != 25 || string(r.Value) != "record-25" {
		t.Errorf("first record after restarts: %d %q", r.Offset, r.Value)
	}
	adm0 := kadm.NewClient(newClient(t, bs[0]))
	lo, err := adm0.ListStartOffsets(ctx, "dr")
	if err != nil || lo["dr"][0].Offset != 25 {
		t.Errorf("earliest offset after restarts: %v %+v", err, lo)
	}

	// kafka-log-dirs.sh --describe: every broker holds a replica of
	// dr-0, as big as its segment files, with no lag once caught up.
	waitUntil(t, time.Minute, "every replica of dr-0 described without lag", func() bool {
		dirs, err := adm0.DescribeAllLogDirs(ctx, kadm.TopicsSet{"dr": {0: {}}})
		if err != nil {
			return false
		}
		n := 0
		dirs.Each(func(d kadm.DescribedLogDir) {
			d.Topics.Each(func(p kadm.DescribedLogDirPartition) {
				if p.Size > 0 && p.OffsetLag == 0 && !p.IsFuture {
					n++
				}
			})
		})
		return n == 3
	})
}
