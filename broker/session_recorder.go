package broker

import (
	"sync"

	"go.uber.org/zap"
)

// sessionRecorder writes the broker's ZooKeeper session into the log dirs
// (storage.Dirs.RecordZKSession) from its own goroutine, so that the write
// and its two fsyncs stay off the paths that wait for them: the start,
// between the registration and the first accepted connection, and the
// re-registration after a session loss. On a disk busy writing back
// gigabytes (a follower restarting next to a leader that just took a GiB),
// a one-line file's fsync waits for the journal commit behind that
// writeback, which measured 1 to 1.5 s: the controller's LeaderAndIsr and
// UpdateMetadata waited in the listen backlog that long, and so did the
// follower's catch-up. Kafka has no such file and no such wait.
//
// The record only speeds up the next start after a crash (it takes the dead
// session's ephemerals over instead of waiting for ZooKeeper to expire
// them); a crash before it is written costs that start the wait, as a
// failed write does, which is Kafka's behaviour. Requests coalesce, and each
// write records the session current at the time of the write, so the last
// session always wins.
type sessionRecorder struct {
	record func()
	wake   chan struct{}
	quit   chan struct{}
	done   chan struct{}
	once   sync.Once
}

// startSessionRecorder starts the goroutine that calls record once per
// batch of requests until stop.
func startSessionRecorder(record func()) *sessionRecorder {
	r := &sessionRecorder{
		record: record,
		wake:   make(chan struct{}, 1),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go r.run()
	return r
}

func (r *sessionRecorder) run() {
	defer close(r.done)
	for {
		select {
		case <-r.quit:
			return
		case <-r.wake:
			r.record()
		}
	}
}

// request asks for the current session to be recorded; it never blocks.
func (r *sessionRecorder) request() {
	select {
	case r.wake <- struct{}{}:
	default: // a write is already due and will read the newest session
	}
}

// stop ends the goroutine and waits for a write in progress; the log dirs
// may be closed after it returns. A request still pending is dropped: the
// broker is stopping.
func (r *sessionRecorder) stop() {
	r.once.Do(func() { close(r.quit) })
	<-r.done
}

// recordSessionNow writes the current ZooKeeper session into the log dirs.
// A failure only costs the next start its fast takeover, so it is logged,
// not fatal.
func (s *Server) recordSessionNow() {
	id := s.zk.SessionID()
	if id == 0 {
		return // between sessions; the next one is recorded
	}
	if err := s.dirs.RecordZKSession(id); err != nil {
		s.logger.Warn("cannot record the ZooKeeper session in the log dirs; a restart after a crash will wait for it to expire", zap.Error(err))
	}
}
