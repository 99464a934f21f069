package perftest

import (
	"fmt"
	"strings"
	"time"
)

// consumerHeader returns Kafka's header line for consumer-perf-test: the
// summary columns, or the per-interval columns with --show-detailed-stats.
func consumerHeader(detailed bool) string {
	const fetchCols = ", rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec"
	if detailed {
		return "time, threadId, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec" + fetchCols
	}
	return "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec" + fetchCols
}

// ConsumerSummary is the outcome of a consumer run, as printed in Kafka's
// values line and written by --summary-json.
type ConsumerSummary struct {
	Records            int64   `json:"records"`
	Bytes              int64   `json:"bytes"`
	ElapsedSec         float64 `json:"elapsed_sec"`
	MB                 float64 `json:"mb"`
	MBPerSec           float64 `json:"mb_per_sec"`
	RecordsPerSec      float64 `json:"records_per_sec"`
	RebalanceMs        int64   `json:"rebalance_ms"`
	FetchMs            int64   `json:"fetch_ms"`
	FetchMBPerSec      float64 `json:"fetch_mb_per_sec"`
	FetchRecordsPerSec float64 `json:"fetch_records_per_sec"`
}

// summarizeConsumer computes the figures of Kafka's values line for records
// and bytes consumed between start and end, rebalance of which was spent
// joining the group.
func summarizeConsumer(records, bytes int64, start, end time.Time, rebalance time.Duration) ConsumerSummary {
	elapsed := end.Sub(start)
	fetch := max(elapsed-rebalance, 0)
	mb := float64(bytes) / (1024 * 1024)
	sec := secondsAtLeastMicro(elapsed)
	fsec := secondsAtLeastMicro(fetch)
	return ConsumerSummary{
		Records:            records,
		Bytes:              bytes,
		ElapsedSec:         elapsed.Seconds(),
		MB:                 mb,
		MBPerSec:           mb / sec,
		RecordsPerSec:      float64(records) / sec,
		RebalanceMs:        rebalance.Milliseconds(),
		FetchMs:            fetch.Milliseconds(),
		FetchMBPerSec:      mb / fsec,
		FetchRecordsPerSec: float64(records) / fsec,
	}
}

// formatConsumerTotal renders Kafka's values line under the summary header.
func formatConsumerTotal(df javaDateFormat, start, end time.Time, s ConsumerSummary) string {
	return fmt.Sprintf("%s, %s, %.4f, %.4f, %d, %.4f, %d, %d, %.4f, %.4f",
		df.format(start), df.format(end),
		s.MB, s.MBPerSec, s.Records, s.RecordsPerSec,
		s.RebalanceMs, s.FetchMs, s.FetchMBPerSec, s.FetchRecordsPerSec)
}

// formatConsumerProgress renders one --show-detailed-stats line for the
// interval from last to now: totals so far, then the interval's rates, then
// the interval's rebalance time and the rates over its fetch time. Thread id
// is always 0, as in Kafka's single-threaded tool.
func formatConsumerProgress(df javaDateFormat, records, lastRecords, bytes, lastBytes int64, last, now time.Time, rebalance time.Duration) string {
	elapsed := now.Sub(last)
	sec := secondsAtLeastMicro(elapsed)
	intervalMB := float64(bytes-lastBytes) / (1024 * 1024)
	intervalRecs := float64(records - lastRecords)
	fetch := elapsed - rebalance
	var fetchMBs, fetchRecs float64
	if fetch > 0 {
		fetchMBs = intervalMB / fetch.Seconds()
		fetchRecs = intervalRecs / fetch.Seconds()
	}
	return fmt.Sprintf("%s, %d, %.4f, %.4f, %d, %.4f, %d, %d, %.4f, %.4f",
		df.format(now), 0,
		float64(bytes)/(1024*1024), intervalMB/sec, records, intervalRecs/sec,
		rebalance.Milliseconds(), fetch.Milliseconds(), fetchMBs, fetchRecs)
}

// javaDateFormat formats times with a java.text.SimpleDateFormat pattern,
// the syntax of Kafka's --date-format (default "yyyy-MM-dd HH:mm:ss:SSS").
// It supports the letters y M d H h m s S a Z E and quoted literals; other
// letters are rejected when the pattern is parsed.
type javaDateFormat struct {
	tokens []dateToken
}

// dateToken is a run of one pattern letter (letter != 0) or literal text.
type dateToken struct {
	letter  byte
	count   int
	literal string
}

// defaultDateFormat is Kafka's default --date-format.
const defaultDateFormat = "yyyy-MM-dd HH:mm:ss:SSS"

// parseJavaDateFormat parses a SimpleDateFormat pattern.
func parseJavaDateFormat(pattern string) (javaDateFormat, error) {
	var df javaDateFormat
	for i := 0; i < len(pattern); {
		c := pattern[i]
		switch {
		case c == '\'':
			if i+1 < len(pattern) && pattern[i+1] == '\'' {
				df.tokens = append(df.tokens, dateToken{literal: "'"}) // '' is a literal quote
				i += 2
				continue
			}
			// Quoted text runs to the next lone quote; '' inside it is a quote.
			var lit strings.Builder
			j := i + 1
			for ; j < len(pattern); j++ {
				if pattern[j] == '\'' {
					if j+1 < len(pattern) && pattern[j+1] == '\'' {
						lit.WriteByte('\'')
						j++
						continue
					}
					break
				}
				lit.WriteByte(pattern[j])
			}
			if j >= len(pattern) {
				return javaDateFormat{}, fmt.Errorf("date format %q: unterminated quote", pattern)
			}
			df.tokens = append(df.tokens, dateToken{literal: lit.String()})
			i = j + 1
		case (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
			if !strings.ContainsRune("yMdHhmsSaZE", rune(c)) {
				return javaDateFormat{}, fmt.Errorf("date format %q: unsupported pattern letter %q", pattern, c)
			}
			n := 1
			for i+n < len(pattern) && pattern[i+n] == c {
				n++
			}
			df.tokens = append(df.tokens, dateToken{letter: c, count: n})
			i += n
		default:
			df.tokens = append(df.tokens, dateToken{literal: string(c)})
			i++
		}
	}
	return df, nil
}

// format renders t (in its own location) with the pattern.
func (df javaDateFormat) format(t time.Time) string {
	var b strings.Builder
	num := func(v, width int) { fmt.Fprintf(&b, "%0*d", width, v) }
	for _, tk := range df.tokens {
		if tk.letter == 0 {
			b.WriteString(tk.literal)
			continue
		}
		switch tk.letter {
		case 'y':
			if tk.count == 2 {
				num(t.Year()%100, 2)
			} else {
				num(t.Year(), tk.count)
			}
		case 'M':
			switch {
			case tk.count >= 4:
				b.WriteString(t.Month().String())
			case tk.count == 3:
				b.WriteString(t.Month().String()[:3])
			default:
				num(int(t.Month()), tk.count)
			}
		case 'd':
			num(t.Day(), tk.count)
		case 'H':
			num(t.Hour(), tk.count)
		case 'h':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			num(h, tk.count)
		case 'm':
			num(t.Minute(), tk.count)
		case 's':
			num(t.Second(), tk.count)
		case 'S':
			num(t.Nanosecond()/int(time.Millisecond), tk.count)
		case 'a':
			b.WriteString(t.Format("PM"))
		case 'Z':
			b.WriteString(t.Format("-0700"))
		case 'E':
			if tk.count >= 4 {
				b.WriteString(t.Weekday().String())
			} else {
				b.WriteString(t.Weekday().String()[:3])
			}
		}
	}
	return b.String()
}
