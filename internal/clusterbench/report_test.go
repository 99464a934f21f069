package clusterbench

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// sectionTitle is the heading of the section this package writes into the
// results file; everything from it to the next "## " heading (or the end)
// is replaced on every run.
const sectionTitle = "## Replication (three brokers)"

// figure is one row of the section's table.
type figure struct {
	// order places the row: issue 8's order, whichever benchmark ran first.
	order int
	name  string
	value spread
	prec  int
	cpu   spread // brokers' CPU seconds per GiB; n == 0 when not measured
	// cpuText replaces the CPU cell where a per-GiB figure would mislead
	// (a failover moves a few MiB: its CPU is a fixed cost).
	cpuText string
	target  string
}

// benchLog is what one benchmark adds below the table: a line per run and
// the machine's load during the benchmark.
type benchLog struct {
	name  string
	lines []string
	load  cpuUse
}

// results collects the figures of every benchmark of the process; TestMain
// renders them once the benchmarks are done. Benchmarks run one at a time,
// but the lock keeps a stray goroutine honest.
type results struct {
	mu       sync.Mutex
	started  time.Time
	loadFrom string
	figures  []figure
	benches  []benchLog
}

// report is the process's results: a package variable because Go
// benchmarks have no other way to hand figures to TestMain.
var report = &results{started: time.Now(), loadFrom: loadAvg()}

// addFigure records a row of the table.
func (r *results) addFigure(f figure) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.figures = append(r.figures, f)
}

// addBench records a benchmark's run lines and load.
func (r *results) addBench(l benchLog) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.benches = append(r.benches, l)
}

// empty reports whether no benchmark recorded anything (a plain `go test`
// of the package, which must leave the results file alone).
func (r *results) empty() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.figures) == 0 && len(r.benches) == 0
}

// loadAvg is /proc/loadavg's three load averages.
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// commit is the short hash of HEAD, marked when the tree has changes.
func commit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if exec.Command("git", "diff", "--quiet", "HEAD").Run() != nil {
		c += " (with uncommitted changes)"
	}
	return c
}

// machine describes the cores, CPU model, memory and kernel.
func machine() string {
	model := "?"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := "?"
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kib int64
		if _, err := fmt.Sscanf(string(data), "MemTotal: %d kB", &kib); err == nil {
			mem = fmt.Sprintf("%.1f GiB", float64(kib)/(1<<20))
		}
	}
	kernel := "?"
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(data))
	}
	return fmt.Sprintf("%d cores (%s), %s memory, Linux %s", runtime.NumCPU(), model, mem, kernel)
}

