package zkmeta

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/gokafka/gokafka/internal/backoff"
	"go.uber.org/zap"
)

// onEvent follows go-zookeeper's session states. It runs on go-zookeeper's
// connection goroutine, so it must not block or call ZooKeeper: slow work
// (re-registration, callbacks) goes to goroutines owned by the client.
//
// A session is lost when ZooKeeper says it expired (seen on reconnecting) or
// when the client has been disconnected for the session timeout, after
// which ZooKeeper has expired it even if the client does not know yet.
// Either way SessionLost's channel is closed at once; when a session is
// established again, recoverSession registers the broker again, makes a
// fresh SessionLost channel and runs the OnNewSession callbacks.
func (c *Client) onEvent(ev zk.Event) {
	if ev.Type != zk.EventSession {
		return
	}
	switch ev.State {
	case zk.StateHasSession:
		c.hadSession.Store(true)
		c.readyOnce.Do(func() { close(c.ready) })
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.lostTimer != nil {
			c.lostTimer.Stop()
			c.lostTimer = nil
		}
		if c.closed || !c.lostClosed {
			return
		}
		c.gen++
		gen := c.gen
		c.log.Info("new ZooKeeper session established; registering again", zap.String("server", ev.Server))
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.recoverSession(gen)
		}()
	case zk.StateDisconnected:
		if !c.hadSession.Load() {
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.closed || c.lostClosed || c.lostTimer != nil {
			return
		}
		c.log.Warn("disconnected from ZooKeeper; reconnecting", zap.String("server", ev.Server), zap.Duration("session_timeout", c.sessionTimeout))
		c.lostTimer = time.AfterFunc(c.sessionTimeout, func() {
			c.markLost(fmt.Sprintf("disconnected for longer than the session timeout (%s)", c.sessionTimeout))
		})
	case zk.StateExpired:
		c.markLost("session expired")
	}
}

// markLost closes the current SessionLost channel.
func (c *Client) markLost(why string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lostTimer != nil {
		c.lostTimer.Stop()
		c.lostTimer = nil
	}
	c.gen++ // any recovery in progress is for a session that is gone
	if c.closed || c.lostClosed {
		return
	}
	c.log.Warn("ZooKeeper session lost: " + why)
	close(c.lost)
	c.lostClosed = true
}

// current reports whether gen is still the latest session generation.
func (c *Client) current(gen uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen == gen && !c.closed
}

// recoverSession sets up a new session: it registers the broker again
// (retrying until it works, the session is lost again or the client
// closes), then publishes a fresh SessionLost channel and starts the
// OnNewSession callbacks.
func (c *Client) recoverSession(gen uint64) {
	c.mu.Lock()
	var b *BrokerInfo
	if c.broker != nil {
		bb := *c.broker
		b = &bb
	}
	c.mu.Unlock()

	if b != nil {
		bo := backoff.Exponential{Initial: 100 * time.Millisecond, Max: 2 * time.Second}
		for {
			if !c.current(gen) {
				return
			}
			ctx, cancel := context.WithTimeout(c.ctx, c.sessionTimeout)
			err := c.registerBroker(ctx, *b)
			cancel()
			if err == nil {
				break
			}
			c.log.Warn("registering broker again after new ZooKeeper session failed; retrying", zap.Int32("broker.id", b.ID), zap.Error(err))
			if bo.Wait(c.ctx) != nil {
				return
			}
		}
	}

	c.mu.Lock()
	if c.gen != gen || c.closed {
		c.mu.Unlock()
		return
	}
	c.lost = make(chan struct{})
	c.lostClosed = false
	fns := slices.Clone(c.callbacks)
	c.mu.Unlock()

	for _, fn := range fns {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			fn(c.ctx)
		}()
	}
}
