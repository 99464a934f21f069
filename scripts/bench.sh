#!/usr/bin/env bash
# bench.sh is `make bench`: it starts a private ZooKeeper and one gokafka
# broker on loopback (data in a temporary directory), runs the standard
# single-broker workloads with gokafka's producer-perf-test and
# consumer-perf-test (franz-go clients), prints a table and writes
# bench/results.md with the machine's cores, memory, the date and the commit.
#
# Workloads (each on its own 1-partition topic, RF=1):
#   produce 100 B and 1 KiB records, acks=1 (non-idempotent) and acks=all
#   (idempotent), unthrottled, one producer; then consume each topic from
#   the earliest offset (page cache), one consumer.
# Then: end-to-end latency at 20 MiB/s of 1 KiB records (acks=all); a
# SIGKILL restart after BENCH_RESTART_GB more GiB (time to serving); and
# BENCH_PARTITIONS partitions followed by a restart (start time, Metadata
# latency, RSS). Before those, the backlog (issue 4's workload 6):
# BENCH_BACKLOG_GB GiB from N producers into an N-partition topic with no
# consumer, then N consumers in one group drain it while a probe times
# Metadata requests every 10 ms.
# Before every produce run the memory that run will write is warmed (see
# warm_memory), so that each starts from the same state.
# For every run it also reports the broker's CPU seconds (utime+stime from
# /proc/<pid>/stat) and its peak RSS, so broker efficiency is visible even
# when the client, which shares the cores, is the bottleneck.
# It rewrites BENCH_OUT whole; `make bench` then runs `make bench-cluster`
# (internal/clusterbench, three brokers), which adds the section
# "Replication (three brokers)" to the same file.
#
# Environment (defaults in brackets):
#   BENCH_RECORDS_100 [10000000] records per 100-byte produce run
#   BENCH_RECORDS_1K  [2000000]  records per 1 KiB produce run
#   BENCH_REPEAT      [3]        runs of each produce workload, interleaved;
#                                the median counts, the spread is shown
#                                (consume reads them all)
#   BENCH_RUN_TIMEOUT [60]       seconds after which a run is interrupted
#                                (the tools then report what they did)
#   BENCH_PRODUCER_PROPS ["linger.ms=1 batch.size=1048576"]
#                                extra producer properties for every run
#   BENCH_FETCH_SIZE  [8388608]  consumer --fetch-size
#   BENCH_PERF        [0]        1: record a CPU profile of the broker with
#                                `perf record` during the 100 B acks=1 produce
#                                run and the acks=1 consume runs and print
#                                their top entries (needs linux perf)
#   BENCH_LIMIT_MB    [1024]     MiB written and read by the disk and
#                                loopback measurements of the machine's limits
#   BENCH_GROUPS      [1]        0: skip the consumer-group benchmarks
#   BENCH_WARM        [1]        0: do not warm memory before produce runs
#   BENCH_BACKLOG     [1]        0: skip the backlog workload
#   BENCH_BACKLOG_GB  [8]        GiB produced for the backlog (scaled down
#                                when less than twice that is free on disk)
#   BENCH_BACKLOG_CLIENTS [2]    producers = consumers = partitions
#   BENCH_BACKLOG_TIMEOUT [600]  seconds each backlog phase may take
#   BENCH_E2E_SECONDS [10]       length of the end-to-end latency run
#                                (20 MiB/s of 1 KiB records, acks=all)
#   BENCH_RESTART_GB  [10]       GiB produced before the SIGKILL restart
#                                (issue 4 asks for 10)
#   BENCH_PARTITIONS  [10000]    partitions created (topics of 100) before
#                                the many-partition restart
#   BENCH_OUT         [bench/results.md]
#   GOKAFKA_BIN       [bin/gokafka] (built here when missing or stale)
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)

BENCH_RECORDS_100=${BENCH_RECORDS_100:-10000000}
BENCH_RECORDS_1K=${BENCH_RECORDS_1K:-2000000}
BENCH_REPEAT=${BENCH_REPEAT:-3}
BENCH_RUN_TIMEOUT=${BENCH_RUN_TIMEOUT:-60}
BENCH_PRODUCER_PROPS=${BENCH_PRODUCER_PROPS:-linger.ms=1 batch.size=1048576}
BENCH_FETCH_SIZE=${BENCH_FETCH_SIZE:-8388608}
BENCH_PERF=${BENCH_PERF:-0}
BENCH_LIMIT_MB=${BENCH_LIMIT_MB:-1024}
BENCH_WARM=${BENCH_WARM:-1}
BENCH_OUT=${BENCH_OUT:-bench/results.md}
GOKAFKA_BIN=${GOKAFKA_BIN:-bin/gokafka}
# The commit measured: taken before the first run, so that a commit made
# while the benchmark runs does not relabel it.
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if ! git diff --quiet HEAD 2>/dev/null; then commit="$commit (with uncommitted changes)"; fi
ZK_JAR=/usr/share/java/zookeeper.jar

