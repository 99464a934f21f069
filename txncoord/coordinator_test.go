package txncoord

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

var bg = context.Background()

func TestInitProducerID(t *testing.T) {
	h := newHarness(t)
	first := h.init(t, "a")
	if first != (ProducerIDAndEpoch{1000, 0}) {
		t.Fatalf("first InitProducerID = %+v, want id 1000 epoch 0", first)
	}
	second := h.init(t, "a")
	if second != (ProducerIDAndEpoch{1000, 1}) {
		t.Fatalf("second InitProducerID = %+v, want the epoch bumped to 1", second)
	}
	ws := h.log.all(t)
	if len(ws) != 2 || ws[1].id != "a" || ws[1].meta.State != Empty || ws[1].meta.ProducerEpoch != 1 || ws[1].partition != h.c.PartitionFor("a") {
		t.Fatalf("log = %+v, want two Empty records for a, the last at epoch 1", ws)
	}
	// The old producer is fenced.
	if e := h.c.AddPartitions(bg, "a", 1000, 0, []TopicPartition{{"t", 0}}); e != kerr.ProducerFenced {
		t.Fatalf("AddPartitions with epoch 0 = %v, want PRODUCER_FENCED", errName(e))
	}
}

func TestInitProducerIDErrors(t *testing.T) {
	tests := []struct {
		name     string
		id       string
		timeout  int32
		expected *ProducerIDAndEpoch
		want     *kerr.Error
	}{
		{"empty id", "", 1000, nil, kerr.InvalidRequest},
		{"timeout over max", "x", 60001, nil, kerr.InvalidTransactionTimeout},
		{"zero timeout", "x", 0, nil, kerr.InvalidTransactionTimeout},
		{"negative timeout", "x", -5, nil, kerr.InvalidTransactionTimeout},
		{"KIP-360 with another producer id", "b", 1000, &ProducerIDAndEpoch{ID: 77, Epoch: 0}, kerr.ProducerFenced},
		{"KIP-360 with an unknown epoch", "b", 1000, &ProducerIDAndEpoch{ID: 1000, Epoch: 7}, kerr.ProducerFenced},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.init(t, "b") // id 1000 epoch 0
			h.init(t, "b") // epoch 1
			before := len(h.log.all(t))
			pe, e := h.c.InitProducerID(bg, tt.id, tt.timeout, tt.expected)
			if e != tt.want || pe.ID != -1 {
				t.Fatalf("InitProducerID = %+v, %v; want %v", pe, errName(e), tt.want.Message)
			}
			if n := len(h.log.all(t)); n != before {
				t.Fatalf("%d records written by a refused request", n-before)
			}
		})
	}
}

func TestInitProducerIDKIP360(t *testing.T) {
	h := newHarness(t)
	pe := h.init(t, "k") // 1000/0
	bumped, e := h.c.InitProducerID(bg, "k", 1000, &pe)
	if e != nil || bumped != (ProducerIDAndEpoch{1000, 1}) {
		t.Fatalf("bump from %+v = %+v, %v; want 1000/1", pe, bumped, errName(e))
	}
	// The answer was lost and the producer retries with its old epoch: it
	// gets the bumped epoch again, nothing written.
	n := len(h.log.all(t))
	again, e := h.c.InitProducerID(bg, "k", 1000, &pe)
	if e != nil || again != bumped || len(h.log.all(t)) != n {
		t.Fatalf("retried bump = %+v, %v (records %d -> %d); want %+v and no write", again, errName(e), n, len(h.log.all(t)), bumped)
	}
}

func TestEpochExhaustionRotatesProducerID(t *testing.T) {
	h := newHarness(t)
	h.init(t, "x")
	// Put the id at the last usable epoch through the log, as a
	// coordinator that ran long would have it.
	p := h.c.PartitionFor("x")
	m := h.state(t, "x")
	h.log.Write(bg, p, EncodeKey("x"), EncodeValue(Metadata{ProducerID: m.ProducerID, ProducerEpoch: 32766, TimeoutMs: 1000, State: CompleteCommit, StartMs: -1, LastUpdateMs: 1}))
	h.c.Unload(p, -1)
	h.c.Load(p, 6, h.log.reader(p))
	h.waitLoaded(t, 3)
	pe := h.init(t, "x")
	if pe.ID == m.ProducerID || pe.Epoch != 0 {
		t.Fatalf("InitProducerID at epoch 32766 = %+v, want a new producer id at epoch 0", pe)
	}
}

