package wire

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// produceKey is Produce, the one API whose requests a connection may go on
// reading and handling while earlier responses wait (see DeferredResponse).
const produceKey = 0

// maxDeferredResponses bounds the responses a connection holds while they
// wait or queue behind one that waits: each keeps its request frame, so
// this caps a pipelining producer's memory at a few batches. Clients send
// at most five Produce requests ahead (max.in.flight.requests.per.connection
// with idempotence), so they never reach it.
const maxDeferredResponses = 8

// maxDeferredBytes bounds the request frames a connection keeps for queued
// responses: a Produce that would take it past this waits until the queue
// has drained, as every request did before pipelining. Frames may be up to
// socket.request.max.bytes (100 MiB), so the count alone would let one
// connection pin 800 MiB.
const maxDeferredBytes = 16 << 20

// DeferredResponse is a response that is not final when Handle returns: a
// Produce with acks=all has appended its batches and now waits for the
// followers to replicate them. ServeConn does not wait with it: it goes on
// reading and handling the connection's next Produce requests, which a
// producer pipelines (five in flight with idempotence), and writes the
// responses in request order as each becomes final.
//
// Kafka mutes a connection from reading a request until its response is
// sent, so one acks=all producer connection moves one request per
// replication round trip and a record queues behind up to four others.
// The protocol only requires responses in request order; handling the
// next Produce while an earlier one waits changes nothing a client can
// see except when its response arrives: the requests are still appended in
// the order they were sent, and a non-Produce request still waits until
// every earlier response has been written (so a Fetch after a Produce
// sees what Kafka would show it).
type DeferredResponse struct {
	kmsg.Response
	// Wait blocks until Response is final. ctx ends when the connection
	// closes; Wait must then return promptly. It runs on the
	// connection's writer goroutine, and not at all when the connection
	// failed before its turn.
	Wait func(ctx context.Context)
}

// queuedResponse is a response waiting on a connection's writer goroutine.
type queuedResponse struct {
	correlationID int32
	version       int16
	resp          kmsg.Response
	wait          func(context.Context) // nil for a response already final
	frame         []byte                // the request's frame, released once written
}

// responseQueue hands responses to a connection's writer goroutine, which
// exists only once a connection has deferred a response: a connection that
// never does (every consumer, acks=1 producers) keeps writing from its
// reading goroutine, with no handoff.
type responseQueue struct {
	ch chan queuedResponse
	// outstanding counts queued responses not yet written or dropped. The
	// reader writes directly only when it is zero, which also tells it the
	// writer no longer touches the connection's output buffers.
	outstanding atomic.Int32
	// frameBytes is the size of the request frames the queue holds.
	frameBytes atomic.Int64
	idle       sync.Cond // signalled when outstanding drops to zero
	mu         sync.Mutex
	err        error // the first write error; the writer drops what follows
	done       chan struct{}
}

// busy reports whether responses are still queued.
func (s *connServer) busy() bool {
	return s.queue != nil && s.queue.outstanding.Load() > 0
}

// mayPipeline reports whether a request of apiKey in a frame of n bytes
// may be handled while earlier responses are queued: only a Produce, and
// only while the frames held stay within maxDeferredBytes.
func (s *connServer) mayPipeline(apiKey int16, n int) bool {
	return apiKey == produceKey && s.queue.frameBytes.Load()+int64(n) <= maxDeferredBytes
}

// drain waits until every queued response has been written and returns the
// writer's error, if any: the requests that follow are then handled and
// answered with nothing in flight, as Kafka handles every request.
func (s *connServer) drain() error {
	q := s.queue
	if q == nil {
		return nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.outstanding.Load() > 0 && q.err == nil {
		q.idle.Wait()
	}
	return q.err
}

// enqueue hands a response to the writer goroutine, starting it on first
// use, and takes ownership of the current request frame. It blocks while
// maxDeferredResponses are queued.
func (s *connServer) enqueue(ctx context.Context, hdr *RequestHeader, resp kmsg.Response, wait func(context.Context)) error {
	if s.queue == nil {
		// The writer holds one response while it waits; the channel
		// the rest.
		q := &responseQueue{ch: make(chan queuedResponse, maxDeferredResponses-1), done: make(chan struct{})}
		q.idle.L = &q.mu
		s.queue = q
		go s.writeQueued(ctx)
	}
	q := s.queue
	q.mu.Lock()
	err := q.err
	q.mu.Unlock()
	if err != nil {
		return err
	}
	q.outstanding.Add(1)
	frame := s.frames.detach()
	q.frameBytes.Add(int64(cap(frame)))
	q.ch <- queuedResponse{
		correlationID: hdr.CorrelationID,
		version:       hdr.APIVersion,
		resp:          resp,
		wait:          wait,
		frame:         frame,
	}
	return nil
}

// writeQueued is the writer goroutine: it waits for each queued response in
// turn and writes it. After a write error it drops the rest, unwaited,
// until the queue is closed.
func (s *connServer) writeQueued(ctx context.Context) {
	q := s.queue
	defer close(q.done)
	var failed error
	for r := range q.ch {
		if r.wait != nil && failed == nil {
			r.wait(ctx)
		}
		if failed == nil && ctx.Err() == nil {
			r.resp.SetVersion(r.version)
			if err := s.write(r.correlationID, r.resp); err != nil {
				failed = err
				// Unblock the reader; it returns the error from its
				// next drain or read.
				s.conn.Close()
			}
		}
		if r.frame != nil {
			q.frameBytes.Add(-int64(cap(r.frame)))
			putFrameBuffer(r.frame)
		}
		q.mu.Lock()
		if failed != nil && q.err == nil {
			q.err = failed
		}
		if q.outstanding.Add(-1) == 0 || q.err != nil {
			q.idle.Broadcast()
		}
		q.mu.Unlock()
	}
}

// stopQueue ends the writer goroutine: cancel must already have ended the
// context its waits use, so that responses still waiting are dropped
// rather than written to a connection being closed.
func (s *connServer) stopQueue() {
	if s.queue == nil {
		return
	}
	close(s.queue.ch)
	<-s.queue.done
}
