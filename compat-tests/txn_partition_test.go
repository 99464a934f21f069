package compattests

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/gokafka/internal/testcluster"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The partition side of transactions, end to end with the real binary:
// the tests play the transaction coordinator themselves (gokafka's
// coordinator is built separately), producing transactional batches with
// kmsg and ending transactions with WriteTxnMarkers to the partition
// leader, as a coordinator does, and read with franz-go consumers at both
// isolation levels.

// txnPartition drives partition 0 of a topic as a transactional producer
// and its coordinator would.
type txnPartition struct {
	t      *testing.T
	cl     *kgo.Client
	topic  string
	id     [16]byte // the topic id, for Fetch v13+
	leader int32
	pid    int64
	epoch  int16
	seq    int32
}

// newTxnPartition gets a producer id (InitProducerId without a
// transactional id) and finds the partition's leader.
func newTxnPartition(ctx context.Context, t *testing.T, cl *kgo.Client, topic string) *txnPartition {
	t.Helper()
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionTimeoutMillis = 60000
	resp, err := req.RequestWith(ctx, cl)
	if err != nil || resp.ErrorCode != 0 {
		t.Fatalf("init producer id: %v (code %d)", err, resp.ErrorCode)
	}
	tp := &txnPartition{t: t, cl: cl, topic: topic, leader: -1, pid: resp.ProducerID, epoch: resp.ProducerEpoch}
	tp.findLeader(ctx)
	return tp
}

// findLeader waits until the partition has a live leader and keeps it.
func (tp *txnPartition) findLeader(ctx context.Context) {
	tp.t.Helper()
	eventually(tp.t, "a leader for "+tp.topic+"-0", func() error {
		md, err := kadm.NewClient(tp.cl).Metadata(ctx, tp.topic)
		if err != nil {
			return err
		}
		p := md.Topics[tp.topic].Partitions[0]
		if p.Err != nil {
			return p.Err
		}
		if p.Leader < 0 || p.Leader == tp.leader {
			return kerr.LeaderNotAvailable
		}
		tp.leader, tp.id = p.Leader, md.Topics[tp.topic].ID
		return nil
	})
}

// transactionalBatch encodes values as one transactional record batch of
// the producer, as a transactional producer sends it (base offset 0).
func (tp *txnPartition) transactionalBatch(values ...string) []byte {
	var recs []byte
	for i, v := range values {
		r := kmsg.Record{OffsetDelta: int32(i), Value: []byte(v)}
		body := r.AppendTo(nil)[1:] // without the zero length varint
		r.Length = int32(len(body))
		recs = r.AppendTo(recs)
	}
	now := time.Now().UnixMilli()
	b := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1, Magic: 2, Attributes: 0x10, LastOffsetDelta: int32(len(values) - 1),
		FirstTimestamp: now, MaxTimestamp: now, ProducerID: tp.pid, ProducerEpoch: tp.epoch,
		FirstSequence: tp.seq, NumRecords: int32(len(values)), Records: recs,
	}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-12))
	binary.BigEndian.PutUint32(out[17:], crc32.Checksum(out[21:], crc32.MakeTable(crc32.Castagnoli)))
	tp.seq += int32(len(values))
	return out
}

// produce sends values in one transactional batch to the leader with
// acks=all and returns the base offset.
func (tp *txnPartition) produce(ctx context.Context, values ...string) int64 {
	tp.t.Helper()
	req := kmsg.NewPtrProduceRequest()
	txn := "compat-txn"
	req.TransactionID = &txn
	req.Acks = -1
	req.TimeoutMillis = 30000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = tp.topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = tp.transactionalBatch(values...)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, tp.cl.Broker(int(tp.leader)))
	if err != nil {
		tp.t.Fatalf("transactional produce: %v", err)
	}
	sp := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(sp.ErrorCode); err != nil {
		tp.t.Fatalf("transactional produce: %v", err)
	}
	return sp.BaseOffset
}

