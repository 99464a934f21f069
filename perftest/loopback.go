package perftest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// LoopbackResult is one single-stream loopback TCP measurement.
type LoopbackResult struct {
	Bytes   int64
	Elapsed time.Duration
}

// MBPerSec is the throughput in MiB/s, the unit the perf tools report.
func (r LoopbackResult) MBPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Bytes) / (1 << 20) / r.Elapsed.Seconds()
}

// Loopback measures what one TCP connection over 127.0.0.1 carries when one
// goroutine writes total bytes in chunk-sized writes and another reads them:
// the ceiling for a single consumer or producer connection on this machine,
// which make bench prints next to the broker's figures.
func Loopback(ctx context.Context, total int64, chunk int) (LoopbackResult, error) {
	if total <= 0 || chunk <= 0 {
		return LoopbackResult{}, fmt.Errorf("loopback: total %d and chunk %d must be positive", total, chunk)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return LoopbackResult{}, fmt.Errorf("loopback: %w", err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	acceptErr := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			acceptErr <- err
			return
		}
		accepted <- c
	}()
	var d net.Dialer
	w, err := d.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		return LoopbackResult{}, fmt.Errorf("loopback: %w", err)
	}
	defer w.Close()
	var r net.Conn
	select {
	case r = <-accepted:
	case err := <-acceptErr:
		return LoopbackResult{}, fmt.Errorf("loopback: accept: %w", err)
	case <-ctx.Done():
		return LoopbackResult{}, ctx.Err()
	}
	defer r.Close()
	stop := context.AfterFunc(ctx, func() { w.Close(); r.Close() })
	defer stop()

	readDone := make(chan error, 1)
	go func() {
		buf := make([]byte, chunk)
		_, err := io.CopyBuffer(io.Discard, io.LimitReader(onlyReader{r}, total), buf)
		readDone <- err
	}()
	start := time.Now()
	buf := make([]byte, chunk)
	var werr error
	for sent := int64(0); sent < total && werr == nil; {
		n := int(min(int64(chunk), total-sent))
		_, werr = w.Write(buf[:n])
		sent += int64(n)
	}
	rerr := <-readDone
	elapsed := time.Since(start)
	if err := errors.Join(werr, rerr); err != nil {
		if ctx.Err() != nil {
			return LoopbackResult{}, ctx.Err()
		}
		return LoopbackResult{}, fmt.Errorf("loopback: %w", err)
	}
	return LoopbackResult{Bytes: total, Elapsed: elapsed}, nil
}

// onlyReader hides the connection's WriteTo so the copy really reads into a
// user-space buffer, as a client does.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }
