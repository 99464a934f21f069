package broker

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestAdminListenerConfig(t *testing.T) {
	tests := []struct {
		raw  map[string]string
		want string
	}{
		{map[string]string{}, ""},
		{map[string]string{adminListenerKey: " 127.0.0.1:9999 "}, "127.0.0.1:9999"},
	}
	for _, tt := range tests {
		if got := (Config{Raw: tt.raw}).AdminListener(); got != tt.want {
			t.Errorf("AdminListener() with %v = %q, want %q", tt.raw, got, tt.want)
		}
	}
}

// TestStartAdminServesPprof checks that the admin listener answers the pprof
// index and a heap profile, and stops listening when its context ends.
func TestStartAdminServesPprof(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, err := StartAdmin(ctx, "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap?debug=1"} {
		resp, err := client.Get("http://" + addr.String() + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "heap") {
			t.Fatalf("GET %s: status %d, body %.100q", path, resp.StatusCode, body)
		}
	}
	if _, err := StartAdmin(ctx, addr.String(), nil); err == nil {
		t.Fatal("a second listener on the same address started")
	}
	cancel()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr.String(), time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("admin listener still accepting after its context ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