// end writes the COMMIT or ABORT marker to the leader as the coordinator
// does and returns the partition's error code.
func (tp *txnPartition) end(ctx context.Context, commit bool) int16 {
	tp.t.Helper()
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	m := kmsg.NewWriteTxnMarkersRequestMarker()
	m.ProducerID, m.ProducerEpoch, m.Committed = tp.pid, tp.epoch, commit
	m.Topics = []kmsg.WriteTxnMarkersRequestMarkerTopic{{Topic: tp.topic, Partitions: []int32{0}}}
	req.Markers = append(req.Markers, m)
	resp, err := req.RequestWith(ctx, tp.cl.Broker(int(tp.leader)))
	if err != nil {
		tp.t.Fatalf("write markers: %v", err)
	}
	return resp.Markers[0].Topics[0].Partitions[0].ErrorCode
}

// fetchState fetches partition 0 from the leader at read_committed and
// returns the LSO, the high watermark and how many data records came.
func (tp *txnPartition) fetchState(ctx context.Context, from int64) (lso, hw int64, records int) {
	tp.t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxBytes = 1 << 20
	req.IsolationLevel = 1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = tp.topic, tp.id
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.FetchOffset = from
	rp.PartitionMaxBytes = 1 << 20
	rp.CurrentLeaderEpoch = -1
	rp.LogStartOffset = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, tp.cl.Broker(int(tp.leader)))
	if err != nil {
		tp.t.Fatalf("fetch: %v", err)
	}
	sp := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(sp.ErrorCode); err != nil {
		tp.t.Fatalf("fetch: %v", err)
	}
	for data := sp.RecordBatches; len(data) >= 61; {
		var b kmsg.RecordBatch
		if err := b.ReadFrom(data); err != nil {
			tp.t.Fatalf("fetched batch: %v", err)
		}
		if b.Attributes&0x20 == 0 {
			records += int(b.NumRecords)
		}
		data = data[12+int(b.Length):]
	}
	return sp.LastStableOffset, sp.HighWatermark, records
}

// listCommitted answers ListOffsets latest at read_committed.
func listCommitted(ctx context.Context, t *testing.T, cl *kgo.Client, topic string) int64 {
	t.Helper()
	offs, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("list committed offsets: %v", err)
	}
	o, _ := offs.Lookup(topic, 0)
	if o.Err != nil {
		t.Fatalf("list committed offsets: %v", o.Err)
	}
	return o.Offset
}

// readValues reads n records of partition 0 from the start at an
// isolation level.
func readValues(t *testing.T, seeds []string, topic string, level kgo.IsolationLevel, n int) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.FetchIsolationLevel(level), kgo.FetchMaxWait(500*time.Millisecond),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []string
	for _, r := range pollN(t, cl, n) {
		out = append(out, string(r.Value))
	}
	return out
}