// render writes the section: the table, how each figure is measured, each
// benchmark's runs and the load it ran under.
func (r *results) render() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var sb strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&sb, format+"\n", args...) }
	p("%s", sectionTitle)
	p("")
	p("Written by `make bench-cluster` (`go test -bench . ./internal/clusterbench/`). Three gokafka")
	p("brokers (the real binary, started by internal/testcluster) and one ZooKeeper on loopback on this")
	p("machine; one client in the benchmark process (perftest's producer-perf-test and")
	p("end-to-end-latency code called as a library); 1 KiB records, uncompressed.")
	p("")
	p("- date: %s", time.Now().UTC().Format("2006-01-02 15:04:05 UTC"))
	p("- commit: %s", commit())
	p("- machine: %s", machine())
	p("- %s", runtime.Version())
	p("- load average (1, 5, 15 min) when the benchmarks started: %s; when they ended: %s", r.loadFrom, loadAvg())
	p("- brokers: Kafka's defaults (replica.fetch.wait.max.ms=500, replica.fetch.max.bytes=1 MiB,")
	p("  replica.lag.time.max.ms=30000, num.replica.fetchers=1) and zookeeper.session.timeout.ms=6000;")
	p("  each replicated topic has one partition, RF 3, min.insync.replicas=2, and is led by a broker")
	p("  that is not the controller")
	p("- producer properties: acks and enable.idempotence per workload, plus `%s`", propsSpec())
	if v := os.Getenv("BENCH_CLUSTER_BROKER_PROPS"); v != "" {
		p("- broker overrides (BENCH_CLUSTER_BROKER_PROPS): `%s`", v)
	}
	p("")
	p("| figure | median (min..max, runs) | brokers' CPU-s per GiB, median (min..max) | target (issue 8) |")
	p("|---|---:|---:|---|")
	figs := slices.Clone(r.figures)
	slices.SortStableFunc(figs, func(a, b figure) int { return a.order - b.order })
	for _, f := range figs {
		cpu := "-"
		switch {
		case f.cpuText != "":
			cpu = f.cpuText
		case f.cpu.n > 0:
			cpu = f.cpu.format(1)
		}
		target := f.target
		if target == "" {
			target = "-"
		}
		p("| %s | %s | %s | %s |", f.name, f.value.format(f.prec), cpu, target)
	}
	p("")
	p("Medians of the runs, never the best run; the range is the slowest and the fastest. The table")
	p("states targets for reference only: nothing here passes or fails on a figure.")
	p("")
	p("How each figure is measured:")
	p("")
	p("- Produce: producer-perf-test's code, unthrottled, one producer, BENCH_CLUSTER_RECORDS records per")
	p("  run into a fresh topic (deleted after the run). RF 1 acks=1 (not idempotent) is a topic whose")
	p("  only replica is the broker that leads the RF 3 topic, so both runs go to the same process;")
	p("  the runs alternate (RF 1 then RF 3, then RF 3 then RF 1, ...), and the ratio is of the two")
	p("  medians, its range that of the per-pair ratios. MB/s is MiB/s of record values.")
	p("- End-to-end: end-to-end-latency's rate-limited mode at 20 MiB/s of 1 KiB records (acks=all,")
	p("  idempotent, linger 0) for BENCH_CLUSTER_E2E_SECONDS per run: each record carries its send time,")
	p("  the consumer in the same process (reading from the leader) notes its receipt, which for RF 3")
	p("  waits for the high watermark, that is for a follower's fetch. RF 1 acks=all on the same leader")
	p("  alternates with it for comparison.")
	p("- Failover: a steady idempotent acks=all producer (1 record of 1 KiB every millisecond, franz-go")
	p("  with metadata refreshes allowed every 10 ms and 10 ms retry backoff, so that the figure is the")
	p("  cluster's and not the client's patience) writes to an RF 3 topic; the partition's leader is")
	p("  signalled; the time is from the signal to the first batch acknowledged by another broker (the")
	p("  client's produce hook names the broker). SIGTERM is a controlled shutdown; SIGKILL leaves the")
	p("  controller to notice the lost ZooKeeper session (zookeeper.session.timeout.ms=6000). The")
	p("  killed broker is restarted and the ISR whole again before the next round. A failover moves")
	p("  a few MiB, so its CPU is given as the surviving brokers' CPU seconds during the gap, not per")
	p("  GiB (a fixed cost over a few MiB would read as thousands of CPU-s per GiB).")
	p("- Follower catch-up: a follower (not the leader, not the controller) is stopped with SIGTERM and")
	p("  leaves the ISR; BENCH_CATCHUP_MB MiB are written with acks=all to the two others; the follower")
	p("  is started again and the state znode (/brokers/topics/<t>/partitions/0/state) polled every")
	p("  5 ms until its ISR lists the follower. The rate is the MiB written over the time from the")
	p("  process start (\"from launch\": log recovery, registration, LeaderAndIsr and the copy) or")
	p("  from when it answers Metadata (\"from serving\"). CPU is all three brokers' over the catch-up,")
	p("  the returning broker's from its start, per GiB copied.")
	p("- Transactions (issue 12): franz-go, 1 KiB records round robin over the topic's partitions, acks=all")
	p("  idempotent; transactional runs commit every 100 records before beginning the next transaction,")
	p("  idempotent runs send the same records without transactions; the two alternate. \"Producers at")
	p("  once\" runs BENCH_TXN_PRODUCERS clients side by side (each its own transactional id), the")
	p("  records shared out between them. The request means are franz-go's write-to-read times; the")
	p("  lone replicated write is the median of 1000 one-record acks=all produces sent one after another.")
	p("  A transaction waits for several replicated writes in turn (the Ongoing state, the data,")
	p("  PrepareCommit, then the markers and CompleteCommit before the next AddPartitionsToTxn).")
	p("- Old clients (issue 10): BENCH_OLD_CLIENTS_MB MiB (default 64) of 1 KiB records, uncompressed,")
	p("  into a fresh one-partition RF 1 topic per client, produced and then consumed from the start by")
	p("  franz-go (its defaults, idempotent acks=all) and by sarama pinned to 0.10.2 (acks=1; Produce v2")
	p("  with format-v1 message sets, which the broker converts to v2 batches; Fetch v3, answered by")
	p("  converting back to format v1), one after the other on the same broker (on an RF 1 topic both")
	p("  acks wait for the same local write). MiB/s is the MiB over the phase's wall time; the CPU cell")
	p("  is that broker's alone (the topic's only replica), per GiB of record values, so the difference")
	p("  between the two clients is the conversion's cost.")
	p("- Brokers' CPU-s: utime+stime of the broker processes over the run (/proc/<pid>/stat), per GiB")
	p("  of record values acknowledged (an RF 3 GiB is stored three times; an RF 1 GiB once). Before")
	p("  every write-heavy run the memory it will write is warmed as scripts/bench.sh does (a scratch")
	p("  file of that size, written and deleted; BENCH_WARM=0 turns it off).")
	p("- Load: the machine is shared. For each benchmark, \"others\" is the machine's busy CPU time")
	p("  (/proc/stat) less the brokers', ZooKeeper's and the benchmark process's: what other people's")
	p("  processes took from the same two cores while it ran.")
	for _, l := range r.benches {
		p("")
		if l.load.wall == 0 {
			p("%s.", l.name)
			continue
		}
		p("%s (%.0f s): brokers %.1f CPU-s, ZooKeeper %.1f, benchmark process %.1f, others %.1f (%.2f cores on average), steal %.1f.",
			l.name, l.load.wall, l.load.brokers, l.load.zk, l.load.self, l.load.others, l.load.others/max(l.load.wall, 1e-9), l.load.steal)
		p("")
		for _, line := range l.lines {
			p("- %s", line)
		}
	}
	return sb.String()
}