func TestAddPartitions(t *testing.T) {
	h := newHarness(t)
	pe := h.init(t, "a")
	tests := []struct {
		name  string
		id    string
		pid   int64
		epoch int16
		want  *kerr.Error
		write bool
	}{
		{"unknown id", "nope", pe.ID, pe.Epoch, kerr.InvalidProducerIDMapping, false},
		{"other producer id", "a", pe.ID + 1, pe.Epoch, kerr.InvalidProducerIDMapping, false},
		{"old epoch", "a", pe.ID, pe.Epoch - 1, kerr.ProducerFenced, false},
		{"newer epoch", "a", pe.ID, pe.Epoch + 1, kerr.ProducerFenced, false},
		{"empty id", "", pe.ID, pe.Epoch, kerr.InvalidRequest, false},
		{"first partitions start the transaction", "a", pe.ID, pe.Epoch, nil, true},
		{"the same partitions again write nothing", "a", pe.ID, pe.Epoch, nil, false},
	}
	for _, tt := range tests {
		before := len(h.log.all(t))
		e := h.c.AddPartitions(bg, tt.id, tt.pid, tt.epoch, []TopicPartition{{"t", 1}, {"t", 0}})
		if e != tt.want {
			t.Errorf("%s: AddPartitions = %v, want %v", tt.name, errName(e), errName(tt.want))
		}
		if wrote := len(h.log.all(t)) > before; wrote != tt.write {
			t.Errorf("%s: wrote = %v, want %v", tt.name, wrote, tt.write)
		}
	}
	d := h.state(t, "a")
	if d.State != Ongoing || d.StartMs != 1_000_000 || !slices.Equal(d.Partitions, []TopicPartition{{"t", 0}, {"t", 1}}) {
		t.Fatalf("after AddPartitions: %+v", d)
	}
	if e := h.c.AddOffsets(bg, "a", pe.ID, pe.Epoch, "group-1"); e != nil {
		t.Fatal(e)
	}
	want := TopicPartition{OffsetsTopic, PartitionFor("group-1", 50)}
	if d := h.state(t, "a"); !slices.Contains(d.Partitions, want) {
		t.Fatalf("AddOffsets did not add %v: %+v", want, d.Partitions)
	}
}

func TestCommitAndAbort(t *testing.T) {
	for _, commit := range []bool{true, false} {
		t.Run(fmt.Sprint("commit=", commit), func(t *testing.T) {
			h := newHarness(t)
			pe := h.begin(t, "a")
			if e := h.c.EndTxn(bg, "a", pe.ID, pe.Epoch, commit); e != nil {
				t.Fatalf("EndTxn = %v", errName(e))
			}
			done, prepare := CompleteAbort, PrepareAbort
			if commit {
				done, prepare = CompleteCommit, PrepareCommit
			}
			h.waitState(t, "a", done)
			ms := h.markers.markers()
			if len(ms) != 1 || ms[0].Commit != commit || ms[0].ProducerID != pe.ID || ms[0].ProducerEpoch != pe.Epoch || ms[0].CoordinatorEpoch != 5 ||
				!slices.Equal(ms[0].Partitions, []TopicPartition{{"t", 0}}) {
				t.Fatalf("markers = %+v", ms)
			}
			var states []State
			for _, w := range h.log.all(t) {
				states = append(states, w.meta.State)
			}
			if want := []State{Empty, Ongoing, prepare, done}; !slices.Equal(states, want) {
				t.Fatalf("records = %v, want %v", states, want)
			}
			if d := h.state(t, "a"); len(d.Partitions) != 0 {
				t.Fatalf("completed transaction still lists %v", d.Partitions)
			}
			// A retry of the same end succeeds; the other one is refused.
			if e := h.c.EndTxn(bg, "a", pe.ID, pe.Epoch, commit); e != nil {
				t.Fatalf("retried EndTxn = %v", errName(e))
			}
			if e := h.c.EndTxn(bg, "a", pe.ID, pe.Epoch, !commit); e != kerr.InvalidTxnState {
				t.Fatalf("opposite EndTxn = %v, want INVALID_TXN_STATE", errName(e))
			}
			// The next transaction starts afresh.
			if e := h.c.AddPartitions(bg, "a", pe.ID, pe.Epoch, []TopicPartition{{"u", 3}}); e != nil {
				t.Fatal(e)
			}
			if d := h.state(t, "a"); d.State != Ongoing || !slices.Equal(d.Partitions, []TopicPartition{{"u", 3}}) {
				t.Fatalf("second transaction: %+v", d)
			}
		})
	}
}

