package broker

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/gokafka/gokafka/storage/vfs"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// failingDirs is a broker with two log dirs on a faulty file layer and a
// topic "t" with a partition in each dir.
type failingDirs struct {
	s     *Server
	addr  string
	cfg   Config
	stop  func()
	fsys  *vfs.Faulty
	dirs  [2]string
	parts [2]int32 // the partition held by each dir
}

// failingDirServer starts one (see failingDirs).
func failingDirServer(t *testing.T) failingDirs {
	t.Helper()
	dirs := [2]string{t.TempDir(), t.TempDir()}
	cfg := testServerConfig(t, "log.dirs="+dirs[0]+","+dirs[1])
	fsys := vfs.NewFaulty(nil)
	cfg.FS = fsys
	s, addr, stop := runTestServerLogged(t, cfg, zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)))
	createTestTopic(t, s, addr, "t", 2, nil)
	var parts [2]int32
	for p := int32(0); p < 2; p++ {
		pt, _ := s.replicas.get(topicPartition{"t", p})
		i := slices.Index(dirs[:], filepath.Dir(pt.log.Dir()))
		if i < 0 {
			t.Fatalf("t-%d lies in %s, in neither log dir", p, pt.log.Dir())
		}
		parts[i] = p
	}
	if parts[0] == parts[1] {
		t.Fatalf("both partitions placed in one log dir")
	}
	return failingDirs{s: s, addr: addr, cfg: cfg, stop: stop, fsys: fsys, dirs: dirs, parts: parts}
}

// twoBatches is a batch for each partition of "t".
func twoBatches() map[int32][]byte {
	return map[int32][]byte{0: plainBatch(2, time.Now().UnixMilli()), 1: plainBatch(2, time.Now().UnixMilli())}
}

// produceCodes produces twoBatches and returns each partition's code.
func produceCodes(t *testing.T, cl *kgo.Client) map[int32]int16 {
	t.Helper()
	m := map[int32]int16{}
	for _, p := range produceRaw(t, cl, "t", twoBatches()).Topics[0].Partitions {
		m[p.Partition] = p.ErrorCode
	}
	return m
}