// propsSpec is the producer-property string in force.
func propsSpec() string {
	if s := os.Getenv("BENCH_PRODUCER_PROPS"); s != "" {
		return s
	}
	return defaultProducerProps
}

// splice returns doc with section in place of the section titled
// sectionTitle (up to the next "## " heading outside a code block, or the
// end), or with section appended when doc has none.
func splice(doc, section string) string {
	lines := strings.SplitAfter(doc, "\n")
	start, end := -1, len(lines)
	fenced := false
	for i, l := range lines {
		t := strings.TrimRight(l, "\r\n")
		if strings.HasPrefix(t, "```") {
			fenced = !fenced
			continue
		}
		if fenced {
			continue
		}
		if start < 0 && t == sectionTitle {
			start = i
			continue
		}
		if start >= 0 && strings.HasPrefix(t, "## ") {
			end = i
			break
		}
	}
	if start < 0 {
		doc = strings.TrimRight(doc, "\n")
		if doc != "" {
			doc += "\n\n"
		}
		return doc + section
	}
	out := strings.Join(lines[:start], "") + section
	if rest := strings.Join(lines[end:], ""); rest != "" {
		out += "\n" + rest
	}
	return out
}

// writeReport splices the rendered section into the file at path (created
// when missing).
func (r *results) writeReport(path string) error {
	doc, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if err := os.WriteFile(path, []byte(splice(string(doc), r.render())), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// TestSplice checks the section's placement: appended to a file without
// it, replacing only itself (up to the next "## " heading) in a file with
// it, and not fooled by a heading inside a code block.
func TestSplice(t *testing.T) {
	section := sectionTitle + "\n\nnew figures\n"
	for _, tc := range []struct{ name, doc, want string }{
		{"empty file", "", section},
		{"appended", "# results\n\ntext\n", "# results\n\ntext\n\n" + section},
		{"replaced at the end", "# results\n\n" + sectionTitle + "\n\nold figures\n", "# results\n\n" + section},
		{"replaced in the middle", "# r\n\n" + sectionTitle + "\n\nold\n\n## Later\n\nkept\n", "# r\n\n" + section + "\n## Later\n\nkept\n"},
		{"code block", "# r\n\n```\n" + sectionTitle + "\n```\n", "# r\n\n```\n" + sectionTitle + "\n```\n\n" + section},
		{"heading in a code block inside the section", "# r\n\n" + sectionTitle + "\n\n```\n## not a heading\n```\n", "# r\n\n" + section},
	} {
		if got := splice(tc.doc, section); got != tc.want {
			t.Errorf("%s: splice =\n%q\nwant\n%q", tc.name, got, tc.want)
		}
	}
}