func TestEndTxnErrors(t *testing.T) {
	h := newHarness(t)
	pe := h.init(t, "a")
	tests := []struct {
		name   string
		id     string
		pid    int64
		epoch  int16
		commit bool
		want   *kerr.Error
	}{
		{"unknown id", "nope", pe.ID, pe.Epoch, true, kerr.InvalidProducerIDMapping},
		{"other producer id", "a", 5, pe.Epoch, true, kerr.InvalidProducerIDMapping},
		{"fenced epoch", "a", pe.ID, pe.Epoch - 1, true, kerr.ProducerFenced},
		{"no transaction open", "a", pe.ID, pe.Epoch, true, kerr.InvalidTxnState},
		{"abort with none open", "a", pe.ID, pe.Epoch, false, kerr.InvalidTxnState},
		{"empty id", "", pe.ID, pe.Epoch, true, kerr.InvalidRequest},
	}
	for _, tt := range tests {
		before := len(h.log.all(t))
		if e := h.c.EndTxn(bg, tt.id, tt.pid, tt.epoch, tt.commit); e != tt.want {
			t.Errorf("%s: EndTxn = %v, want %v", tt.name, errName(e), errName(tt.want))
		}
		if n := len(h.log.all(t)); n != before {
			t.Errorf("%s: %d records written", tt.name, n-before)
		}
	}
}

func TestConcurrentWhileCompleting(t *testing.T) {
	h := newHarness(t)
	h.markers.setHold(true)
	pe := h.begin(t, "a")
	if e := h.c.EndTxn(bg, "a", pe.ID, pe.Epoch, true); e != nil {
		t.Fatal(e)
	}
	if e := h.c.AddPartitions(bg, "a", pe.ID, pe.Epoch, []TopicPartition{{"t", 0}}); e != kerr.ConcurrentTransactions {
		t.Fatalf("AddPartitions during the commit = %v, want CONCURRENT_TRANSACTIONS", errName(e))
	}
	if _, e := h.c.InitProducerID(bg, "a", 1000, nil); e != kerr.ConcurrentTransactions {
		t.Fatalf("InitProducerID during the commit = %v, want CONCURRENT_TRANSACTIONS", errName(e))
	}
	if e := h.c.EndTxn(bg, "a", pe.ID, pe.Epoch, true); e != kerr.ConcurrentTransactions {
		t.Fatalf("EndTxn retry during the commit = %v, want CONCURRENT_TRANSACTIONS", errName(e))
	}
	// Kafka checks the pending transition first: an abort while the
	// commit's markers are out is CONCURRENT_TRANSACTIONS too.
	if e := h.c.EndTxn(bg, "a", pe.ID, pe.Epoch, false); e != kerr.ConcurrentTransactions {
		t.Fatalf("abort during the commit = %v, want CONCURRENT_TRANSACTIONS", errName(e))
	}
	h.markers.setHold(false)
	h.waitState(t, "a", CompleteCommit)
}

func TestFencingAbortsOpenTransaction(t *testing.T) {
	h := newHarness(t)
	old := h.begin(t, "a")
	if _, e := h.c.InitProducerID(bg, "a", 30000, nil); e != kerr.ConcurrentTransactions {
		t.Fatalf("InitProducerID with a transaction open = %v, want CONCURRENT_TRANSACTIONS", errName(e))
	}
	h.waitState(t, "a", CompleteAbort)
	ms := h.markers.markers()
	if len(ms) != 1 || ms[0].Commit || ms[0].ProducerEpoch != old.Epoch+1 {
		t.Fatalf("markers = %+v, want one ABORT at epoch %d", ms, old.Epoch+1)
	}
	pe := h.init(t, "a")
	if pe.ID != old.ID || pe.Epoch != old.Epoch+2 {
		t.Fatalf("new producer = %+v, want epoch %d", pe, old.Epoch+2)
	}
	if e := h.c.EndTxn(bg, "a", old.ID, old.Epoch, true); e != kerr.ProducerFenced {
		t.Fatalf("zombie EndTxn = %v, want PRODUCER_FENCED", errName(e))
	}
}

