package wire

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// deferringHandler defers every acks=all Produce until the test releases
// it, answers other Produce requests at once, and answers Metadata with
// the correlation id in ControllerID. It records the order in which
// requests were handled.
type deferringHandler struct {
	mu      sync.Mutex
	handled []int32
	release map[int32]chan struct{} // closed by the test to end a wait
	waited  chan int32              // correlation ids whose Wait ended, in order
}

func newDeferringHandler() *deferringHandler {
	return &deferringHandler{release: map[int32]chan struct{}{}, waited: make(chan int32, 64)}
}

func (h *deferringHandler) gate(cid int32) chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	ch, ok := h.release[cid]
	if !ok {
		ch = make(chan struct{})
		h.release[cid] = ch
	}
	return ch
}

func (h *deferringHandler) Handle(ctx context.Context, hdr *RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	cid := hdr.CorrelationID
	h.mu.Lock()
	h.handled = append(h.handled, cid)
	h.mu.Unlock()
	switch r := req.(type) {
	case *kmsg.MetadataRequest:
		resp := kmsg.NewPtrMetadataResponse()
		resp.ControllerID = cid
		return resp, nil
	case *kmsg.ProduceRequest:
		resp := kmsg.NewPtrProduceResponse()
		resp.ThrottleMillis = cid
		if r.Acks == 0 {
			// As the broker does when an acks=0 produce fails.
			return nil, errors.New("acks=0 produce failed: closing the connection")
		}
		if r.Acks != -1 {
			return resp, nil
		}
		gate := h.gate(cid)
		return &DeferredResponse{Response: resp, Wait: func(wctx context.Context) {
			select {
			case <-gate:
			case <-wctx.Done():
			}
			h.waited <- cid
		}}, nil
	}
	return nil, errors.New("unexpected request")
}

func (h *deferringHandler) handledIDs() []int32 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]int32(nil), h.handled...)
}