// TestLogDirFailure fails the disk under one of two log dirs: the
// partition there answers KAFKA_STORAGE_ERROR to Produce, Fetch and
// ListOffsets, and once the controller has handled the failure Metadata
// shows it without a leader, this broker listed as an offline replica;
// the partition in the other dir keeps serving, and the broker keeps
// running.
func TestLogDirFailure(t *testing.T) {
	f := failingDirServer(t)
	s, addr, fsys, dirs := f.s, f.addr, f.fsys, f.dirs
	bad, good := f.parts[0], f.parts[1]
	cl := newTestClient(t, addr, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	if c := produceCodes(t, cl); c[0] != 0 || c[1] != 0 {
		t.Fatalf("produce before the failure: codes %v", c)
	}

	fsys.Inject(vfs.OpWrite|vfs.OpSync|vfs.OpTruncate|vfs.OpCreate, dirs[0], syscall.EIO)
	// The append that meets the failure, and every one after it.
	for i := range 2 {
		c := produceCodes(t, cl)
		if c[bad] != kerr.KafkaStorageError.Code || c[good] != 0 {
			t.Fatalf("produce %d after the failure: codes %v, want KAFKA_STORAGE_ERROR for t-%d only", i, c, bad)
		}
	}
	p, _ := s.replicas.get(topicPartition{"t", bad})
	waitUntil(t, "the failed dir's partition to go offline", p.isOffline)
	if !s.dirs.IsOffline(dirs[0]) || s.dirs.IsOffline(dirs[1]) {
		t.Fatalf("offline dirs %v, want only %s", s.dirs.OfflinePaths(), dirs[0])
	}
	if c := produceCodes(t, cl); c[bad] != kerr.KafkaStorageError.Code || c[good] != 0 {
		t.Fatalf("produce once the dir is offline: codes %v", c)
	}
	// The controller learns of the failure (the notification, then a
	// LeaderAndIsr this broker answers KAFKA_STORAGE_ERROR for t-bad) and,
	// with no other replica to elect, takes the partition offline.
	waitUntil(t, "the controller to take the offline replica's partition offline", func() bool {
		tm, ok := s.meta.topic("t")
		return ok && tm.Partitions[bad].Leader == -1
	})

	ctx := testCtx(t)
	tm, _ := s.meta.topic("t")
	fr := kmsg.NewPtrFetchRequest()
	fr.MaxBytes = 1 << 20
	fr.SessionEpoch = -1
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic, ft.TopicID = "t", tm.ID
	lo := kmsg.NewPtrListOffsetsRequest()
	lo.ReplicaID = -1
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = "t"
	for _, part := range []int32{0, 1} {
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.Partition, fp.PartitionMaxBytes = part, 1<<20
		ft.Partitions = append(ft.Partitions, fp)
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.Partition, lp.Timestamp = part, -1
		lt.Partitions = append(lt.Partitions, lp)
	}
	fr.Topics = append(fr.Topics, ft)
	lo.Topics = append(lo.Topics, lt)
	// Straight to the broker: the client's sharding of these requests
	// would retry or fold the partition errors into one.
	br := cl.Broker(int(s.cfg.BrokerID))
	raw, err := br.Request(ctx, fr)
	if err != nil {
		t.Fatal(err)
	}
	fresp := raw.(*kmsg.FetchResponse)
	if raw, err = br.Request(ctx, lo); err != nil {
		t.Fatal(err)
	}
	lresp := raw.(*kmsg.ListOffsetsResponse)
	mr := kmsg.NewPtrMetadataRequest()
	topic := "t"
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = &topic
	mr.Topics = append(mr.Topics, mt)
	if raw, err = br.Request(ctx, mr); err != nil {
		t.Fatal(err)
	}
	mresp := raw.(*kmsg.MetadataResponse)

	// Each answer's code per partition, and whether the healthy one's
	// answer is whole (records, the log end, an online replica).
	type answer struct {
		codes     map[int32]int16
		goodWhole bool
	}
	answers := map[string]*answer{"Fetch": {codes: map[int32]int16{}}, "ListOffsets": {codes: map[int32]int16{}}, "Metadata": {codes: map[int32]int16{}}}
	for _, fp := range fresp.Topics[0].Partitions {
		answers["Fetch"].codes[fp.Partition] = fp.ErrorCode
		answers["Fetch"].goodWhole = answers["Fetch"].goodWhole || fp.Partition == good && len(fp.RecordBatches) > 0
	}
	for _, lp := range lresp.Topics[0].Partitions {
		answers["ListOffsets"].codes[lp.Partition] = lp.ErrorCode
		answers["ListOffsets"].goodWhole = answers["ListOffsets"].goodWhole || lp.Partition == good && lp.Offset == 8
	}
	offlineOK := true
	for _, mp := range mresp.Topics[0].Partitions {
		answers["Metadata"].codes[mp.Partition] = mp.ErrorCode
		offline := slices.Contains(mp.OfflineReplicas, s.cfg.BrokerID)
		offlineOK = offlineOK && offline == (mp.Partition == bad)
	}
	answers["Metadata"].goodWhole = offlineOK
	for api, a := range answers {
		// The replica answers KAFKA_STORAGE_ERROR; Metadata shows what
		// the controller decided: no leader.
		want := kerr.KafkaStorageError
		if api == "Metadata" {
			want = kerr.LeaderNotAvailable
		}
		if a.codes[bad] != want.Code || a.codes[good] != 0 || !a.goodWhole {
			t.Errorf("%s: codes %v (want %v for t-%d only), healthy partition answered whole: %v", api, a.codes, want, bad, a.goodWhole)
		}
	}
	// The healthy dir's checkpoints go on; the failed one's stay.
	if err := s.replicas.writeCheckpoints(); err != nil {
		t.Fatalf("checkpoints with one dir offline: %v", err)
	}
}

// TestAllLogDirsFailed fails both log dirs: the broker stops by itself,
// Run reporting that every log dir is offline, as Kafka halts.
func TestAllLogDirsFailed(t *testing.T) {
	dirs := [2]string{t.TempDir(), t.TempDir()}
	cfg := testServerConfig(t, "log.dirs="+dirs[0]+","+dirs[1])
	fsys := vfs.NewFaulty(nil)
	cfg.FS = fsys
	s, err := New(cfg, zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	select {
	case <-s.Ready():
	case err := <-errc:
		t.Fatalf("server did not start: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("server did not start within 60s")
	}
	addr := s.Addr().String()
	createTestTopic(t, s, addr, "t", 2, nil)
	fsys.Inject(vfs.OpWrite|vfs.OpSync|vfs.OpTruncate|vfs.OpCreate|vfs.OpRename, "", syscall.EIO)
	cl := newTestClient(t, addr, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	// Both partitions' appends fail, taking both dirs offline.
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = 1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "t"
	for p := range int32(2) {
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition, rp.Records = p, plainBatch(1, time.Now().UnixMilli())
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	if _, err := req.RequestWith(testCtx(t), cl); err != nil {
		t.Logf("produce: %v (the broker may already be stopping)", err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, errAllLogDirsOffline) {
			t.Fatalf("Run returned %v, want errAllLogDirsOffline", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the broker kept running with every log dir offline")
	}
	if got := s.dirs.OfflinePaths(); len(got) != 2 {
		t.Fatalf("offline dirs %v, want both", got)
	}
}

// TestLogDirRecoversAtRestart: a log dir that failed is recovered at the
// next start (its disk replaced, here the faults cleared): its partition
// serves again, with every batch acknowledged before the failure.
func TestLogDirRecoversAtRestart(t *testing.T) {
	f := failingDirServer(t)
	bad := f.parts[0]
	cl := newTestClient(t, f.addr, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	for range 2 {
		if c := produceCodes(t, cl); c[0] != 0 || c[1] != 0 {
			t.Fatalf("produce before the failure: codes %v", c)
		}
	}
	f.fsys.Inject(vfs.OpWrite|vfs.OpSync, f.dirs[0], syscall.EIO)
	if c := produceCodes(t, cl); c[bad] != kerr.KafkaStorageError.Code {
		t.Fatalf("produce after the failure: codes %v", c)
	}
	p, _ := f.s.replicas.get(topicPartition{"t", bad})
	waitUntil(t, "the partition to go offline", p.isOffline)
	cl.Close()
	f.stop()

	f.fsys.Clear()
	s2, addr2, _ := runTestServer(t, f.cfg)
	waitUntil(t, "t-bad to be led again", func() bool {
		p, ok := s2.replicas.get(topicPartition{"t", bad})
		return ok && p.leading.Load() && !p.isOffline()
	})
	p2, _ := s2.replicas.get(topicPartition{"t", bad})
	if end := p2.EndOffset(); end < 4 {
		t.Fatalf("t-%d ends at %d after the restart, want at least the 4 acknowledged records", bad, end)
	}
	cl2 := newTestClient(t, addr2, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	if c := produceCodes(t, cl2); c[0] != 0 || c[1] != 0 {
		t.Fatalf("produce after the restart: codes %v", c)
	}
}
