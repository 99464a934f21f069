package perftest

import (
	"context"
	"testing"
	"time"
)

func TestLoopbackMovesEveryByte(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := Loopback(ctx, 8<<20+123, 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	if res.Bytes != 8<<20+123 || res.Elapsed <= 0 || res.MBPerSec() <= 0 {
		t.Fatalf("result %+v, %.1f MiB/s", res, res.MBPerSec())
	}
	if _, err := Loopback(ctx, 0, 1); err == nil {
		t.Fatal("zero bytes accepted")
	}
}
