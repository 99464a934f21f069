package zktest

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestStartRestartStop checks that the server answers four-letter words,
// comes back on the same address after Restart, and is gone after Stop.
func TestStartRestartStop(t *testing.T) {
	s := Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	srvr, err := FourLetterWord(ctx, s.Addr, "srvr")
	if err != nil || !strings.Contains(srvr, "Mode: standalone") {
		t.Fatalf("srvr = %q, %v; want a standalone server", srvr, err)
	}
	addr := s.Addr
	if err := s.Restart(ctx); err != nil {
		t.Fatalf("restart: %v", err)
	}
	if s.Addr != addr {
		t.Fatalf("restart moved the server from %s to %s", addr, s.Addr)
	}
	if got, _ := FourLetterWord(ctx, s.Addr, "ruok"); got != "imok" {
		t.Fatalf("ruok after restart = %q, want imok", got)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if got, err := FourLetterWord(ctx, s.Addr, "ruok"); err == nil {
		t.Fatalf("ruok after stop answered %q; want a refused connection", got)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("second stop: %v", err)
	}
}

// TestStartWithoutJava checks the error a developer sees on a machine
// without Java: it names what to install instead of a bare exec failure.
func TestStartWithoutJava(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := StartDir(context.Background(), t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "apt-get install zookeeper") {
		t.Fatalf("StartDir without java: err = %v; want advice to install zookeeper", err)
	}
}