func TestTxnPartitionCommitAbortVisibility(t *testing.T) {
	_, b := startBroker(t, noTxnVerification(nil))
	ctx := testCtx(t)
	cl := newClient(t, b)
	createTopic(t, newAdmin(t, b), "txn", 1, nil)
	plain := newClient(t, b, kgo.DefaultProduceTopic("txn"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	seeds := []string{b.Addr()}

	a := newTxnPartition(ctx, t, cl, "txn")
	first := a.produce(ctx, "a0", "a1", "a2")
	produceSync(t, plain, &kgo.Record{Value: []byte("p0")})
	// The open transaction holds read_committed readers at its first
	// offset, the plain record after it too.
	if lso, hw, n := a.fetchState(ctx, 0); lso != first || hw != 4 || n != 0 {
		t.Fatalf("open transaction: LSO %d HW %d records %d, want LSO %d HW 4 and nothing", lso, hw, n, first)
	}
	if got := listCommitted(ctx, t, cl, "txn"); got != first {
		t.Fatalf("ListOffsets read_committed: %d, want the LSO %d", got, first)
	}
	if got := readValues(t, seeds, "txn", kgo.ReadUncommitted(), 4); !slices.Equal(got, []string{"a0", "a1", "a2", "p0"}) {
		t.Fatalf("read_uncommitted during the transaction: %v", got)
	}
	if code := a.end(ctx, true); code != 0 {
		t.Fatalf("commit marker: %v", kerr.ErrorForCode(code))
	}

	bp := newTxnPartition(ctx, t, cl, "txn")
	bp.produce(ctx, "b0", "b1")
	if code := bp.end(ctx, false); code != 0 {
		t.Fatalf("abort marker: %v", kerr.ErrorForCode(code))
	}
	produceSync(t, plain, &kgo.Record{Value: []byte("p1")})

	if got := readValues(t, seeds, "txn", kgo.ReadCommitted(), 5); !slices.Equal(got, []string{"a0", "a1", "a2", "p0", "p1"}) {
		t.Fatalf("read_committed: %v, want the committed and plain records only", got)
	}
	if got := readValues(t, seeds, "txn", kgo.ReadUncommitted(), 7); !slices.Equal(got, []string{"a0", "a1", "a2", "p0", "b0", "b1", "p1"}) {
		t.Fatalf("read_uncommitted: %v", got)
	}
	// 7 records and 2 markers: the LSO is the end once all is done.
	if got := listCommitted(ctx, t, cl, "txn"); got != 9 {
		t.Fatalf("ListOffsets read_committed after both markers: %d, want 9", got)
	}

	// DescribeProducers (kafka-transactions.sh describe-producers).
	dreq := kmsg.NewPtrDescribeProducersRequest()
	dreq.Topics = []kmsg.DescribeProducersRequestTopic{{Topic: "txn", Partitions: []int32{0}}}
	dresp, err := dreq.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	ps := dresp.Topics[0].Partitions[0]
	var pids []int64
	for _, ap := range ps.ActiveProducers {
		pids = append(pids, ap.ProducerID)
		if ap.CurrentTxnStartOffset != -1 {
			t.Errorf("producer %d still shows a transaction at %d", ap.ProducerID, ap.CurrentTxnStartOffset)
		}
	}
	if ps.ErrorCode != 0 || !slices.Contains(pids, a.pid) || !slices.Contains(pids, bp.pid) {
		t.Fatalf("describe producers: %+v, want producers %d and %d", ps, a.pid, bp.pid)
	}
}

// TestTxnPartitionLeaderKilledMidTransaction kills the partition leader
// (SIGKILL) between a transaction's data and its marker on a three-broker
// cluster: the new leader holds read_committed readers at the
// transaction's first offset (plain records after it wait too) until the
// marker, sent to it, aborts the transaction, whose records never reach a
// read_committed reader.
func TestTxnPartitionLeaderKilledMidTransaction(t *testing.T) {
	c := testcluster.New(t)
	brokers, seeds := threeBrokers(t, c, noTxnVerification(nil))
	ctx := testCtx(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	createAssigned(ctx, t, cl, "txnrf3", []int32{0, 1, 2}, map[string]string{"min.insync.replicas": "2"})
	tp := newTxnPartition(ctx, t, cl, "txnrf3")
	if err := produceValues(ctx, t, seeds, "txnrf3", kgo.AllISRAcks(), "p0"); err != nil {
		t.Fatal(err)
	}
	first := tp.produce(ctx, "x0", "x1", "x2")
	if err := produceValues(ctx, t, seeds, "txnrf3", kgo.AllISRAcks(), "p1"); err != nil {
		t.Fatal(err)
	}
	old := tp.leader
	brokers[old].Kill()
	tp.findLeader(ctx)
	t.Logf("leader %d killed, new leader %d", old, tp.leader)
	// The new leader rebuilt the open transaction from the replicated
	// batches: read_committed readers stop at its first offset.
	eventually(t, "the new leader's high watermark covers the records", func() error {
		if _, hw, _ := tp.fetchState(ctx, 0); hw < 5 {
			return kerr.OffsetNotAvailable
		}
		return nil
	})
	if lso, _, n := tp.fetchState(ctx, 0); lso != first || n != 1 {
		t.Fatalf("new leader: LSO %d with %d records readable, want LSO %d with only p0", lso, n, first)
	}
	if err := produceValues(ctx, t, seeds, "txnrf3", kgo.AllISRAcks(), "p2"); err != nil {
		t.Fatal(err)
	}
	if got := listCommitted(ctx, t, cl, "txnrf3"); got != first {
		t.Fatalf("ListOffsets read_committed on the new leader: %d, want %d", got, first)
	}
	var code int16
	eventually(t, "the abort marker on the new leader", func() error {
		code = tp.end(ctx, false)
		return kerr.ErrorForCode(code)
	})
	if got := readValues(t, seeds, "txnrf3", kgo.ReadCommitted(), 3); !slices.Equal(got, []string{"p0", "p1", "p2"}) {
		t.Fatalf("read_committed after the abort: %v, want the plain records only", got)
	}
	startAgain(t, brokers[old])
	if got := readValues(t, seeds, "txnrf3", kgo.ReadUncommitted(), 6); !slices.Equal(got, []string{"p0", "x0", "x1", "x2", "p1", "p2"}) {
		t.Fatalf("read_uncommitted: %v", got)
	}
}

// TestTxnPartitionBrokerKilledMidTransaction kills a single broker
// (SIGKILL) with one transaction aborted and another open, restarts it, and
// checks that recovery rebuilt both: the open transaction still holds
// read_committed readers at its first offset, the aborted one stays
// invisible, and the open one can still be committed.
func TestTxnPartitionBrokerKilledMidTransaction(t *testing.T) {
	_, b := startBroker(t, noTxnVerification(map[string]string{"log.segment.bytes": "1024"}))
	ctx := testCtx(t)
	cl := newClient(t, b)
	createTopic(t, newAdmin(t, b), "txnkill", 1, nil)
	seeds := []string{b.Addr()}

	ab := newTxnPartition(ctx, t, cl, "txnkill")
	ab.produce(ctx, "x0", "x1")
	if code := ab.end(ctx, false); code != 0 {
		t.Fatalf("abort marker: %v", kerr.ErrorForCode(code))
	}
	op := newTxnPartition(ctx, t, cl, "txnkill")
	var first int64 = -1
	for i := range 20 { // several segments of 1 KiB
		off := op.produce(ctx, fmt.Sprintf("o%d-%s", i, strings.Repeat("v", 100)))
		if first < 0 {
			first = off
		}
	}
	b.Kill()
	startAgain(t, b)
	cl2 := newClient(t, b)
	op.cl, op.leader = cl2, -1
	op.findLeader(ctx)
	if lso, _, n := op.fetchState(ctx, 0); lso != first || n != 2 {
		t.Fatalf("after the restart: LSO %d with %d records readable, want LSO %d with the 2 aborted ones only (dropped by the consumer)", lso, n, first)
	}
	if code := op.end(ctx, true); code != 0 {
		t.Fatalf("commit marker after the restart: %v", kerr.ErrorForCode(code))
	}
	got := readValues(t, seeds, "txnkill", kgo.ReadCommitted(), 20)
	for i, v := range got {
		if !strings.HasPrefix(v, fmt.Sprintf("o%d-", i)) {
			t.Fatalf("read_committed after the restart: record %d is %.10q, want o%d-...", i, v, i)
		}
	}
}

// noTxnVerification adds transaction.partition.verification.enable=false
// to a broker's overrides: these tests play the coordinator themselves
// with raw requests, so no coordinator could verify their transactional
// batches (KIP-890) and the partitions would refuse them.
func noTxnVerification(overrides map[string]string) map[string]string {
	out := map[string]string{"transaction.partition.verification.enable": "false"}
	for k, v := range overrides {
		out[k] = v
	}
	return out
}
