package txncoord

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// written is one record the fake log accepted.
type written struct {
	partition int32
	id        string
	meta      Metadata
}

// fakeLog is an in-memory __transaction_state: it keeps every record per
// partition, and fails writes while fail is set.
type fakeLog struct {
	mu      sync.Mutex
	records map[int32][][2][]byte
	fail    error
	// gate, when set, holds every write until it is closed; waiting
	// counts the writes held.
	gate    chan struct{}
	waiting int
}

func (l *fakeLog) Write(ctx context.Context, partition int32, key, value []byte) error {
	l.mu.Lock()
	if gate := l.gate; gate != nil {
		l.waiting++
		l.mu.Unlock()
		<-gate
		l.mu.Lock()
		l.waiting--
	}
	defer l.mu.Unlock()
	if l.fail != nil {
		return l.fail
	}
	if l.records == nil {
		l.records = map[int32][][2][]byte{}
	}
	l.records[partition] = append(l.records[partition], [2][]byte{key, value})
	return nil
}

func (l *fakeLog) setFail(err error) {
	l.mu.Lock()
	l.fail = err
	l.mu.Unlock()
}

// all decodes every record written so far, in order.
func (l *fakeLog) all(t *testing.T) []written {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []written
	for p, recs := range l.records {
		for _, r := range recs {
			id, err := DecodeKey(r[0])
			if err != nil {
				t.Fatal(err)
			}
			m, err := DecodeValue(r[1])
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, written{p, id, m})
		}
	}
	return out
}

// reader replays partition as the broker's log reader would.
func (l *fakeLog) reader(partition int32) Records {
	return func(ctx context.Context, yield func(key, value []byte) error) error {
		l.mu.Lock()
		recs := append([][2][]byte(nil), l.records[partition]...)
		l.mu.Unlock()
		for _, r := range recs {
			if err := yield(r[0], r[1]); err != nil {
				return err
			}
		}
		return nil
	}
}

// fakeMarkers records markers; while hold is set it writes nothing and
// asks for every partition again.
type fakeMarkers struct {
	mu      sync.Mutex
	sent    []Marker
	hold    bool
	retries int // how many more calls answer "retry all"
}

func (f *fakeMarkers) WriteMarkers(ctx context.Context, m Marker) []TopicPartition {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ctx.Err() != nil {
		return m.Partitions // a real writer's requests fail once ctx ends
	}
	if f.hold || f.retries > 0 {
		if f.retries > 0 {
			f.retries--
		}
		return m.Partitions
	}
	m.Partitions = append([]TopicPartition(nil), m.Partitions...)
	f.sent = append(f.sent, m)
	return nil
}

func (f *fakeMarkers) setHold(h bool) {
	f.mu.Lock()
	f.hold = h
	f.mu.Unlock()
}

func (f *fakeMarkers) markers() []Marker {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Marker(nil), f.sent...)
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type harness struct {
	c       *Coordinator
	log     *fakeLog
	markers *fakeMarkers
	clock   *fakeClock
	nextPID int64
}

// newHarness returns a coordinator with every partition loaded at epoch
// 5 from an empty log. Its cleanup loops never fire on their own (the
// intervals are an hour); tests call them.
func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{log: &fakeLog{}, markers: &fakeMarkers{}, clock: &fakeClock{now: time.UnixMilli(1_000_000)}, nextPID: 1000}
	var pidMu sync.Mutex
	c, err := New(Config{
		NumPartitions: 3, MaxTimeout: time.Minute, IDExpiration: time.Hour,
		AbortTimedOutInterval: time.Hour, RemoveExpiredInterval: time.Hour, RetryBackoff: time.Millisecond,
		Log: h.log, Markers: h.markers, Now: h.clock.Now,
		ProducerIDs: func(context.Context) (int64, error) {
			pidMu.Lock()
			defer pidMu.Unlock()
			h.nextPID++
			return h.nextPID - 1, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	h.c = c
	for p := int32(0); p < 3; p++ {
		c.Load(p, 5, h.log.reader(p))
	}
	h.waitLoaded(t, 3)
	return h
}

func (h *harness) waitLoaded(t *testing.T, n int) {
	t.Helper()
	waitFor(t, "partitions loaded", func() bool { return len(h.c.Loaded()) == n })
}

// waitFor polls cond until it holds, failing after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func (h *harness) state(t *testing.T, id string) Description {
	t.Helper()
	return h.c.Describe([]string{id})[0]
}

func (h *harness) waitState(t *testing.T, id string, st State) {
	t.Helper()
	waitFor(t, id+" in state "+st.String(), func() bool {
		d := h.state(t, id)
		return d.Err == nil && d.State == st
	})
}

// init initialises id with a 30 s timeout and fails the test on error.
func (h *harness) init(t *testing.T, id string) ProducerIDAndEpoch {
	t.Helper()
	pe, e := h.c.InitProducerID(context.Background(), id, 30000, nil)
	if e != nil {
		t.Fatalf("InitProducerID(%s) = %v", id, e)
	}
	return pe
}

// begin initialises id and opens a transaction on topic t-0.
func (h *harness) begin(t *testing.T, id string) ProducerIDAndEpoch {
	t.Helper()
	pe := h.init(t, id)
	if e := h.c.AddPartitions(context.Background(), id, pe.ID, pe.Epoch, []TopicPartition{{"t", 0}}); e != nil {
		t.Fatalf("AddPartitions = %v", e)
	}
	return pe
}

func errName(e *kerr.Error) string {
	if e == nil {
		return "NONE"
	}
	return e.Message
}