func TestTimedOutTransactionAborted(t *testing.T) {
	h := newHarness(t)
	old := h.begin(t, "a") // timeout 30 s
	h.clock.advance(30 * time.Second)
	h.c.AbortTimedOut(bg)
	if d := h.state(t, "a"); d.State != Ongoing {
		t.Fatalf("aborted at exactly the timeout: %+v", d)
	}
	h.clock.advance(time.Millisecond)
	h.c.AbortTimedOut(bg)
	h.waitState(t, "a", CompleteAbort)
	if d := h.state(t, "a"); d.ProducerEpoch != old.Epoch+1 {
		t.Fatalf("epoch after the timeout abort = %d, want %d", d.ProducerEpoch, old.Epoch+1)
	}
	if e := h.c.AddPartitions(bg, "a", old.ID, old.Epoch, []TopicPartition{{"t", 0}}); e != kerr.ProducerFenced {
		t.Fatalf("the timed-out producer's AddPartitions = %v, want PRODUCER_FENCED", errName(e))
	}
}

func TestExpiredIDRemoved(t *testing.T) {
	h := newHarness(t)
	h.init(t, "old")
	h.begin(t, "open")
	h.clock.advance(time.Hour)
	h.init(t, "fresh")
	h.clock.advance(time.Millisecond)
	h.c.RemoveExpired(bg)
	if d := h.state(t, "old"); d.Err != kerr.TransactionalIDNotFound {
		t.Fatalf("expired id: %+v", d)
	}
	for _, id := range []string{"open", "fresh"} {
		if d := h.state(t, id); d.Err != nil {
			t.Fatalf("%s removed: %+v", id, d)
		}
	}
	// The tombstone survives a reload.
	p := h.c.PartitionFor("old")
	h.c.Unload(p, -1)
	h.c.Load(p, 9, h.log.reader(p))
	h.waitLoaded(t, 3)
	if d := h.state(t, "old"); d.Err != kerr.TransactionalIDNotFound {
		t.Fatalf("expired id after reload: %+v", d)
	}
}

func TestUnacknowledgedWriteNotApplied(t *testing.T) {
	h := newHarness(t)
	pe := h.init(t, "a")
	for _, tt := range []struct {
		err  error
		want *kerr.Error
	}{
		{kerr.NotEnoughReplicas, kerr.CoordinatorNotAvailable},
		{fmt.Errorf("waiting: %w", kerr.RequestTimedOut), kerr.CoordinatorNotAvailable},
		{kerr.NotLeaderForPartition, kerr.NotCoordinator},
		{context.DeadlineExceeded, kerr.CoordinatorNotAvailable},
	} {
		h.log.setFail(tt.err)
		if e := h.c.AddPartitions(bg, "a", pe.ID, pe.Epoch, []TopicPartition{{"t", 0}}); e != tt.want {
			t.Errorf("AddPartitions with the log failing %v = %v, want %v", tt.err, errName(e), errName(tt.want))
		}
		if d := h.state(t, "a"); d.State != Empty {
			t.Fatalf("state after a failed write: %v", d.State)
		}
	}
	h.log.setFail(nil)
	if e := h.c.AddPartitions(bg, "a", pe.ID, pe.Epoch, []TopicPartition{{"t", 0}}); e != nil {
		t.Fatalf("AddPartitions once the log is back = %v", errName(e))
	}
}

func TestLoadResumesCompletion(t *testing.T) {
	h := newHarness(t)
	h.markers.setHold(true)
	pe := h.begin(t, "a")
	if e := h.c.EndTxn(bg, "a", pe.ID, pe.Epoch, true); e != nil {
		t.Fatal(e)
	}
	p := h.c.PartitionFor("a")
	// The coordinator dies with the commit decided but not completed.
	h.c.Unload(p, -1)
	if d := h.state(t, "a"); d.Err != kerr.NotCoordinator {
		t.Fatalf("after unload: %v", errName(d.Err))
	}
	h.markers.setHold(false)
	h.c.Load(p, 6, h.log.reader(p))
	h.waitState(t, "a", CompleteCommit)
	ms := h.markers.markers()
	if len(ms) != 1 || !ms[0].Commit || ms[0].CoordinatorEpoch != 6 {
		t.Fatalf("markers after reload = %+v, want one COMMIT at coordinator epoch 6", ms)
	}
}