// waitHandled polls until the handler has seen n requests.
func (h *deferringHandler) waitHandled(t *testing.T, n int) []int32 {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ids := h.handledIDs()
		if len(ids) >= n {
			return ids
		}
		if time.Now().After(deadline) {
			t.Fatalf("handled %v, want %d requests", ids, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func deferProduceFrame(cid int32, acks int16) []byte {
	r := kmsg.NewPtrProduceRequest()
	r.Acks = acks
	r.TimeoutMillis = 1000
	return frameOf(encodeRequest(r, 7, cid, strp("p")))
}

func metadataFrame(cid int32) []byte {
	return frameOf(encodeRequest(kmsg.NewPtrMetadataRequest(), 1, cid, strp("c")))
}

// responseID decodes which request a test response answers: Produce
// carries it in ThrottleMillis, Metadata in ControllerID.
func responseID(t *testing.T, body []byte, produce bool) int32 {
	t.Helper()
	if produce {
		resp := kmsg.NewPtrProduceResponse()
		resp.SetVersion(7)
		if err := resp.ReadFrom(body); err != nil {
			t.Fatalf("produce response: %v", err)
		}
		return resp.ThrottleMillis
	}
	resp := kmsg.NewPtrMetadataResponse()
	resp.SetVersion(1)
	if err := resp.ReadFrom(body); err != nil {
		t.Fatalf("metadata response: %v", err)
	}
	return resp.ControllerID
}

// TestServeConnDeferredProduce: a Produce whose response waits does not
// stop the next Produce from being handled, responses keep request order
// whichever wait ends first, and a Metadata request behind them is handled
// only once every earlier response is out.
func TestServeConnDeferredProduce(t *testing.T) {
	h := newDeferringHandler()
	s := serve(t, ConnConfig{}, h)

	var out []byte
	out = append(out, deferProduceFrame(1, -1)...)
	out = append(out, deferProduceFrame(2, -1)...)
	out = append(out, deferProduceFrame(3, 1)...)
	out = append(out, metadataFrame(4)...)
	if _, err := s.client.Write(out); err != nil {
		t.Fatal(err)
	}
	// Produce 2 and 3 are handled while 1 waits; Metadata is not.
	if ids := h.waitHandled(t, 3); len(ids) != 3 || ids[0] != 1 || ids[1] != 2 || ids[2] != 3 {
		t.Fatalf("handled %v while the first produce waited, want [1 2 3]", ids)
	}
	// The second produce is released first; its response still follows
	// the first's.
	close(h.gate(2))
	if ids := h.handledIDs(); len(ids) != 3 {
		t.Fatalf("handled %v before the first produce was answered", ids)
	}
	close(h.gate(1))
	for _, want := range []int32{1, 2, 3, 4} {
		cid, body := readResponse(t, s.client)
		if cid != want {
			t.Fatalf("got correlation id %d, want %d", cid, want)
		}
		if id := responseID(t, body, want != 4); id != want {
			t.Fatalf("response %d carries the answer to %d", want, id)
		}
	}
	// With nothing queued, the connection answers directly again.
	if _, err := s.client.Write(metadataFrame(5)); err != nil {
		t.Fatal(err)
	}
	if cid, _ := readResponse(t, s.client); cid != 5 {
		t.Fatalf("got correlation id %d, want 5", cid)
	}
}

// TestServeConnDeferredBound: a producer sending far ahead of its waiting
// responses is held at maxDeferredResponses queued responses.
func TestServeConnDeferredBound(t *testing.T) {
	h := newDeferringHandler()
	s := serve(t, ConnConfig{}, h)
	n := maxDeferredResponses + 4
	var out []byte
	for i := 1; i <= n; i++ {
		out = append(out, deferProduceFrame(int32(i), -1)...)
	}
	if _, err := s.client.Write(out); err != nil {
		t.Fatal(err)
	}
	// The writer and its queue hold maxDeferredResponses; the reader is
	// blocked handing over the next one, having handled it.
	h.waitHandled(t, maxDeferredResponses+1)
	time.Sleep(50 * time.Millisecond) // give an unbounded reader time to run ahead
	if ids := h.handledIDs(); len(ids) != maxDeferredResponses+1 {
		t.Fatalf("handled %d requests with every response waiting, want %d", len(ids), maxDeferredResponses+1)
	}
	for i := 1; i <= n; i++ {
		close(h.gate(int32(i)))
	}
	for i := 1; i <= n; i++ {
		if cid, _ := readResponse(t, s.client); cid != int32(i) {
			t.Fatalf("got correlation id %d, want %d", cid, i)
		}
	}
}

// TestServeConnDeferredClientGone: when the client closes its connection
// while responses wait, ServeConn ends those waits and returns.
func TestServeConnDeferredClientGone(t *testing.T) {
	h := newDeferringHandler()
	s := serve(t, ConnConfig{}, h)
	if _, err := s.client.Write(append(deferProduceFrame(1, -1), deferProduceFrame(2, -1)...)); err != nil {
		t.Fatal(err)
	}
	h.waitHandled(t, 2)
	s.client.Close()
	if err := s.wait(t); err != nil {
		t.Fatalf("ServeConn after the client left: %v", err)
	}
	for _, want := range []int32{1, 2} {
		select {
		case got := <-h.waited:
			if got != want {
				t.Fatalf("wait %d ended, want %d", got, want)
			}
		default:
			t.Fatalf("wait %d still running after ServeConn returned", want)
		}
	}
}

// TestServeConnDeferredByteBound: large Produce frames stop being
// pipelined once the queued frames would pass maxDeferredBytes; the next
// one is handled after the queue drains.
func TestServeConnDeferredByteBound(t *testing.T) {
	h := newDeferringHandler()
	s := serve(t, ConnConfig{}, h)
	const size = 6 << 20 // two fit in maxDeferredBytes, three do not
	var out []byte
	for cid := int32(1); cid <= 3; cid++ {
		r := kmsg.NewPtrProduceRequest()
		r.Acks = -1
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = make([]byte, size)
		rt.Partitions = append(rt.Partitions, rp)
		r.Topics = append(r.Topics, rt)
		out = append(out, frameOf(encodeRequest(r, 7, cid, strp("p")))...)
	}
	go s.client.Write(out) // the server stops reading, so this may block
	h.waitHandled(t, 2)
	time.Sleep(50 * time.Millisecond) // give an unbounded reader time to run ahead
	if ids := h.handledIDs(); len(ids) != 2 {
		t.Fatalf("handled %v with 12 MiB of frames queued, want [1 2]", ids)
	}
	for cid := int32(1); cid <= 3; cid++ {
		close(h.gate(cid))
	}
	for want := int32(1); want <= 3; want++ {
		if cid, _ := readResponse(t, s.client); cid != want {
			t.Fatalf("got correlation id %d, want %d", cid, want)
		}
	}
}

// TestServeConnDeferredBeforeError: when a request fails and closes the
// connection, the responses queued before it are still written first, as
// Kafka would have answered them before reading the failing request.
func TestServeConnDeferredBeforeError(t *testing.T) {
	h := newDeferringHandler()
	s := serve(t, ConnConfig{}, h)
	// Produce 1 waits, produce 2 (acks=1) queues behind it, and produce
	// 3 (acks=0) fails, which closes the connection.
	out := append(deferProduceFrame(1, -1), deferProduceFrame(2, 1)...)
	out = append(out, deferProduceFrame(3, 0)...)
	if _, err := s.client.Write(out); err != nil {
		t.Fatal(err)
	}
	h.waitHandled(t, 3)
	close(h.gate(1))
	for _, want := range []int32{1, 2} {
		if cid, _ := readResponse(t, s.client); cid != want {
			t.Fatalf("got correlation id %d, want %d", cid, want)
		}
	}
	expectClosed(t, s.client)
}