log() { echo "bench: $*" >&2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gokafka-bench.XXXXXX")
zk_pid=""
broker_pid=""
sampler_pid=""
perf_pid=""
bl_probe=""  # the backlog's Metadata probe
bl_pids=()   # the backlog's producers or consumers

# cleanup stops everything this script started, by pid, and removes the
# temporary directory (ZooKeeper data, broker logs).
cleanup() {
	trap - EXIT INT TERM
	for pid in "$perf_pid" "$sampler_pid" "$bl_probe" "${bl_pids[@]}"; do
		[[ -n $pid ]] && kill "$pid" 2>/dev/null || true
	done
	if [[ -n $broker_pid ]] && kill -0 "$broker_pid" 2>/dev/null; then
		kill -TERM "$broker_pid" 2>/dev/null || true
		for _ in $(seq 1 100); do kill -0 "$broker_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$broker_pid" 2>/dev/null || true
	fi
	if [[ -n $zk_pid ]] && kill -0 "$zk_pid" 2>/dev/null; then
		kill -TERM "$zk_pid" 2>/dev/null || true
		for _ in $(seq 1 50); do kill -0 "$zk_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$zk_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# free_port prints a TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# zk_has_ephemeral reports whether ZooKeeper on port $1 holds the
# ephemeral znode $2 (from the "dump" four-letter word).
zk_has_ephemeral() {
	local line found=1
	if { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null; then
		printf dump >&3
		while IFS= read -r -t 2 line <&3; do
			[[ ${line//[[:space:]]/} == "$2" ]] && found=0
		done
		exec 3<&- 3>&-
	fi
	return $found
}

# port_open reports whether something accepts connections on 127.0.0.1:$1.
port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# zk_ruok prints ZooKeeper's answer to "ruok" on port $1.
zk_ruok() {
	local answer=""
	if { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null; then
		printf ruok >&3
		read -r -t 2 -n 4 answer <&3 || true
		exec 3<&- 3>&-
	fi
	printf '%s' "$answer"
}

# cpu_ticks prints utime+stime of process $1 in clock ticks. The fields are
# counted after the ")" that ends the command name, which may hold spaces.
cpu_ticks() {
	local stat
	stat=$(<"/proc/$1/stat")
	stat=${stat##*) }
	# shellcheck disable=SC2086
	set -- $stat
	echo $((${12} + ${13}))
}

# rss_kib prints the resident set size of process $1 in KiB.
rss_kib() {
	awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0
}

# start_rss_sampler records the broker's peak RSS into $1 every 100 ms
# until stopped.
start_rss_sampler() {
	local out=$1
	(
		peak=0
		while kill -0 "$broker_pid" 2>/dev/null; do
			r=$(rss_kib "$broker_pid")
			# Written beside and renamed: the sampler is killed at any
			# moment, and a kill between a truncating write's open and
			# its write left an empty file (and a failed bench).
			((r > peak)) && peak=$r && echo "$peak" >"$out.new" && mv -f "$out.new" "$out"
			sleep 0.1
		done
	) &
	sampler_pid=$!
}

stop_rss_sampler() {
	[[ -n $sampler_pid ]] && kill "$sampler_pid" 2>/dev/null || true
	wait "$sampler_pid" 2>/dev/null || true
	sampler_pid=""
}

# --- build ---------------------------------------------------------------
if [[ $GOKAFKA_BIN == bin/gokafka ]]; then
	log "building $GOKAFKA_BIN"
	go build -o "$GOKAFKA_BIN" ./cmd/gokafka
fi
if [[ ! -f $ZK_JAR ]] || ! command -v java >/dev/null; then
	log "ZooKeeper is not installed ($ZK_JAR or java missing): apt-get install -y zookeeper"
	exit 1
fi

# --- the machine's limits ------------------------------------------------
# Measured in the same run, on the same log dir, so every broker figure can
# be read as a fraction of what the hardware allowed at that moment.

# dd_mbps ARGS... runs dd and prints its rate in MiB/s, from the byte count
# and seconds on its summary line (dd's own unit varies with the rate).
dd_mbps() {
	LC_ALL=C dd "$@" 2>&1 | awk '/bytes.*copied/ {
		for (i = 1; i <= NF; i++) if ($i == "s," || $i == "s") secs = $(i - 1)
		gsub(/,/, "", secs); printf "%.1f\n", $1 / 1048576 / secs }'
}
mkdir -p "$tmp/kafka-logs"
ddfile="$tmp/kafka-logs/.bench-dd"
log "machine limits: ${BENCH_LIMIT_MB} MiB sequential write (page cache, then fdatasync), page-cache read, loopback TCP"
# Each write goes to a new file, as a new segment does; the read then comes
# from the page cache, which the last write filled. On a VM whose balloon
# reports free pages back to the host (Firecracker here), page-cache pages
# the guest has not touched recently cost a host fault each: that rate,
# not memcpy speed, is what a produce run writing new data meets, and it
# varies with what ran before (see bench/results.md).
lim_write_cold=$(dd_mbps if=/dev/zero of="$ddfile" bs=1M count="$BENCH_LIMIT_MB")
rm -f "$ddfile"
lim_write=$(dd_mbps if=/dev/zero of="$ddfile" bs=1M count="$BENCH_LIMIT_MB")
rm -f "$ddfile"
lim_write_sync=$(dd_mbps if=/dev/zero of="$ddfile" bs=1M count="$BENCH_LIMIT_MB" conv=fdatasync)
lim_read=$(dd_mbps if="$ddfile" of=/dev/null bs=1M)
rm -f "$ddfile"
lim_tcp=$("$GOKAFKA_BIN" loopback-test --bytes $((BENCH_LIMIT_MB * 4 * 1048576)) | awk '/MB\/s/ {print $1}')
limits=(
	"sequential write to the log dir, page cache, fresh guest memory (dd bs=1M)|$lim_write_cold"
	"sequential write to the log dir, page cache, pages just freed (dd bs=1M, again)|$lim_write"
	"sequential write to the log dir, with fdatasync (dd conv=fdatasync)|$lim_write_sync"
	"page-cache read (dd of=/dev/null)|$lim_read"
	"single-stream loopback TCP (gokafka loopback-test)|$lim_tcp"
)

# warm_memory NAME BYTES puts the memory a produce run is about to write
# into the same state for every run: it writes BYTES plus 10% (record and
# batch overhead) of zeros to a scratch file on the log dir's filesystem
# and deletes it, so the run's page-cache writes land in pages the guest
# has just touched instead of pages the balloon handed back to the host,
# whatever ran before. Nothing else is dropped (no drop_caches). The
# freed pages are reported back to the host again within a second or two
# (free page reporting), so this equalizes the start of every run; runs
# that write for longer than that still meet fresh pages later on.
# BENCH_WARM=0 turns it off. The dd rate is kept in warm_rates: a low
# rate says the memory was cold.
warm_rates=()
warm_memory() {
	[[ $BENCH_WARM == 1 ]] || return 0
	local mib=$((($2 * 11 / 10 + 1048575) / 1048576)) rate
	rate=$(dd_mbps if=/dev/zero of="$tmp/.bench-warm" bs=1M count="$mib")
	rm -f "$tmp/.bench-warm"
	warm_rates+=("$1: $mib MiB at $rate MiB/s")
	log "$1: warmed $mib MiB at $rate MiB/s"
}

# --- ZooKeeper -----------------------------------------------------------
zk_port=$(free_port)
mkdir -p "$tmp/zk/data"
cat >"$tmp/zk/zoo.cfg" <<CFG
tickTime=2000
dataDir=$tmp/zk/data
clientPortAddress=127.0.0.1
clientPort=$zk_port
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr,dump
CFG
log "starting ZooKeeper on 127.0.0.1:$zk_port"
setsid java -Xmx256m -Djava.net.preferIPv4Stack=true \
	-cp "/etc/zookeeper/conf:$ZK_JAR:/usr/share/java/slf4j-simple.jar" \
	org.apache.zookeeper.server.quorum.QuorumPeerMain "$tmp/zk/zoo.cfg" \
	>"$tmp/zk/zookeeper.log" 2>&1 &
zk_pid=$!
for _ in $(seq 1 300); do
	[[ $(zk_ruok "$zk_port") == imok ]] && break
	kill -0 "$zk_pid" 2>/dev/null || { tail -n 20 "$tmp/zk/zookeeper.log" >&2; log "ZooKeeper exited"; exit 1; }
	sleep 0.1
done
[[ $(zk_ruok "$zk_port") == imok ]] || { log "ZooKeeper did not start within 30s"; exit 1; }

# --- broker --------------------------------------------------------------
broker_port=$(free_port)
bootstrap=127.0.0.1:$broker_port
cat >"$tmp/server.properties" <<CFG
broker.id=0
listeners=PLAINTEXT://$bootstrap
log.dirs=$tmp/kafka-logs
zookeeper.connect=127.0.0.1:$zk_port
num.partitions=1
default.replication.factor=1
auto.create.topics.enable=true
CFG
# start_broker starts the broker on the same config and dirs, records its
# start time (Unix ns) in broker_start_ns and waits until it listens.
start_broker() {
	log "starting broker on $bootstrap (logs in $tmp/kafka-logs)"
	broker_start_ns=$(date +%s%N)
	setsid "$GOKAFKA_BIN" server "$tmp/server.properties" >>"$tmp/broker.log" 2>&1 &
	broker_pid=$!
	for _ in $(seq 1 3000); do
		port_open "$broker_port" && break
		kill -0 "$broker_pid" 2>/dev/null || { tail -n 30 "$tmp/broker.log" >&2; log "broker exited during start"; exit 1; }
		sleep 0.01
	done
	port_open "$broker_port" || { tail -n 30 "$tmp/broker.log" >&2; log "broker did not listen within 30s"; exit 1; }
}

# stop_broker SIGNAL stops the broker with SIGNAL and waits for it to exit.
stop_broker() {
	kill -"$1" "$broker_pid" 2>/dev/null || true
	for _ in $(seq 1 300); do kill -0 "$broker_pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$broker_pid" 2>/dev/null || true
	wait "$broker_pid" 2>/dev/null || true
}
start_broker

clk_tck=$(getconf CLK_TCK)
rows=()     # table rows: name|records|rec/s|MB/s|avg|p99|cpu|rec per cpu-s|rss
raw_lines=() # the tools' own report lines

# run_measured NAME KIND COMMAND...: runs one tool under the run timeout,
# measuring broker CPU and peak RSS around it; the tool writes its summary
# JSON to $tmp/NAME.json and its report to $tmp/NAME.out.
run_measured() {
	local name=$1 kind=$2
	shift 2
	local rss_file="$tmp/$name.rss" t0 t1 rc=0
	echo 0 >"$rss_file"
	start_rss_sampler "$rss_file"
	t0=$(cpu_ticks "$broker_pid")
	timeout -s INT -k 10 "$BENCH_RUN_TIMEOUT" "$@" --summary-json "$tmp/$name.json" >"$tmp/$name.out" 2>"$tmp/$name.err" || rc=$?
	t1=$(cpu_ticks "$broker_pid")
	stop_rss_sampler
	if [[ $rc -ne 0 ]]; then
		log "$name: exit status $rc (130: interrupted after ${BENCH_RUN_TIMEOUT}s); stderr:"
		tail -n 5 "$tmp/$name.err" >&2 || true
	fi
	if [[ ! -s $tmp/$name.json ]]; then
		log "$name: no summary; broker log tail:"
		tail -n 20 "$tmp/broker.log" >&2
		rows+=("$name|failed|-|-|-|-|-|-|-")
		return
	fi
	local line
	line=$(grep -v '^\(start.time\|WARN\)' "$tmp/$name.out" | tail -n 1)
	raw_lines+=("$name: $line")
	rows+=("$(python3 - "$tmp/$name.json" "$kind" "$t0" "$t1" "$clk_tck" "$(cat "$rss_file")" "$name" <<'PY'
import json, sys
path, kind, t0, t1, tck, rss, name = sys.argv[1:]
s = json.load(open(path))
cpu = (int(t1) - int(t0)) / int(tck)
recs = s["records"]
per_cpu = f"{recs / cpu:,.0f}" if cpu > 0 else "-"
if kind == "produce":
    lat_avg, lat_p99 = f'{s["avg_latency_ms"]:.2f}', f'{s["p99_ms"]:.2f}'
else:
    lat_avg, lat_p99 = "-", "-"
print("|".join([name, f"{recs:,}", f'{s["records_per_sec"]:,.0f}', f'{s["mb_per_sec"]:.1f}',
                lat_avg, lat_p99, f"{cpu:.2f}", per_cpu, f"{int(rss) / 1024:.1f}"]))
PY
)")
}

# produced NAME prints how many records the produce run NAME acknowledged.
produced() {
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["records"])' "$tmp/$1.json" 2>/dev/null || echo 0
}

read -r -a extra_props <<<"$BENCH_PRODUCER_PROPS"
# acks=1 and acks=all runs of a size alternate, and each runs
# BENCH_REPEAT times in that interleaved order: on this VM a run's speed
# depends on how warm the guest's memory happens to be, so one run of each
# would compare luck as much as brokers. The table keeps every run and a row
# under the workload's own name for its median run.
workloads=(
	"produce-100B-acks1 100 $BENCH_RECORDS_100 acks=1 enable.idempotence=false"
	"produce-100B-acksall-idem 100 $BENCH_RECORDS_100 acks=all enable.idempotence=true"
	"produce-1KiB-acks1 1024 $BENCH_RECORDS_1K acks=1 enable.idempotence=false"
	"produce-1KiB-acksall-idem 1024 $BENCH_RECORDS_1K acks=all enable.idempotence=true"
)

# perf_start NAME starts `perf record` on the broker when BENCH_PERF=1 and
# NAME is one of the profiled runs; perf_stop NAME ends it and keeps the
# top entries of its report in profiles[NAME].
declare -A profiles=()
profiled_runs=" produce-100B-acks1 consume-100B-acks1 consume-1KiB-acks1 "
perf_start() {
	if [[ $BENCH_PERF == 1 && $profiled_runs == *" $1 "* ]] && command -v perf >/dev/null; then
		perf record -F 499 -g -o "$tmp/perf-$1.data" -p "$broker_pid" >"$tmp/perf-$1.log" 2>&1 &
		perf_pid=$!
	fi
}
perf_stop() {
	[[ -n $perf_pid ]] || return 0
	kill -INT "$perf_pid" 2>/dev/null || true
	wait "$perf_pid" 2>/dev/null || true
	perf_pid=""
	profiles[$1]=$(perf report -i "$tmp/perf-$1.data" --stdio --no-children --sort symbol -g none 2>/dev/null |
		grep -E "^ +[0-9.]+%" | sed -E "s/[[:space:]-]+$//" | head -n 25 || true)
}

for w in "${workloads[@]}"; do
	read -r name size count props <<<"$w"
	read -r -a wprops <<<"$props"
	topic="bench-${name#produce-}"
	# One untimed record first: it creates the topic (auto-creation) and
	# waits for its leader, so the measured runs start on a ready partition.
	t_create=$(date +%s.%N)
	if ! timeout 60 "$GOKAFKA_BIN" producer-perf-test --topic "$topic" --num-records 1 --record-size "$size" \
		--throughput -1 --producer-props "bootstrap.servers=$bootstrap" "${wprops[@]}" >"$tmp/$name.create" 2>&1; then
		log "$name: creating $topic failed:"
		tail -n 5 "$tmp/$name.create" >&2
	fi
	log "$name: topic ready after $(python3 -c "import time; print(f'{time.time() - $t_create:.2f}')")s"
done
declare -A produced_total=()
for rep in $(seq 1 "$BENCH_REPEAT"); do
	for w in "${workloads[@]}"; do
		read -r name size count props <<<"$w"
		read -r -a wprops <<<"$props"
		topic="bench-${name#produce-}"
		run="$name#$rep"
		log "$run: $count x ${size}B to $topic (${wprops[*]} ${extra_props[*]})"
		warm_memory "$run" $((count * size))
		[[ $rep == 1 ]] && perf_start "$name"
		run_measured "$run" produce "$GOKAFKA_BIN" producer-perf-test --topic "$topic" \
			--num-records "$count" --record-size "$size" --throughput -1 \
			--producer-props "bootstrap.servers=$bootstrap" "${wprops[@]}" "${extra_props[@]}"
		[[ $rep == 1 ]] && perf_stop "$name"
		produced_total[$name]=$((${produced_total[$name]:-0} + $(produced "$run")))
	done
done
# median_run NAME adds a row named NAME that repeats the row of NAME's
# median run by records/s (of an even number, the slower middle one),
# points $tmp/NAME.json at that run's summary, and notes the spread in
# the report lines.
median_run() {
	local pick
	pick=$(python3 - "$tmp" "$1" "$BENCH_REPEAT" <<'PY'
import json, os, sys
tmp, name, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
runs = []
for r in range(1, reps + 1):
    p = os.path.join(tmp, f"{name}#{r}.json")
    if os.path.exists(p):
        runs.append((json.load(open(p))["records_per_sec"], f"{name}#{r}"))
if runs:
    runs.sort()
    rate, run = runs[(len(runs) - 1) // 2]
    print(f"{run} {runs[0][0]:.0f} {rate:.0f} {runs[-1][0]:.0f} {len(runs)}")
PY
)
	[[ -n $pick ]] || { rows+=("$1|failed|-|-|-|-|-|-|-"); return; }
	local run lo mid hi n r
	read -r run lo mid hi n <<<"$pick"
	cp "$tmp/$run.json" "$tmp/$1.json"
	for r in "${rows[@]}"; do
		[[ ${r%%|*} == "$run" ]] && rows+=("$1|${r#*|}")
	done
	raw_lines+=("$1: median of $n runs is $run: $mid records/s (min..max $lo..$hi)")
}
for w in "${workloads[@]}"; do
	read -r name _ <<<"$w"
	median_run "$name"
done

for w in "${workloads[@]}"; do
	read -r name _ <<<"$w"
	topic="bench-${name#produce-}"
	n=${produced_total[$name]:-0}
	((n > 0)) && n=$((n + 1)) # the record that created the topic
	cname="consume-${name#produce-}"
	if [[ $n -eq 0 ]]; then
		rows+=("$cname|skipped|-|-|-|-|-|-|-")
		continue
	fi
	log "$cname: $n records from $topic"
	perf_start "$cname"
	run_measured "$cname" consume "$GOKAFKA_BIN" consumer-perf-test --bootstrap-server "$bootstrap" \
		--topic "$topic" --messages "$n" --fetch-size "$BENCH_FETCH_SIZE" --timeout 10000
	perf_stop "$cname"
done

# --- end-to-end latency --------------------------------------------------
# 20 MiB/s of 1 KiB records, acks=all (idempotent), for BENCH_E2E_SECONDS:
# every record carries its send time, the consumer in the same process
# notes its receipt time.
BENCH_E2E_SECONDS=${BENCH_E2E_SECONDS:-10}
e2e_line="not run"
e2e_p99=""
log "end-to-end latency: 20 MiB/s of 1 KiB records, acks=all, ${BENCH_E2E_SECONDS}s"
warm_memory end-to-end-latency $((20 * 1048576 * BENCH_E2E_SECONDS))
if timeout -s INT -k 10 $((BENCH_E2E_SECONDS + 60)) "$GOKAFKA_BIN" end-to-end-latency "$bootstrap" bench-e2e \
	$((20 * 1024 * BENCH_E2E_SECONDS)) all 1024 --throughput-mb 20 --timeout 30s \
	--summary-json "$tmp/e2e.json" >"$tmp/e2e.out" 2>"$tmp/e2e.err"; then
	e2e_line=$(tr '\n' ' ' <"$tmp/e2e.out")
	e2e_p99=$(python3 -c 'import json, sys; s = json.load(open(sys.argv[1])); print("%.3f|%.3f|%.3f" % (s["p50_ms"], s["p99_ms"], s["p999_ms"]))' "$tmp/e2e.json")
else
	log "end-to-end latency failed:"; tail -n 5 "$tmp/e2e.err" >&2
fi
raw_lines+=("end-to-end-latency (20 MiB/s, 1 KiB, acks=all): $e2e_line")

# --- backlog (issue 4, workload 6) -----------------------------------------
# BENCH_BACKLOG_GB GiB of 1 KiB records (acks=1) from N producers in
# parallel into an N-partition topic that nobody consumes, then N consumers
# in one consumer group read it all from the earliest offset while a probe
# sends a Metadata request (all topics) every 10 ms. Producers send keyless
# records (franz-go's sticky partitioner), so the partitions end up about,
# not exactly, equal; each consumer is told to expect everything and is
# stopped once the group as a whole has read every produced record. The
# topic is deleted afterwards, so the restart and partition figures below
# do not carry it.
BENCH_BACKLOG=${BENCH_BACKLOG:-1}
BENCH_BACKLOG_GB=${BENCH_BACKLOG_GB:-8}
BENCH_BACKLOG_CLIENTS=${BENCH_BACKLOG_CLIENTS:-2}
BENCH_BACKLOG_TIMEOUT=${BENCH_BACKLOG_TIMEOUT:-600}
backlog_note=""      # why the backlog was scaled down or skipped
backlog_figs=()      # key=value figures for the targets table
backlog_mib=$((BENCH_BACKLOG_GB * 1024))

# latest_count FILE prints the records a consumer-perf-test run with
# --show-detailed-stats has reported so far (the 5th field of its last
# progress line), or 0.
latest_count() {
	local line
	line=$(tail -n 1 "$1" 2>/dev/null) || true
	line=${line#*, *, *, *, }
	line=${line%%,*}
	[[ $line =~ ^[0-9]+$ ]] && echo "$line" || echo 0
}

# backlog_row NAME KIND T0 T1 CPU_TICKS RSS_FILE FILES... adds a table row
# for the N clients of one backlog phase: records and bytes summed over
# their summaries; rates over the phase's wall time T0..T1 (Unix ns).
backlog_row() {
	local name=$1 kind=$2 t0=$3 t1=$4 ticks=$5 rss_file=$6
	shift 6
	rows+=("$(python3 - "$name" "$kind" "$t0" "$t1" "$ticks" "$clk_tck" "$(cat "$rss_file")" "$@" <<'PY'
import json, sys
name, kind, t0, t1, ticks, tck, rss, *files = sys.argv[1:]
sums = []
for f in files:
    try:
        sums.append(json.load(open(f)))
    except (OSError, ValueError):
        pass
recs = sum(s["records"] for s in sums)
mib = sum(s["bytes"] for s in sums) / 1048576
secs = (int(t1) - int(t0)) / 1e9
cpu = int(ticks) / int(tck)
if kind == "produce" and recs:
    lat_avg = f'{sum(s["avg_latency_ms"] * s["records"] for s in sums) / recs:.2f}'
    lat_p99 = f'{max(s["p99_ms"] for s in sums):.2f}'
else:
    lat_avg = lat_p99 = "-"
print("|".join([name, f"{recs:,}", f"{recs / secs:,.0f}", f"{mib / secs:.1f}", lat_avg, lat_p99,
                f"{cpu:.2f}", f"{recs / cpu:,.0f}" if cpu > 0 else "-", f"{int(rss) / 1024:.1f}"]))
PY
)")
}

if [[ $BENCH_BACKLOG == 0 ]]; then
	backlog_note="skipped (BENCH_BACKLOG=0)"
else
	bl_n=$BENCH_BACKLOG_CLIENTS
	bl_topic=bench-backlog-0
	bl_free=$(df -B1 --output=avail "$tmp" | tail -n 1 | tr -d ' ')
	bl_mem_kib=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
	if ((bl_free < 2 * backlog_mib * 1048576)); then
		backlog_note="scaled down from ${BENCH_BACKLOG_GB} GiB: only $((bl_free / 1073741824)) GiB free on the log dir's filesystem, and the run needs twice the backlog"
		backlog_mib=$((bl_free / 2 / 1048576 / 1024 * 1024))
		((backlog_mib >= 1024)) || backlog_mib=$((bl_free / 2 / 1048576))
		log "backlog: $backlog_note; using $backlog_mib MiB"
	fi
	if ((bl_mem_kib < backlog_mib * 1024)); then
		backlog_note="${backlog_note:+$backlog_note; }only $((bl_mem_kib / 1024)) MiB of memory available, so part of the drain reads from disk"
	fi
	bl_per=$((backlog_mib * 1024 / bl_n)) # 1 KiB records per producer
	log "backlog: $bl_n producers x $bl_per records of 1 KiB into $bl_topic ($bl_n partitions)"
	"$GOKAFKA_BIN" bench-probe create-topics --bootstrap "$bootstrap" --prefix bench-backlog --topics 1 \
		--partitions "$bl_n" >/dev/null
	warm_memory backlog-produce $((bl_per * bl_n * 1024))

	# Produce: N producers at once, a Metadata probe alongside.
	echo 0 >"$tmp/backlog-produce.rss"
	"$GOKAFKA_BIN" bench-probe metadata-latency --bootstrap "$bootstrap" --interval 10ms \
		--duration "${BENCH_BACKLOG_TIMEOUT}s" >"$tmp/backlog-meta-produce.out" 2>&1 &
	bl_probe=$!
	start_rss_sampler "$tmp/backlog-produce.rss"
	c0=$(cpu_ticks "$broker_pid")
	t0=$(date +%s%N)
	bl_pids=()
	for i in $(seq 1 "$bl_n"); do
		timeout -s INT -k 10 "$BENCH_BACKLOG_TIMEOUT" "$GOKAFKA_BIN" producer-perf-test --topic "$bl_topic" \
			--num-records "$bl_per" --record-size 1024 --throughput -1 \
			--producer-props "bootstrap.servers=$bootstrap" acks=1 enable.idempotence=false "${extra_props[@]}" \
			--summary-json "$tmp/backlog-produce-$i.json" >"$tmp/backlog-produce-$i.out" 2>&1 &
		bl_pids+=($!)
	done
	for i in "${!bl_pids[@]}"; do
		wait "${bl_pids[$i]}" || log "backlog: producer $((i + 1)) ended early: $(tail -n 1 "$tmp/backlog-produce-$((i + 1)).out")"
	done
	t1=$(date +%s%N)
	c1=$(cpu_ticks "$broker_pid")
	stop_rss_sampler
	kill -TERM "$bl_probe" 2>/dev/null || true
	wait "$bl_probe" || true
	backlog_row backlog-produce produce "$t0" "$t1" $((c1 - c0)) "$tmp/backlog-produce.rss" "$tmp"/backlog-produce-*.json
	bl_expect=0
	for i in $(seq 1 "$bl_n"); do
		bl_expect=$((bl_expect + $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["records"])' \
			"$tmp/backlog-produce-$i.json" 2>/dev/null || echo 0)))
		raw_lines+=("backlog-produce-$i: $(grep -v '^\(start.time\|WARN\)' "$tmp/backlog-produce-$i.out" | tail -n 1)")
	done
	backlog_figs+=("meta_produce=$(tr '\n' ' ' <"$tmp/backlog-meta-produce.out")")
	bl_on_disk=$(du -sb "$tmp/kafka-logs" | awk '{printf "%.2f", $1 / 1073741824}')
	log "backlog: $bl_expect records acknowledged; log dir holds $bl_on_disk GiB"

	# Drain: N consumers in one group; the probe starts with the first
	# record consumed and stops when the group has read all of them.
	if ((bl_expect > 0)); then
		echo 0 >"$tmp/backlog-consume.rss"
		start_rss_sampler "$tmp/backlog-consume.rss"
		c0=$(cpu_ticks "$broker_pid")
		t0=$(date +%s%N)
		bl_pids=()
		for i in $(seq 1 "$bl_n"); do
			"$GOKAFKA_BIN" consumer-perf-test --bootstrap-server "$bootstrap" --topic "$bl_topic" \
				--group bench-backlog --messages "$bl_expect" --fetch-size "$BENCH_FETCH_SIZE" \
				--timeout $((BENCH_BACKLOG_TIMEOUT * 1000)) --show-detailed-stats --reporting-interval 1 \
				--hide-header --summary-json "$tmp/backlog-consume-$i.json" \
				>"$tmp/backlog-consume-$i.out" 2>"$tmp/backlog-consume-$i.err" &
			bl_pids+=($!)
		done
		bl_probe="" t_first="" t_drained=""
		deadline=$((t0 + BENCH_BACKLOG_TIMEOUT * 1000000000))
		while :; do
			now=$(date +%s%N)
			got=0 alive=0
			for i in $(seq 1 "$bl_n"); do
				got=$((got + $(latest_count "$tmp/backlog-consume-$i.out")))
				kill -0 "${bl_pids[$((i - 1))]}" 2>/dev/null && alive=$((alive + 1))
			done
			if [[ -z $bl_probe ]] && ((got > 0)); then
				t_first=$now
				"$GOKAFKA_BIN" bench-probe metadata-latency --bootstrap "$bootstrap" --interval 10ms \
					--duration "${BENCH_BACKLOG_TIMEOUT}s" >"$tmp/backlog-meta-drain.out" 2>&1 &
				bl_probe=$!
			fi
			if ((got >= bl_expect)); then
				t_drained=$now
				break
			fi
			if ((alive == 0 || now > deadline)); then
				log "backlog: drain incomplete: $got of $bl_expect records read"
				backlog_note="${backlog_note:+$backlog_note; }drain incomplete: $got of $bl_expect records read"
				break
			fi
			sleep 0.02
		done
		t1=${t_drained:-$(date +%s%N)}
		c1=$(cpu_ticks "$broker_pid")
		stop_rss_sampler
		[[ -n $bl_probe ]] && { kill -TERM "$bl_probe" 2>/dev/null || true; wait "$bl_probe" || true; }
		# The consumers expect every record each; stop them now (they
		# write their summaries on SIGTERM).
		for pid in "${bl_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
		for pid in "${bl_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
		backlog_row backlog-consume consume "${t_first:-$t0}" "$t1" $((c1 - c0)) "$tmp/backlog-consume.rss" "$tmp"/backlog-consume-*.json
		# The group's join (group.initial.rebalance.delay.ms, 3 s) is part
		# of the drain's wall time; the rate without it is shown too.
		join_s=$([[ -n $t_first ]] && python3 -c "print(f'{($t_first - $t0) / 1e9:.2f}')" || echo "?")
		drain_s=$(python3 -c "print(f'{($t1 - ${t_first:-$t0}) / 1e9:.2f}')")
		drain_mbs=$(python3 -c "print(f'{$bl_expect * 1024 / 1048576 / max(($t1 - ${t_first:-$t0}) / 1e9, 1e-6):.1f}')")
		backlog_figs+=("meta_drain=$(tr '\n' ' ' <"$tmp/backlog-meta-drain.out" 2>/dev/null)" "join_s=$join_s" \
			"drain_s=$drain_s" "drain_mbs=$drain_mbs")
		for i in $(seq 1 "$bl_n"); do
			raw_lines+=("backlog-consume-$i: $(python3 - "$tmp/backlog-consume-$i.json" 2>/dev/null <<'PY' || echo "no summary"
import json, sys
s = json.load(open(sys.argv[1]))
print("%d records, %.1f MB in %.2f s (stopped once the group had read everything), group join %d ms"
      % (s["records"], s["mb"], s["elapsed_sec"], s["rebalance_ms"]))
PY
)")
		done
		raw_lines+=("backlog drain: first record ${join_s} s after the consumers started (group join), all $bl_expect read ${drain_s} s later (${drain_mbs} MiB/s); Metadata while draining: $(tr '\n' ' ' <"$tmp/backlog-meta-drain.out" 2>/dev/null)")
	fi
	raw_lines+=("backlog produce: Metadata while producing: $(tr '\n' ' ' <"$tmp/backlog-meta-produce.out")")
	if "$GOKAFKA_BIN" bench-probe delete-topics --bootstrap "$bootstrap" --topic "$bl_topic" >/dev/null 2>"$tmp/backlog-delete.err"; then
		for _ in $(seq 1 600); do
			compgen -G "$tmp/kafka-logs/$bl_topic-*" >/dev/null || break
			sleep 0.1
		done
		compgen -G "$tmp/kafka-logs/$bl_topic-*" >/dev/null && log "backlog: $bl_topic's logs still on disk 60 s after its deletion"
	else
		log "backlog: deleting $bl_topic failed: $(tail -n 1 "$tmp/backlog-delete.err")"
	fi
fi
backlog_figs+=("backlog_mib=$backlog_mib" "backlog_n=$BENCH_BACKLOG_CLIENTS" "backlog_note=$backlog_note")

# --- restart after SIGKILL -----------------------------------------------
# BENCH_RESTART_GB more GiB of 1 KiB records go to a 4-partition topic (on
# top of the data the workloads above left), then the broker is killed with
# SIGKILL and started on the same dirs; "serving" is the first moment an
# ApiVersions and a Metadata request succeed and an acks=all produce is
# acknowledged, measured from the new process's start.
BENCH_RESTART_GB=${BENCH_RESTART_GB:-10}
restart_s=""
restart_own_s=""
restart_note=""
log "restart: ${BENCH_RESTART_GB} GiB into bench-restart (4 partitions), SIGKILL, restart"
"$GOKAFKA_BIN" bench-probe create-topics --bootstrap "$bootstrap" --prefix bench-restart --topics 1 --partitions 4 >/dev/null
restart_records=$((BENCH_RESTART_GB * 1024 * 1024))
timeout -s INT -k 10 $((BENCH_RUN_TIMEOUT * 4)) "$GOKAFKA_BIN" producer-perf-test --topic bench-restart-0 \
	--num-records "$restart_records" --record-size 1024 --throughput -1 \
	--producer-props "bootstrap.servers=$bootstrap" acks=1 enable.idempotence=false $BENCH_PRODUCER_PROPS \
	>"$tmp/restart-produce.out" 2>&1 || log "restart: produce ended early: $(tail -n 1 "$tmp/restart-produce.out")"
restart_log_gib=$(du -sb "$tmp/kafka-logs" | awk '{printf "%.1f", $1 / 1073741824}')
restart_segments=$(find "$tmp/kafka-logs" -name '*.log' | wc -l)
stop_broker KILL
start_broker
if out=$("$GOKAFKA_BIN" bench-probe wait-serving --bootstrap "$bootstrap" --topic bench-restart-0 \
	--since-ns "$broker_start_ns" --timeout 120s); then
	restart_s=${out#serving_s=}
	restart_rss=$(awk '{printf "%.1f", $1 / 1024}' <<<"$(rss_kib "$broker_pid")")
	restart_note="${restart_log_gib} GiB of logs in $restart_segments segment files, RSS $restart_rss MiB when serving"
	# The new process finds /brokers/ids/0 still held by the killed
	# process's ZooKeeper session, which it recorded in its locked log dirs,
	# and takes it over instead of waiting for the session to expire
	# (zookeeper.session.timeout.ms). For comparison, kill again, wait
	# until ZooKeeper has expired that session, and restart: the broker's
	# recovery alone.
	stop_broker KILL
	for _ in $(seq 1 600); do zk_has_ephemeral "$zk_port" /brokers/ids/0 || break; sleep 0.1; done
	start_broker
	if out=$("$GOKAFKA_BIN" bench-probe wait-serving --bootstrap "$bootstrap" --topic bench-restart-0 \
		--since-ns "$broker_start_ns" --timeout 120s); then
		restart_own_s=${out#serving_s=}
	fi
	restart_note="$restart_note; ${restart_own_s:-?} s when restarted after the old session expired"
else
	log "restart: broker did not serve within 120s"
	restart_note="not serving within 120 s (${restart_log_gib} GiB of logs)"
fi
raw_lines+=("restart after SIGKILL: serving after ${restart_s:-?} s; $restart_note")

# --- many partitions ------------------------------------------------------
# BENCH_PARTITIONS partitions in topics of 100 (CreateTopics, 10 topics per
# request), then a graceful restart: start time (process start to serving),
# Metadata latency for all topics, and RSS.
BENCH_PARTITIONS=${BENCH_PARTITIONS:-10000}
# The broker holds one open file per segment (the .log; indexes are
# memory-mapped), so the partition count is capped to what the open-files
# limit allows, leaving 1000 descriptors for the rest.
parts_fd_limit=$(ulimit -n)
parts_cap=""
if [[ $parts_fd_limit != unlimited ]] && ((BENCH_PARTITIONS > parts_fd_limit - 1000)); then
	parts_cap=$BENCH_PARTITIONS
	BENCH_PARTITIONS=$(((parts_fd_limit - 1000) / 100 * 100))
	log "partitions: capped to $BENCH_PARTITIONS: ulimit -n is $parts_fd_limit, one open file per partition"
fi
parts_topics=$(((BENCH_PARTITIONS + 99) / 100))
parts_create="" parts_start="" parts_meta="" parts_rss="" parts_fds=""
log "partitions: $parts_topics topics x 100 partitions"
if out=$("$GOKAFKA_BIN" bench-probe create-topics --bootstrap "$bootstrap" --prefix bench-parts \
	--topics "$parts_topics" --partitions 100 --per-request 10 --timeout 20m 2>"$tmp/parts.err"); then
	parts_create=${out#create_s=}
	log "partitions: created in ${parts_create}s; restarting (SIGTERM)"
	stop_broker TERM
	start_broker
	if out=$("$GOKAFKA_BIN" bench-probe wait-serving --bootstrap "$bootstrap" --topic bench-parts-0 \
		--since-ns "$broker_start_ns" --timeout 120s); then
		parts_start=${out#serving_s=}
		parts_meta=$("$GOKAFKA_BIN" bench-probe metadata --bootstrap "$bootstrap" --count 20 | tr '\n' ' ')
		parts_rss=$(awk '{printf "%.1f", $1 / 1024}' <<<"$(rss_kib "$broker_pid")")
		parts_fds=$(find "/proc/$broker_pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
	else
		log "partitions: broker did not serve within 120s after restart"
	fi
else
	log "partitions: creating topics failed:"; tail -n 5 "$tmp/parts.err" >&2
fi
raw_lines+=("partitions: $BENCH_PARTITIONS created in ${parts_create:-?} s; restart to serving ${parts_start:-?} s; metadata (all topics, 20 requests): ${parts_meta:-?}; RSS ${parts_rss:-?} MiB; ${parts_fds:-?} open files${parts_cap:+ (capped from $parts_cap by ulimit -n $parts_fd_limit)}")

# --- report --------------------------------------------------------------
header="workload|records|records/s|MB/s|lat avg ms|lat p99 ms|broker CPU s|records/broker CPU-s|broker peak RSS MiB"
table() {
	local fmt=$1 r
	if [[ $fmt == md ]]; then
		echo "| ${header//|/ | } |"
		echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
		for r in "${rows[@]}"; do echo "| ${r//|/ | } |"; done
	else
		{ echo "$header"; printf '%s\n' "${rows[@]}"; } | column -t -s '|'
	fi
}

# targets prints issue 4's targets next to the figures of this run (md or
# text), each with its fraction of the physical limit where it has one.
targets() {
	printf '%s\n' "${rows[@]}" >"$tmp/rows"
	python3 - "$1" "$tmp/rows" "$lim_write" "$lim_read" "$lim_tcp" "repeat=$BENCH_REPEAT" "e2e=$e2e_p99" "restart=$restart_s" "restart_own=$restart_own_s" \
		"restart_gib=$restart_log_gib" "parts_n=$BENCH_PARTITIONS" "parts_cap=$parts_cap" "parts_fds=$parts_fds" "fd_limit=$parts_fd_limit" "parts_create=$parts_create" \
		"parts_start=$parts_start" "parts_rss=$parts_rss" "parts_meta=$parts_meta" "${backlog_figs[@]}" <<'PY'
import sys
fmt, rows_path, lim_write, lim_read, lim_tcp = sys.argv[1:6]
extra = dict(a.split("=", 1) for a in sys.argv[6:])
rows = {}
for line in open(rows_path):
    f = line.rstrip("\n").split("|")
    rows[f[0]] = f
def num(name, col):
    try:
        return float(rows[name][col].replace(",", ""))
    except (KeyError, ValueError, IndexError):
        return None
def lim(x):
    try:
        return float(x)
    except ValueError:
        return None
RECS, MBS, CPU, PERCPU, RSS = 2, 3, 6, 7, 8
out = []
def add(figure, value, shown, target, ok, limit=None, limit_name=""):
    if value is None:
        out.append((figure, "-", target, "-", "-"))
        return
    frac = f"{value / limit:.0%} of {limit_name}" if limit else "-"
    out.append((figure, shown, target, frac, "yes" if ok(value) else "no"))
for size, n in (("100 B", "100B"), ("1 KiB", "1KiB")):
    v = num(f"produce-{n}-acks1", RECS if n == "100B" else MBS)
    if n == "100B":
        add(f"Produce {size}, acks=1", v, f"{v:,.0f} rec/s" if v else "", ">= 2,200,000 rec/s", lambda x: x >= 2.2e6)
    else:
        add(f"Produce {size}, acks=1", v, f"{v:.1f} MB/s" if v else "", ">= 450 MB/s", lambda x: x >= 450,
            lim(lim_write), "page-cache write")
for size, n in (("100 B", "100B"), ("1 KiB", "1KiB")):
    if n == "100B":
        v = num(f"consume-{n}-acks1", RECS)
        add(f"Consume {size}", v, f"{v:,.0f} rec/s" if v else "", ">= 2,200,000 rec/s", lambda x: x >= 2.2e6)
    else:
        v = num(f"consume-{n}-acks1", MBS)
        ceil = min(x for x in (lim(lim_read), lim(lim_tcp), float("inf")) if x is not None)
        add(f"Consume {size}", v, f"{v:.1f} MB/s" if v else "", ">= 600 MB/s", lambda x: x >= 600,
            ceil if ceil != float("inf") else None, "min(page-cache read, loopback TCP)")
v = num("produce-100B-acks1", PERCPU)
add("Broker records per CPU-second, produce 100 B", v, f"{v:,.0f}" if v else "", ">= 4,000,000", lambda x: x >= 4e6)
v = num("consume-100B-acks1", PERCPU)
add("Broker records per CPU-second, consume 100 B", v, f"{v:,.0f}" if v else "", ">= 4,000,000", lambda x: x >= 4e6)
for n in ("100B", "1KiB"):
    # The ratio of the medians, and the range of the ratios of the runs
    # made back to back (run k of acks=1, then run k of acks=all).
    a, b = num(f"produce-{n}-acksall-idem", RECS), num(f"produce-{n}-acks1", RECS)
    v = a / b if a and b else None
    pairs = []
    for k in range(1, int(extra.get("repeat", "0")) + 1):
        x, y = num(f"produce-{n}-acksall-idem#{k}", RECS), num(f"produce-{n}-acks1#{k}", RECS)
        if x and y:
            pairs.append(x / y)
    shown = f"{v:.3f}x (medians; pairs {min(pairs):.2f}..{max(pairs):.2f}x over {len(pairs)})" if v and pairs else (f"{v:.3f}x" if v else "")
    add(f"acks=all idempotent / acks=1, {n}", v, shown, ">= 0.95x", lambda x: x >= 0.95)
rss = [num(k, RSS) for k in rows]
rss = [x for x in rss if x is not None]
v = max(rss) if rss else None
add("Broker peak RSS, produce/consume runs", v, f"{v:.1f} MiB" if v else "", "<= 40 MiB", lambda x: x <= 40)
e2e = extra.get("e2e", "")
if e2e:
    p50, p99, p999 = (float(x) for x in e2e.split("|"))
    out.append(("End-to-end p99, 20 MB/s of 1 KiB, acks=all", f"p99 {p99:.3f} ms (p50 {p50:.3f}, p99.9 {p999:.3f})",
                "<= 2 ms", "-", "yes" if p99 <= 2 else "no"))
else:
    out.append(("End-to-end p99, 20 MB/s of 1 KiB, acks=all", "failed", "<= 2 ms", "-", "-"))
r = extra.get("restart", "")
if r:
    own = extra.get("restart_own", "")
    out.append((f"Restart after SIGKILL ({extra['restart_gib']} GiB of logs; issue: 10 GB)",
                f"serving after {float(r):.2f} s (immediate restart: the dead session's znodes taken over)",
                "serving within 5 s", "-", "yes" if float(r) < 5 else "no"))
    if own:
        out.append((f"Restart after SIGKILL, old session expired ({extra['restart_gib']} GiB)",
                    f"serving after {float(own):.2f} s", "serving within 5 s", "-", "yes" if float(own) < 5 else "no"))
else:
    out.append(("Restart after SIGKILL", "failed", "serving within 5 s", "-", "-"))
st, rss, meta = extra.get("parts_start", ""), extra.get("parts_rss", ""), extra.get("parts_meta", "")
if st and rss:
    m = dict(kv.split("=") for kv in meta.split())
    out.append((f"{extra['parts_n']} partitions ({m.get('partitions', '?')} in Metadata)",
                f"start {float(st):.2f} s, RSS {float(rss):.1f} MiB, Metadata p50 {m.get('p50_ms', '?')} / p99 {m.get('p99_ms', '?')} ms"
                f" (created in {float(extra['parts_create']):.1f} s; {extra['parts_fds']} open files)"
                + (f"; capped from {extra['parts_cap']}: ulimit -n {extra['fd_limit']}, one file per partition" if extra.get("parts_cap") else ""),
                "start < 5 s, RSS < 300 MB", "-", "yes" if float(st) < 5 and float(rss) * 1.048576 < 300 else "no"))
else:
    out.append((f"{extra['parts_n']} partitions", "failed" + (f" (created in {extra['parts_create']} s)" if extra.get("parts_create") else ""),
                "start < 5 s, RSS < 300 MB", "-", "-"))
def kv(s):
    return dict(x.split("=", 1) for x in s.split())
gib = int(extra.get("backlog_mib", "0")) / 1024
bl_name = f"Backlog {gib:g} GiB ({extra.get('backlog_n', '?')} producers, then {extra.get('backlog_n', '?')} consumers; issue: 8 GB)"
note = extra.get("backlog_note", "")
md = kv(extra.get("meta_drain", ""))
if "p99_ms" in md:
    mp = kv(extra.get("meta_produce", ""))
    pv, cv = num("backlog-produce", MBS), num("backlog-consume", MBS)
    shown = (f"Metadata while draining p50 {md['p50_ms']} / p99 {md['p99_ms']} / max {md['max_ms']} ms"
             f" ({md['count']} requests, {md['errors']} errors); produce {pv:.1f} MB/s, consume {cv:.1f} MB/s"
             f" (drain {extra.get('drain_s', '?')} s, after the group's {extra.get('join_s', '?')} s join)")
    if "p99_ms" in mp:
        shown += f"; Metadata while producing p99 {mp['p99_ms']} ms"
    if note:
        shown += f"; {note}"
    p99 = float(md["p99_ms"])
    out.append((bl_name, shown, "<= 50 ms p99", "-", "yes" if p99 <= 50 and md.get("errors") == "0" else "no"))
else:
    out.append((bl_name, note or "failed", "<= 50 ms p99", "-", "-"))
head = ("figure", "this run", "target (issue 4)", "fraction of the limit", "met")
if fmt == "md":
    print("| " + " | ".join(head) + " |")
    print("|---|---:|---|---|---|")
    for r in out:
        print("| " + " | ".join(r) + " |")
else:
    w = [max(len(r[i]) for r in out + [head]) for i in range(len(head))]
    for r in [head] + out:
        print("  ".join(c.ljust(w[i]) for i, c in enumerate(r)))
PY
}

# limits_table prints the machine's limits (md or text).
limits_table() {
	local l
	if [[ $1 == md ]]; then
		echo "| limit | MiB/s |"
		echo "|---|---:|"
		for l in "${limits[@]}"; do echo "| ${l//|/ | } |"; done
	else
		for l in "${limits[@]}"; do printf '%-70s %10s MiB/s\n' "${l%%|*}" "${l##*|}"; done
	fi
}

echo
echo "Machine limits (this run):"
limits_table text
echo
table text
echo
echo "Against issue 4's targets:"
targets text
for run in $profiled_runs; do
	[[ -n ${profiles[$run]:-} ]] || continue
	echo
	echo "Broker CPU profile during $run (perf, self time, top entries):"
	echo "${profiles[$run]}"
done

# Consumer groups (issue 3): offset commits of 50 partitions per request
# (commits/s, latency p50/p99) and the time a 10-member group takes to settle
# after one member leaves. These are Go benchmarks with their own in-process
# broker and ZooKeeper, so they run after the broker above has stopped its
# workloads; BENCH_GROUPS=0 skips them.
group_lines=()
if [[ ${BENCH_GROUPS:-1} != 0 ]]; then
	log "consumer groups: OffsetCommit of 50 partitions, 10-member rebalance"
	while IFS= read -r line; do
		group_lines+=("$line")
	done < <(go test ./broker/ -run '^$' -bench 'OffsetCommit50' -benchtime 300x 2>&1 | grep -E '^Benchmark|_test\.go:[0-9]+: ';
		go test ./broker/ -run '^$' -bench 'GroupRebalance10' -benchtime 3x 2>&1 | grep -E '^Benchmark|_test\.go:[0-9]+: ')
	echo
	echo "Consumer groups (go test -bench, broker package):"
	printf '%s\n' "${group_lines[@]}"
fi

cores=$(nproc)
cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
mem=$(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
mkdir -p "$(dirname "$BENCH_OUT")"
{
	echo "# gokafka benchmark results"
	echo
	echo "Written by \`make bench\` (scripts/bench.sh). One broker, one ZooKeeper, one client (several for the"
	echo "backlog), all on loopback on the same machine; 1-partition topics (the backlog: one per"
	echo "client), RF=1, uncompressed, unthrottled."
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "- commit: $commit"
	echo "- machine: $cores cores ($cpu_model), $mem memory, $(uname -sr)"
	echo "- $(go version 2>/dev/null || echo 'go: unknown')"
	echo "- producer properties: acks and enable.idempotence per workload, plus \`$BENCH_PRODUCER_PROPS\`"
	echo "- consumer: --fetch-size $BENCH_FETCH_SIZE, no group (direct assignment from the earliest offset)"
	echo "- run bound: ${BENCH_RUN_TIMEOUT}s per run (an interrupted run reports what it did)"
	echo
	echo "## The machine's limits, measured in this run"
	echo
	limits_table md
	echo
	echo "## Workloads"
	echo
	table md
	echo
	echo "## Against the targets (issue 4)"
	echo
	targets md
	echo
	echo "MB/s is MiB/s, as Kafka's perf tools print it. The consume ceiling is the smaller of the"
	echo "page-cache read and loopback TCP rates; produce is compared with the page-cache write rate"
	echo "into just-freed pages, the better of the two write figures (acks=1 does not fsync)."
	echo
	echo "On a VM that returns free guest pages to the host (virtio-balloon free page reporting, as on"
	echo "this Firecracker machine), writing new data into the page cache costs a host fault per fresh"
	echo "page: the kernel's copy into the page cache (copy_folio_from_iter_atomic) then dominates the"
	echo "broker's CPU. Left alone, runs later in the sequence, which need memory the earlier ones did"
	echo "not warm, cost the broker up to 2-3x more CPU per record, and the acks=all / acks=1 ratio"
	echo "became mostly an order effect (0.3x in an earlier run; run alone, idempotent acks=all produced"
	echo "as fast as acks=1). How each produce run is started now: \"Memory state\" below."
	echo
	echo "End-to-end latency: \`gokafka end-to-end-latency\` at 20 MiB/s of 1 KiB records (acks=all, idempotent,"
	echo "linger 0) for ${BENCH_E2E_SECONDS} s; each record carries its send time and the consumer in the same"
	echo "process notes when it receives it (the tool reuses acknowledged records and runs its GC at"
	echo "GOGC=400, so that its own collections do not pass for broker latency; the acknowledgement"
	echo "line splits the produce half out). Restart after SIGKILL: ${BENCH_RESTART_GB} GiB more of 1 KiB records"
	echo "into a 4-partition topic on top of the workloads' data,"
	echo "then SIGKILL and a restart on the same dirs; serving = an ApiVersions and a Metadata request"
	echo "succeed and an acks=all produce is acknowledged, timed from the new process's start. The"
	echo "killed process's ZooKeeper session still holds /brokers/ids/0 until it expires"
	echo "(zookeeper.session.timeout.ms, 18 s; Kafka's broker waits for that). gokafka records its"
	echo "session id in its locked log dirs (.gokafka-zk-session) and the next process deletes the"
	echo "dead session's znodes instead of waiting; a second kill-and-restart after the session has"
	echo "expired shows the recovery alone. Partitions: ${BENCH_PARTITIONS} partitions as topics of 100"
	echo "(CreateTopics, 10 topics per request), then a graceful restart; start = process start to"
	echo "serving, Metadata = 20 requests for all topics, RSS when serving."
	echo
	if [[ $BENCH_BACKLOG != 0 ]]; then
		echo "Backlog (issue 4's workload 6): $((backlog_mib / 1024)) GiB ($backlog_mib MiB) of 1 KiB records, acks=1, from"
		echo "$BENCH_BACKLOG_CLIENTS producer-perf-test processes at once into a $BENCH_BACKLOG_CLIENTS-partition topic with no consumer"
		echo "(keyless records, so the partitions are about equal), then $BENCH_BACKLOG_CLIENTS consumer-perf-test processes in"
		echo "one consumer group read everything from the earliest offset. \`gokafka bench-probe metadata-latency\`"
		echo "sends a Metadata request for all topics every 10 ms (one at a time, on its own connection)"
		echo "from the first record consumed until the group has read every produced record, and also"
		echo "while producing. The rows backlog-produce and backlog-consume sum the clients; their rates"
		echo "are over wall time: for the produce from the producers' start to the last one's end, for"
		echo "the drain from the first record consumed to the last, so the group's join"
		echo "(group.initial.rebalance.delay.ms, 3 s, then the assignment) is left out of the rate; it is"
		echo "shown in the targets table. Broker CPU and peak RSS are over each phase (the drain's CPU"
		echo "includes the join). The topic is deleted afterwards."
		[[ -n $backlog_note ]] && echo "Note: $backlog_note."
		echo
	fi
	echo "Repeats: each produce workload ran ${BENCH_REPEAT} times, acks=1 and acks=all of a size"
	echo "alternating (100B-acks1, 100B-acksall-idem, 1KiB-acks1, 1KiB-acksall-idem, then again);"
	echo "rows NAME#k are the single runs and the row NAME repeats its median run (by records/s;"
	echo "the min..max of the runs is in the tools' report lines below). Ratios of acks=all to acks=1"
	echo "are of the two medians, with the range of the back-to-back pairs. Each consume workload"
	echo "reads everything its topic received, all runs together, in one pass."
	echo
	if [[ $BENCH_WARM == 1 ]]; then
		echo "Memory state: before every produce run (the four produce workloads, the end-to-end run and"
		echo "the backlog's producers) the script writes as much as the run will write, plus 10%, to a"
		echo "scratch file on the log dir's filesystem with dd and deletes it (nothing else is dropped;"
		echo "no drop_caches), so every produce run starts writing into pages the guest has just freed"
		echo "rather than into pages that, depending on what ran before, the balloon had returned to the"
		echo "host. The guest reports freed pages back within about a second or two, so this equalizes"
		echo "the start of each run; a run that writes for longer meets fresh pages later on. The dd"
		echo "rates of the warming (a low rate says the memory was cold before it):"
		echo
		printf -- '- %s\n' "${warm_rates[@]}"
	else
		echo "Memory state: not warmed before produce runs (BENCH_WARM=0): runs later in the sequence may"
		echo "write into colder memory than earlier ones."
	fi
	echo
	echo "Latency is per record, from send to acknowledgement (producer-perf-test's measure)."
	echo "Broker CPU is utime+stime of the broker process during the run (/proc/<pid>/stat);"
	echo "RSS is the broker's peak VmRSS sampled every 100 ms."
	echo
	if [[ ${#group_lines[@]} -gt 0 ]]; then
		echo "## Consumer groups"
		echo
		echo "OffsetCommit v9 of 50 partitions per request (each one ZooKeeper multi), with 1 and 8"
		echo "groups committing at once; and a 10-member group settling after one member leaves, with"
		echo "Kafka's 3 s heartbeat and with a 100 ms heartbeat (members learn of a rebalance from a heartbeat)."
		echo
		echo '```'
		printf '%s\n' "${group_lines[@]}"
		echo '```'
		echo
	fi
	echo "The tools' own report lines:"
	echo
	echo '```'
	printf '%s\n' "${raw_lines[@]}"
	echo '```'
	for run in $profiled_runs; do
		[[ -n ${profiles[$run]:-} ]] || continue
		echo
		echo "Broker CPU profile during $run (perf record, self time):"
		echo
		echo '```'
		echo "${profiles[$run]}"
		echo '```'
	done
} >"$BENCH_OUT"
log "wrote $BENCH_OUT"
