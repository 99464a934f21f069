package perftest

import (
	"testing"
	"time"
)

func TestConsumerHeader(t *testing.T) {
	if got, want := consumerHeader(false), "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec"; got != want {
		t.Errorf("summary header %q", got)
	}
	if got, want := consumerHeader(true), "time, threadId, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec"; got != want {
		t.Errorf("detailed header %q", got)
	}
}

func TestFormatConsumerTotal(t *testing.T) {
	df, err := parseJavaDateFormat(defaultDateFormat)
	if err != nil {
		t.Fatal(err)
	}
	loc := time.FixedZone("X", 0)
	start := time.Date(2024, 3, 5, 7, 8, 9, 42_000_000, loc)
	end := start.Add(2 * time.Second)
	sum := summarizeConsumer(1_000_000, 100*1024*1024, start, end, 500*time.Millisecond)
	got := formatConsumerTotal(df, start, end, sum)
	want := "2024-03-05 07:08:09:042, 2024-03-05 07:08:11:042, 100.0000, 50.0000, 1000000, 500000.0000, 500, 1500, 66.6667, 666666.6667"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

func TestFormatConsumerProgress(t *testing.T) {
	df, _ := parseJavaDateFormat("HH:mm:ss")
	loc := time.FixedZone("X", 0)
	last := time.Date(2024, 1, 1, 0, 0, 0, 0, loc)
	now := last.Add(4 * time.Second)
	got := formatConsumerProgress(df, 3000, 1000, 3<<20, 1<<20, last, now, 0)
	want := "00:00:04, 0, 3.0000, 0.5000, 3000, 500.0000, 0, 4000, 0.5000, 500.0000"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

func TestJavaDateFormat(t *testing.T) {
	tm := time.Date(2009, 11, 3, 15, 4, 5, 7_000_000, time.FixedZone("X", -7*3600))
	tests := []struct {
		pattern string
		want    string
	}{
		{defaultDateFormat, "2009-11-03 15:04:05:007"},
		{"yy/M/d h:mm a", "09/11/3 3:04 PM"},
		{"EEE, d MMM yyyy HH:mm:ss Z", "Tue, 3 Nov 2009 15:04:05 -0700"},
		{"yyyy-MM-dd'T'HH:mm:ss", "2009-11-03T15:04:05"},
		{"HH 'o''clock' ''", "15 o'clock '"},
	}
	for _, tt := range tests {
		df, err := parseJavaDateFormat(tt.pattern)
		if err != nil {
			t.Errorf("%q: %v", tt.pattern, err)
			continue
		}
		if got := df.format(tm); got != tt.want {
			t.Errorf("%q: got %q, want %q", tt.pattern, got, tt.want)
		}
	}
	for _, bad := range []string{"yyyy 'unterminated", "QQQ"} {
		if _, err := parseJavaDateFormat(bad); err == nil {
			t.Errorf("%q: want error", bad)
		}
	}
}
