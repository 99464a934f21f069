package broker

import (
	"errors"
	"sync"
	"time"
)

// errShuttingDown answers requests that arrive after shutdown began; the
// connection is closed and the client retries elsewhere or later.
var errShuttingDown = errors.New("broker is shutting down")

// requestGate counts requests being handled so that shutdown can wait for
// them before it closes the logs, and refuses new ones once shutdown began.
// A sync.WaitGroup cannot do this: Add may not race with Wait while the
// count is zero, and connections keep reading until they are closed.
type requestGate struct {
	mu     sync.Mutex
	n      int
	closed bool
	idle   chan struct{} // closed when closed && n == 0
}

// enter admits one request, or reports false once the gate is closed.
func (g *requestGate) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.n++
	return true
}

// leave ends a request admitted by enter.
func (g *requestGate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n--
	if g.n == 0 && g.closed && g.idle != nil {
		close(g.idle)
		g.idle = nil
	}
}

// closeAndWait refuses new requests and waits up to d for the admitted ones
// to finish, reporting whether they did.
func (g *requestGate) closeAndWait(d time.Duration) bool {
	g.mu.Lock()
	g.closed = true
	if g.n == 0 {
		g.mu.Unlock()
		return true
	}
	idle := make(chan struct{})
	g.idle = idle
	g.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-idle:
		return true
	case <-t.C:
		return false
	}
}
