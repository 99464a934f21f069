package broker

import (
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestSampledConnLogger checks that a burst of bad connections (here 250
// of one kind) logs connLogFirst lines, then one in connLogThereafter, and
// says that lines were dropped; another kind of line is counted apart.
func TestSampledConnLogger(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	l := sampledConnLogger(zap.New(core))
	for range 250 {
		l.Warn("closing connection: invalid request size")
	}
	l.Warn("closing connection: cannot serve request")
	kept := logs.FilterMessage("closing connection: invalid request size").Len()
	if want := connLogFirst + (250-connLogFirst)/connLogThereafter; kept != want {
		t.Errorf("kept %d lines of the burst, want %d", kept, want)
	}
	if n := logs.FilterMessage("closing connection: cannot serve request").Len(); n != 1 {
		t.Errorf("another message kind logged %d times, want 1", n)
	}
	if logs.FilterMessage("connection errors are being sampled").Len() == 0 {
		t.Error("no line says that lines were dropped")
	}
}
