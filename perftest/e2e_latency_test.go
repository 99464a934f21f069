package perftest

import (
	"strings"
	"testing"
	"time"
)

func TestParseE2EArgs(t *testing.T) {
	tests := []struct {
		name    string
		args    string
		wantErr string
		check   func(t *testing.T, o E2EOptions)
	}{
		{name: "kafka positional", args: "h1:9092,h2:9092 t 100 all 1024", check: func(t *testing.T, o E2EOptions) {
			if len(o.Brokers) != 2 || o.Topic != "t" || o.NumMessages != 100 || o.Acks != "all" || o.MessageSize != 1024 || o.Throughput != 0 {
				t.Errorf("got %+v", o)
			}
		}},
		{name: "acks -1 is all", args: "h:1 t 1 -1 16", check: func(t *testing.T, o E2EOptions) {
			if o.Acks != "all" {
				t.Errorf("acks = %q, want all", o.Acks)
			}
		}},
		{name: "throughput in MiB/s", args: "h:1 t 10 all 1024 --throughput-mb 20 --timeout 5s --summary-json x.json", check: func(t *testing.T, o E2EOptions) {
			if o.Throughput != 20480 || o.Timeout != 5*time.Second || o.SummaryJSON != "x.json" {
				t.Errorf("got %+v", o)
			}
		}},
		{name: "throughput in records/s", args: "h:1 t 10 1 100 --throughput=500", check: func(t *testing.T, o E2EOptions) {
			if o.Throughput != 500 || o.Acks != "1" {
				t.Errorf("got %+v", o)
			}
		}},
		{name: "too few positionals", args: "h:1 t 10 all", wantErr: "5 positional"},
		{name: "acks 0 refused", args: "h:1 t 10 0 100", wantErr: "must be 1 or all"},
		{name: "size below header", args: "h:1 t 10 1 15", wantErr: ">= 16"},
		{name: "zero messages", args: "h:1 t 0 1 100", wantErr: "positive integer"},
		{name: "both rates", args: "h:1 t 1 1 100 --throughput 1 --throughput-mb 1", wantErr: "not both"},
		{name: "negative rate", args: "h:1 t 1 1 100 --throughput -5", wantErr: "positive number"},
		{name: "bad timeout", args: "h:1 t 1 1 100 --timeout soon", wantErr: "positive duration"},
		{name: "unknown flag", args: "h:1 t 1 1 100 --nope 1", wantErr: "unrecognized option"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := ParseE2EArgs(strings.Fields(tc.args))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			tc.check(t, o)
		})
	}
}

func TestSummarizeLatencies(t *testing.T) {
	lat := make([]time.Duration, 1000)
	for i := range lat {
		// 1000 samples of 1..1000 ms, shuffled by a stride.
		lat[(i*337)%1000] = time.Duration(i+1) * time.Millisecond
	}
	s := summarizeLatencies(lat)
	want := E2ESummary{Records: 1000, AvgMs: 500.5, P50Ms: 501, P99Ms: 991, P999Ms: 1000, MaxMs: 1000}
	if s != want {
		t.Errorf("summary = %+v, want %+v", s, want)
	}
	if got := summarizeLatencies(nil); got.Records != 0 || got.P99Ms != 0 {
		t.Errorf("empty summary = %+v", got)
	}
	line := formatE2E(want)
	for _, part := range []string{"Avg latency: 500.5000 ms", "Percentiles: 50th = 501.000, 99th = 991.000, 99.9th = 1000.000"} {
		if !strings.Contains(line, part) {
			t.Errorf("report %q lacks %q", line, part)
		}
	}
}

func TestE2EStamp(t *testing.T) {
	v := make([]byte, 32)
	e2eStamp(v, 42, 1234*time.Microsecond)
	if d, ok := e2eRead(v, 42); !ok || d != 1234*time.Microsecond {
		t.Errorf("read = %v, %v; want 1.234ms, true", d, ok)
	}
	if _, ok := e2eRead(v, 43); ok {
		t.Error("a record of another run was accepted")
	}
	if _, ok := e2eRead(v[:15], 42); ok {
		t.Error("a short value was accepted")
	}
}
