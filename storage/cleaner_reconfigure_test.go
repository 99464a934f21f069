package storage

import (
	"context"
	"math/rand"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gokafka/gokafka/wire"
)

// TestCleanerReconfigureThreads changes log.cleaner.threads and the backoff
// of a running cleaner: the next pass runs with the new number of
// goroutines, and it comes at once rather than after the old hour-long
// backoff.
func TestCleanerReconfigureThreads(t *testing.T) {
	c := NewCleaner(CleanerConfig{Threads: 1, Backoff: time.Hour}, func() []CleanerLog { return nil })
	c.Start()
	defer c.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.WaitPasses(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if got := c.Threads(); got != 1 {
		t.Fatalf("threads before: %d, want 1", got)
	}
	for i, threads := range []int{2, 4, 2} {
		cfg := c.Config()
		cfg.Threads = threads
		c.Reconfigure(cfg)
		if err := c.WaitPasses(ctx, i+2); err != nil {
			t.Fatalf("no pass after setting %d threads: %v", threads, err)
		}
		if got := c.Threads(); got != threads {
			t.Fatalf("threads after reconfiguring to %d: %d", threads, got)
		}
	}
}

// TestCleanerReconfigureIORate holds a clean back with a one-byte-a-second
// log.cleaner.io.max.bytes.per.second, then lifts the limit at runtime:
// the waiting clean resumes and the log is compacted without a restart.
func TestCleanerReconfigureIORate(t *testing.T) {
	root := t.TempDir()
	cfg := compactConfig(DefaultConfig())
	cfg.SegmentBytes = 300
	l := openLog(t, filepath.Join(root, "t-0"), cfg, OpenOptions{})
	defer l.Close()
	latest := compactWorkload(t, l, rand.New(rand.NewSource(7)), 40, 0, 1000)
	l.Flush()
	c := NewCleaner(CleanerConfig{Threads: 1, Backoff: time.Hour, Codec: wire.Codecs{}, IOMaxBytesPerSecond: 1}, func() []CleanerLog {
		return []CleanerLog{{Topic: "t", Partition: 0, Log: l}}
	})
	// A clock a second on at every look, so that the throttle's window
	// closes at its second call and the one-byte rate holds the clean.
	var ticks atomic.Int64
	base := time.Unix(1_700_000_000, 0)
	c.throttle = newIOThrottle(1, func() time.Time { return base.Add(time.Duration(ticks.Add(1)) * time.Second) })
	c.Start()
	defer c.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		c.throttle.mu.Lock()
		waiting := c.throttle.waiting
		c.throttle.mu.Unlock()
		if waiting > 0 {
			break
		}
		if c.Passes() > 0 {
			t.Fatal("the pass ended without waiting for the throttle")
		}
		select {
		case <-ctx.Done():
			t.Fatal("the clean never waited for the throttle")
		case <-time.After(5 * time.Millisecond):
		}
	}
	conf := c.Config()
	conf.IOMaxBytesPerSecond = 0
	c.Reconfigure(conf)
	if err := c.WaitPasses(ctx, 1); err != nil {
		t.Fatalf("the clean did not resume after the limit was lifted: %v", err)
	}
	checkCompacted(t, l, latest, l.active().base, true)
}
