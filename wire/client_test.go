package wire

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestClientRedialsAfterIdleClose checks that a Client whose idle
// connection the broker closed (connections.max.idle.ms) sends its next
// request on a new connection instead of failing it.
func TestClientRedialsAfterIdleClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	closed := make(chan error, 8)
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				closed <- ServeConn(ctx, c, ConnConfig{Versions: testVersions, IdleTimeout: 50 * time.Millisecond}, &fakeHandler{})
			}()
		}
	}()

	cl := NewClient(ln.Addr().String(), "test")
	defer cl.Close()
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	for i := range 2 {
		rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := cl.Request(rctx, req)
		rcancel()
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		// The server drops the connection once it is idle.
		select {
		case err := <-closed:
			if !errors.Is(err, ErrConnIdle) {
				t.Fatalf("server closed the connection with %v, want ErrConnIdle", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("idle connection not closed")
		}
	}
}
