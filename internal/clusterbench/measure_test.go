package clusterbench

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// clockTicks is USER_HZ, the unit of the CPU times in /proc/<pid>/stat and
// /proc/stat. Linux fixes it at 100 for user space whatever the kernel's
// HZ, which is why it is a constant here rather than a sysconf call.
const clockTicks = 100

// recordSize is the record value size of every workload: 1 KiB, as issue 8
// asks.
const recordSize = 1024

// envInt returns the positive integer in the environment variable name, or
// def when it is unset. A bad value fails the benchmark with the name.
func envInt(b *testing.B, name string, def int) int {
	b.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// envCount is envInt for a count that may be 0 (a part of a benchmark
// turned off).
func envCount(b *testing.B, name string, def int) int {
	b.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		b.Fatalf("%s=%q: want a non-negative integer", name, v)
	}
	return n
}

// defaultProducerProps are scripts/bench.sh's extra producer properties,
// so that the single-broker and the cluster figures use the same client.
const defaultProducerProps = "linger.ms=1 batch.size=1048576"

// producerProps returns BENCH_PRODUCER_PROPS (as scripts/bench.sh reads
// it) plus the given properties, which win.
func producerProps(b *testing.B, extra map[string]string) map[string]string {
	b.Helper()
	spec := os.Getenv("BENCH_PRODUCER_PROPS")
	if spec == "" {
		spec = defaultProducerProps
	}
	props := map[string]string{}
	for _, kv := range strings.Fields(spec) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			b.Fatalf("BENCH_PRODUCER_PROPS: %q is not key=value", kv)
		}
		props[k] = v
	}
	for k, v := range extra {
		props[k] = v
	}
	return props
}

// procTicks returns utime+stime of process pid in clock ticks. The fields
// are counted after the ")" that ends the command name, which may hold
// spaces.
func procTicks(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	// After the name: state is field 3 of stat(5), utime 14, stime 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	return ut + st, nil
}

// machineTicks returns the machine's busy and steal clock ticks, summed
// over its CPUs, from the first line of /proc/stat. Busy is user, nice,
// system, irq and softirq: time some process or the kernel ran; steal is
// time the hypervisor ran something else.
func machineTicks() (busy, steal int64, err error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, 0, fmt.Errorf("/proc/stat: empty")
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 9 || fields[0] != "cpu" {
		return 0, 0, fmt.Errorf("/proc/stat: first line %q", sc.Text())
	}
	v := make([]int64, len(fields)-1)
	for i := range v {
		if v[i], err = strconv.ParseInt(fields[i+1], 10, 64); err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %w", err)
		}
	}
	// user nice system idle iowait irq softirq steal ...
	return v[0] + v[1] + v[2] + v[5] + v[6], v[7], nil
}

// cpuSample is the CPU time of the cluster's processes and of the machine
// at one moment.
type cpuSample struct {
	at      time.Time
	brokers map[int32]procTime // by broker id
	zk      procTime
	self    int64
	busy    int64
	steal   int64
}

// procTime is one process's CPU ticks; the pid tells a restarted broker
// from the process it replaced.
type procTime struct {
	pid   int
	ticks int64
}

// sampleCPU reads the CPU times of every running broker of bc, of its
// ZooKeeper, of this process and of the machine.
func sampleCPU(bc *benchCluster) cpuSample {
	s := cpuSample{at: time.Now(), brokers: map[int32]procTime{}}
	for _, b := range bc.brokers {
		if pid := b.Pid(); pid > 0 {
			if t, err := procTicks(pid); err == nil {
				s.brokers[b.ID] = procTime{pid, t}
			}
		}
	}
	if pid := bc.c.ZK.Pid(); pid > 0 {
		if t, err := procTicks(pid); err == nil {
			s.zk = procTime{pid, t}
		}
	}
	s.self, _ = procTicks(os.Getpid())
	s.busy, s.steal, _ = machineTicks()
	return s
}

// cpuUse is what the CPU did between two samples, in seconds.
type cpuUse struct {
	wall float64
	// brokers is the brokers' CPU; a broker started in between counts from
	// its start (its process began at zero), one that exited in between is
	// left out (its last ticks went with it).
	brokers  float64
	byBroker map[int32]float64
	zk       float64
	self     float64
	// others is the machine's busy time less the brokers, ZooKeeper and
	// this process: the other engineers' load on a shared machine.
	others float64
	steal  float64
}