func TestLoadInProgress(t *testing.T) {
	h := newHarness(t)
	release := make(chan struct{})
	h.c.Unload(0, -1)
	h.c.Load(0, 7, func(ctx context.Context, yield func(key, value []byte) error) error {
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	var id string
	for i := 0; ; i++ {
		if id = fmt.Sprint("id-", i); h.c.PartitionFor(id) == 0 {
			break
		}
	}
	if _, e := h.c.InitProducerID(bg, id, 1000, nil); e != kerr.CoordinatorLoadInProgress {
		t.Fatalf("InitProducerID while loading = %v, want COORDINATOR_LOAD_IN_PROGRESS", errName(e))
	}
	if _, _, e := h.c.List(ListFilter{}); e != kerr.CoordinatorLoadInProgress {
		t.Fatalf("List while loading = %v", errName(e))
	}
	close(release)
	h.waitLoaded(t, 3)
	h.init(t, id)
	// An older epoch does not reload; Unload with an older epoch does not drop.
	h.c.Load(0, 3, h.log.reader(0))
	h.c.Unload(0, 2)
	if got := h.c.Loaded()[0]; got != 7 {
		t.Fatalf("coordinator epoch of partition 0 = %d, want 7", got)
	}
}

func TestMarkerRetries(t *testing.T) {
	h := newHarness(t)
	h.markers.retries = 3
	pe := h.begin(t, "a")
	if e := h.c.EndTxn(bg, "a", pe.ID, pe.Epoch, false); e != nil {
		t.Fatal(e)
	}
	h.waitState(t, "a", CompleteAbort)
	if n := len(h.markers.markers()); n != 1 {
		t.Fatalf("%d marker rounds delivered, want 1", n)
	}
}

func TestVerify(t *testing.T) {
	h := newHarness(t)
	pe := h.begin(t, "a")
	got, e := h.c.Verify("a", pe.ID, pe.Epoch, []TopicPartition{{"t", 0}, {"t", 1}})
	if e != nil || got[TopicPartition{"t", 0}] != nil || got[TopicPartition{"t", 1}] != kerr.TransactionAbortable {
		t.Fatalf("Verify = %v, %v", got, errName(e))
	}
	if _, e := h.c.Verify("a", pe.ID, pe.Epoch-1, []TopicPartition{{"t", 0}}); e != kerr.ProducerFenced {
		t.Fatalf("Verify with an old epoch = %v", errName(e))
	}
	if _, e := h.c.Verify("zz", 1, 0, []TopicPartition{{"t", 0}}); e != kerr.InvalidProducerIDMapping {
		t.Fatalf("Verify of an unknown id = %v", errName(e))
	}
}

func TestDescribeAndList(t *testing.T) {
	h := newHarness(t)
	a := h.begin(t, "a")
	h.init(t, "b")
	h.clock.advance(10 * time.Second)
	d := h.state(t, "a")
	if d.State != Ongoing || d.ProducerID != a.ID || d.TimeoutMs != 30000 || d.StartMs != 1_000_000 {
		t.Fatalf("Describe(a) = %+v", d)
	}
	tests := []struct {
		f       ListFilter
		want    []string
		unknown []string
	}{
		{ListFilter{}, []string{"a", "b"}, nil},
		{ListFilter{States: []string{"Ongoing"}}, []string{"a"}, nil},
		{ListFilter{States: []string{"Empty", "Bogus"}}, []string{"b"}, []string{"Bogus"}},
		{ListFilter{States: []string{"Bogus"}}, nil, []string{"Bogus"}},
		{ListFilter{ProducerIDs: []int64{a.ID}}, []string{"a"}, nil},
		{ListFilter{MinDuration: 5 * time.Second}, []string{"a"}, nil},
		{ListFilter{MinDuration: 20 * time.Second}, nil, nil},
	}
	for _, tt := range tests {
		got, unknown, e := h.c.List(tt.f)
		var ids []string
		for _, l := range got {
			ids = append(ids, l.TransactionalID)
		}
		if e != nil || !slices.Equal(ids, tt.want) || !slices.Equal(unknown, tt.unknown) {
			t.Errorf("List(%+v) = %v, %v, %v; want %v, %v", tt.f, ids, unknown, errName(e), tt.want, tt.unknown)
		}
	}
}

func TestTransitionTable(t *testing.T) {
	all := []State{Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit, CompleteAbort, Dead, PrepareEpochFence}
	// Spot checks of Kafka's table: no commit without a transaction, no
	// completing what was not prepared, nothing out of Dead.
	for _, tt := range []struct {
		from, to State
		ok       bool
	}{
		{Empty, PrepareCommit, false}, {Ongoing, CompleteCommit, false}, {PrepareCommit, CompleteAbort, false},
		{Dead, Empty, false}, {Ongoing, Dead, false}, {PrepareEpochFence, PrepareAbort, true}, {CompleteAbort, Ongoing, true},
	} {
		if canTransition(tt.from, tt.to) != tt.ok {
			t.Errorf("%v -> %v legal = %v", tt.from, tt.to, !tt.ok)
		}
	}
	for _, s := range all {
		if n, ok := ParseState(s.String()); !ok || n != s {
			t.Errorf("ParseState(%q) = %v, %v", s.String(), n, ok)
		}
	}
}

// TestVerifyDuringAddPartitions: while an AddPartitionsToTxn write is in
// flight, verification of partitions already in the transaction succeeds
// (a producer adds partitions from several connections at once), a second
// AddPartitionsToTxn is CONCURRENT_TRANSACTIONS, and the new partitions
// count only once written.
func TestVerifyDuringAddPartitions(t *testing.T) {
	h := newHarness(t)
	pe := h.begin(t, "a") // t-0
	gate := make(chan struct{})
	h.log.mu.Lock()
	h.log.gate = gate
	h.log.mu.Unlock()
	done := make(chan *kerr.Error, 1)
	go func() { done <- h.c.AddPartitions(bg, "a", pe.ID, pe.Epoch, []TopicPartition{{"t", 1}}) }()
	waitFor(t, "the write to be held", func() bool {
		h.log.mu.Lock()
		defer h.log.mu.Unlock()
		return h.log.waiting == 1
	})
	got, e := h.c.Verify("a", pe.ID, pe.Epoch, []TopicPartition{{"t", 0}, {"t", 1}})
	if e != nil || got[TopicPartition{"t", 0}] != nil || got[TopicPartition{"t", 1}] != kerr.TransactionAbortable {
		t.Fatalf("Verify during the write = %v, %v", got, errName(e))
	}
	if e := h.c.AddPartitions(bg, "a", pe.ID, pe.Epoch, []TopicPartition{{"t", 2}}); e != kerr.ConcurrentTransactions {
		t.Fatalf("second AddPartitions = %v, want CONCURRENT_TRANSACTIONS", errName(e))
	}
	h.log.mu.Lock()
	h.log.gate = nil
	h.log.mu.Unlock()
	close(gate)
	if e := <-done; e != nil {
		t.Fatal(e)
	}
	if got, e := h.c.Verify("a", pe.ID, pe.Epoch, []TopicPartition{{"t", 1}}); e != nil || got[TopicPartition{"t", 1}] != nil {
		t.Fatalf("Verify after the write = %v, %v", got, errName(e))
	}
	// A commit being decided does hold verification up.
	h.markers.setHold(true)
	if e := h.c.EndTxn(bg, "a", pe.ID, pe.Epoch, true); e != nil {
		t.Fatal(e)
	}
	if _, e := h.c.Verify("a", pe.ID, pe.Epoch, []TopicPartition{{"t", 0}}); e != kerr.ConcurrentTransactions {
		t.Fatalf("Verify during the commit = %v, want CONCURRENT_TRANSACTIONS", errName(e))
	}
	h.markers.setHold(false)
	h.waitState(t, "a", CompleteCommit)
}

// TestAddPartitionsWaitsForCompletion: a producer that begins its next
// transaction while the previous one's markers are out is held until the
// commit completes and then joins, instead of hearing
// CONCURRENT_TRANSACTIONS (the wait is long here, so the test does not
// depend on timing).
func TestAddPartitionsWaitsForCompletion(t *testing.T) {
	h := newHarness(t)
	h.c.cfg.CompletionWait = time.Minute
	h.markers.setHold(true)
	pe := h.begin(t, "a")
	if e := h.c.EndTxn(bg, "a", pe.ID, pe.Epoch, true); e != nil {
		t.Fatal(e)
	}
	done := make(chan *kerr.Error, 1)
	go func() { done <- h.c.AddPartitions(bg, "a", pe.ID, pe.Epoch, []TopicPartition{{"t", 7}}) }()
	// While the markers are held it must not answer (without the wait it
	// answered CONCURRENT_TRANSACTIONS at once).
	select {
	case e := <-done:
		t.Fatalf("AddPartitions answered %v while the commit's markers were held", errName(e))
	case <-time.After(100 * time.Millisecond):
	}
	h.markers.setHold(false)
	if e := <-done; e != nil {
		t.Fatalf("AddPartitions after the commit completed = %v, want success", errName(e))
	}
	h.waitState(t, "a", Ongoing)
}
