package broker

import (
	"testing"
	"time"
)

func TestRequestGate(t *testing.T) {
	var g requestGate
	if !g.enter() {
		t.Fatal("open gate refused a request")
	}
	done := make(chan bool)
	go func() { done <- g.closeAndWait(5 * time.Second) }()
	// Once closing has begun, new requests are refused.
	deadline := time.Now().Add(5 * time.Second)
	for g.enter() {
		g.leave()
		if time.Now().After(deadline) {
			t.Fatal("gate still admits requests after closeAndWait began")
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case <-done:
		t.Fatal("closeAndWait returned while a request was still running")
	default:
	}
	g.leave()
	if !<-done {
		t.Fatal("closeAndWait timed out after the last request left")
	}

	var busy requestGate
	busy.enter()
	if busy.closeAndWait(10 * time.Millisecond) {
		t.Fatal("closeAndWait reported idle with a request still running")
	}
}
