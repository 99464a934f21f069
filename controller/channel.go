package controller

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// requestTimeout bounds one controller request (Kafka's
// controller.socket.timeout.ms, 30 s).
const requestTimeout = 30 * time.Second

// retryBackoff is how long a sender waits before resending a request that
// failed to reach its broker.
const retryBackoff = 200 * time.Millisecond

// outgoing is one queued request; done, when set, is called with the
// answer (or nil after the sender gave up because the broker left).
type outgoing struct {
	req  kmsg.Request
	done func(kmsg.Response)
}

// sender delivers requests to one broker in queue order, retrying each
// until it is answered or the broker is removed (Kafka's RequestSendThread).
type sender struct {
	id     int32
	client *wire.Client
	logger *zap.Logger

	mu    sync.Mutex
	queue []outgoing
	wake  chan struct{}

	cancel context.CancelFunc
	done   chan struct{}
}

func newSender(id int32, addr string, controllerID int32, logger *zap.Logger) *sender {
	ctx, cancel := context.WithCancel(context.Background())
	s := &sender{
		id:     id,
		client: wire.NewClient(addr, fmt.Sprintf("controller-%d-to-broker-%d", controllerID, id)),
		logger: logger,
		wake:   make(chan struct{}, 1),
		cancel: cancel,
		done:   make(chan struct{}),
	}
	go s.run(ctx)
	return s
}

// enqueue adds a request at the end of the queue.
func (s *sender) enqueue(o outgoing) {
	s.mu.Lock()
	s.queue = append(s.queue, o)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// stop ends the sender; queued requests are dropped (their done funcs are
// called with nil).
func (s *sender) stop() {
	s.cancel()
	s.client.Close()
	<-s.done
}

func (s *sender) run(ctx context.Context) {
	defer close(s.done)
	defer func() {
		s.mu.Lock()
		q := s.queue
		s.queue = nil
		s.mu.Unlock()
		for _, o := range q {
			if o.done != nil {
				o.done(nil)
			}
		}
	}()
	for {
		s.mu.Lock()
		var o outgoing
		have := len(s.queue) > 0
		if have {
			o = s.queue[0]
		}
		s.mu.Unlock()
		if !have {
			select {
			case <-ctx.Done():
				return
			case <-s.wake:
				continue
			}
		}
		resp, err := s.send(ctx, o.req)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.logger.Debug("controller request failed; retrying", zap.Int32("broker", s.id),
				zap.Int16("key", o.req.Key()), zap.Error(err))
			select {
			case <-ctx.Done():
				return
			case <-time.After(retryBackoff):
			}
			continue
		}
		s.mu.Lock()
		s.queue = s.queue[1:]
		s.mu.Unlock()
		if o.done != nil {
			o.done(resp)
		}
	}
}

func (s *sender) send(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	return s.client.Request(rctx, req)
}

// channels is the set of senders, one per live broker, owned by the loop.
type channels struct {
	controllerID int32
	logger       *zap.Logger
	senders      map[int32]*sender
	addrs        map[int32]string
}

func newChannels(controllerID int32, logger *zap.Logger) *channels {
	return &channels{controllerID: controllerID, logger: logger, senders: map[int32]*sender{}, addrs: map[int32]string{}}
}

// ensure starts a sender for broker id at addr, replacing one that points
// elsewhere (a broker that restarted on another port).
func (c *channels) ensure(id int32, addr string) {
	if s, ok := c.senders[id]; ok {
		if c.addrs[id] == addr {
			return
		}
		s.stop()
	}
	c.senders[id] = newSender(id, addr, c.controllerID, c.logger)
	c.addrs[id] = addr
}

// remove stops the sender of a broker that left.
func (c *channels) remove(id int32) {
	if s, ok := c.senders[id]; ok {
		s.stop()
		delete(c.senders, id)
		delete(c.addrs, id)
	}
}

// send queues req for broker id; it is dropped when the broker has no
// sender (it is not live).
func (c *channels) send(id int32, req kmsg.Request, done func(kmsg.Response)) {
	s, ok := c.senders[id]
	if !ok {
		if done != nil {
			done(nil)
		}
		return
	}
	s.enqueue(outgoing{req: req, done: done})
}

// close stops every sender.
func (c *channels) close() {
	for id := range c.senders {
		c.remove(id)
	}
}