// until returns the CPU used from s to e.
func (s cpuSample) until(e cpuSample) cpuUse {
	u := cpuUse{wall: e.at.Sub(s.at).Seconds(), byBroker: map[int32]float64{}}
	sec := func(ticks int64) float64 { return float64(ticks) / clockTicks }
	for id, end := range e.brokers {
		start, ok := s.brokers[id]
		if !ok || start.pid != end.pid {
			start = procTime{} // started after s: all its ticks are in the window
		}
		d := sec(end.ticks - start.ticks)
		u.byBroker[id] = d
		u.brokers += d
	}
	if s.zk.pid == e.zk.pid {
		u.zk = sec(e.zk.ticks - s.zk.ticks)
	}
	u.self = sec(e.self - s.self)
	u.others = max(0, sec(e.busy-s.busy)-u.brokers-u.zk-u.self)
	u.steal = sec(e.steal - s.steal)
	return u
}

// add sums two windows (for a benchmark's total load).
func (u cpuUse) add(v cpuUse) cpuUse {
	out := cpuUse{wall: u.wall + v.wall, brokers: u.brokers + v.brokers, zk: u.zk + v.zk,
		self: u.self + v.self, others: u.others + v.others, steal: u.steal + v.steal,
		byBroker: map[int32]float64{}}
	for id, s := range u.byBroker {
		out.byBroker[id] += s
	}
	for id, s := range v.byBroker {
		out.byBroker[id] += s
	}
	return out
}

// perGiB returns the brokers' CPU seconds per GiB for bytes.
func (u cpuUse) perGiB(bytes int64) float64 {
	if bytes <= 0 {
		return 0
	}
	return u.brokers / (float64(bytes) / (1 << 30))
}

// warmMemory puts the memory a run is about to write into the same state
// for every run, as scripts/bench.sh's warm_memory does: it writes bytes
// plus 10% (batch and index overhead) of zeros to a scratch file in the
// temp dir (the brokers' log dirs are there) and deletes it, so the run's
// page-cache writes land in pages the guest has just freed rather than in
// pages a ballooning hypervisor has taken back. BENCH_WARM=0 turns it off.
// It returns the write rate in MiB/s (a low one says the memory was cold),
// or 0 when off.
func warmMemory(b *testing.B, bytes int64) float64 {
	b.Helper()
	if os.Getenv("BENCH_WARM") == "0" || bytes <= 0 {
		return 0
	}
	f, err := os.CreateTemp(os.TempDir(), "clusterbench-warm-")
	if err != nil {
		b.Fatalf("warm memory: %v", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 1<<20)
	total := bytes + bytes/10
	start := time.Now()
	for n := int64(0); n < total; n += int64(len(buf)) {
		if _, err := f.Write(buf); err != nil {
			b.Fatalf("warm memory: write %s: %v", f.Name(), err)
		}
	}
	return float64(total) / (1 << 20) / time.Since(start).Seconds()
}

// freeBytes is the space available to an unprivileged writer on the
// filesystem of dir.
func freeBytes(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(filepath.Clean(dir), &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// spread is the median and range of repeated measurements.
type spread struct {
	n                int
	median, min, max float64
}

// spreadOf summarizes xs: the median (the mean of the two middle values
// for an even count), the smallest and the largest.
func spreadOf(xs []float64) spread {
	if len(xs) == 0 {
		return spread{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return spread{n: len(s), median: m, min: s[0], max: s[len(s)-1]}
}

// format prints the median with its range: "812.3 (790.1..830.0, 3 runs)".
func (s spread) format(prec int) string {
	if s.n == 0 {
		return "-"
	}
	if s.n == 1 {
		return fmt.Sprintf("%.*f (1 run)", prec, s.median)
	}
	return fmt.Sprintf("%.*f (%.*f..%.*f, %d runs)", prec, s.median, prec, s.min, prec, s.max, s.n)
}

// TestSpreadOf checks the median of odd and even counts and the range.
func TestSpreadOf(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want spread
	}{
		{nil, spread{}},
		{[]float64{5}, spread{n: 1, median: 5, min: 5, max: 5}},
		{[]float64{3, 1, 2}, spread{n: 3, median: 2, min: 1, max: 3}},
		{[]float64{4, 1, 3, 2}, spread{n: 4, median: 2.5, min: 1, max: 4}},
	} {
		if got := spreadOf(tc.in); got != tc.want {
			t.Errorf("spreadOf(%v) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

// TestProcTicks reads this process's CPU time, which a busy loop raises.
func TestProcTicks(t *testing.T) {
	before, err := procTicks(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(50 * time.Millisecond)
	for time.Now().Before(deadline) {
	}
	after, err := procTicks(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after <= before {
		t.Errorf("CPU ticks %d then %d after 50 ms of spinning", before, after)
	}
	if busy, _, err := machineTicks(); err != nil || busy <= 0 {
		t.Errorf("machineTicks: busy %d, %v", busy, err)
	}
}
