#!/usr/bin/env bash
# run-cluster.sh runs a three-node ZooKeeper ensemble and three gokafka
# brokers on 127.0.0.1 for local use (`make cluster`), and kills, stops or
# restarts one broker of that cluster by hand to watch failover.
#
#   scripts/run-cluster.sh [--override key=value ...]   run in the foreground
#   scripts/run-cluster.sh kill N      SIGKILL broker N (a crash)
#   scripts/run-cluster.sh stop N      SIGTERM broker N (orderly shutdown)
#   scripts/run-cluster.sh start N     start broker N again, in the background
#   scripts/run-cluster.sh status      which processes run
#
# Everything lives under ./data/cluster: ZooKeeper node N in zkN/ (zoo.cfg,
# data/, zookeeper.log; client port 218N, quorum port 288(7+N), election
# port 388(7+N)), broker N's partitions in brokerN/ (log.dirs) and its output
# in brokerN.log, and the pid of every process in pids/. A second run
# continues with the same data.
#
# Broker N is `gokafka server config/server.properties` with broker.id=N,
# broker.rack=rN, listeners=PLAINTEXT://127.0.0.1:909(1+N), its log.dirs, all
# three ZooKeeper nodes in zookeeper.connect, Kafka's rack-aware
# replica.selector.class (a consumer with client.rack=rN reads from broker
# N), default.replication.factor=3, min.insync.replicas=2 and
# offsets.topic.replication.factor=3, and Kafka's defaults for
# __transaction_state (3 replicas, min ISR 2) over the single-broker values
# of config/server.properties; --override
# arguments of the foreground run come after those and apply to all three
# brokers. `start N` starts the binary and configuration of the foreground
# run with its overrides (recorded in data/cluster/broker-command), unless
# GOKAFKA_BIN or GOKAFKA_CONFIG is set for it.
#
# Ctrl-C (SIGINT) or SIGTERM stops the brokers one at a time (SIGTERM, waiting
# for each to exit; SIGKILL after STOP_TIMEOUT seconds), then ZooKeeper.
# Environment: GOKAFKA_BIN (default bin/gokafka), GOKAFKA_CONFIG (default
# config/server.properties), STOP_TIMEOUT (default 60).
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)

bin_env=${GOKAFKA_BIN:-}
config_env=${GOKAFKA_CONFIG:-}
GOKAFKA_BIN=${GOKAFKA_BIN:-bin/gokafka}
GOKAFKA_CONFIG=${GOKAFKA_CONFIG:-config/server.properties}
STOP_TIMEOUT=${STOP_TIMEOUT:-60}
CLUSTER_DIR=$root/data/cluster
PID_DIR=$CLUSTER_DIR/pids
# RUN_FILE holds the foreground run's binary, properties file and extra
# arguments, one per line.
RUN_FILE=$CLUSTER_DIR/broker-command
ZK_JAR=/usr/share/java/zookeeper.jar
NODES=(1 2 3)
ZK_CONNECT=127.0.0.1:2181,127.0.0.1:2182,127.0.0.1:2183
REPLICA_SELECTOR=org.apache.kafka.common.replica.RackAwareReplicaSelector

log() { echo "run-cluster: $*" >&2; }

zk_port() { echo $((2180 + $1)); }
broker_port() { echo $((9091 + $1)); }

# ensure_zookeeper installs Debian's zookeeper package when it is missing and
# we are root; otherwise it says what to install and fails.
ensure_zookeeper() {
	if [[ -f $ZK_JAR ]] && command -v java >/dev/null; then
		return
	fi
	if [[ $(id -u) -ne 0 ]]; then
		log "ZooKeeper is not installed ($ZK_JAR or java missing)."
		log "Install Debian's package as root:  apt-get install -y zookeeper"
		exit 1
	fi
	log "installing Debian's zookeeper package"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y zookeeper || { apt-get update && apt-get install -y zookeeper; }
}

# four_letter PORT WORD prints ZooKeeper's answer to a four-letter word.
four_letter() {
	(
		exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 0
		printf '%s' "$2" >&3
		timeout 2 cat <&3 || true
	) 2>/dev/null || true
}

# zk_mode N prints node N's role (leader, follower) while it serves.
zk_mode() { four_letter "$(zk_port "$1")" srvr | sed -n 's/^Mode: //p'; }

# port_open PORT succeeds when something accepts connections on it.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# live_pid KIND N prints the pid in pids/KIND N.pid when that process is still
# ours (its command line names the node, so a reused pid does not count).
live_pid() {
	local f=$PID_DIR/$1$2.pid pid mark args
	[[ -f $f ]] || return 0
	pid=$(<"$f")
	[[ $pid =~ ^[0-9]+$ ]] || return 0
	case $1 in
	zk) mark="$CLUSTER_DIR/zk$2/zoo.cfg" ;;
	broker) mark="log.dirs=./data/cluster/broker$2 " ;;
	esac
	args=$(ps -o args= -p "$pid" 2>/dev/null || true)
	if [[ "$args " == *"$mark"* ]]; then
		echo "$pid"
	fi
}

# stop_pid KIND N SIGNAL TIMEOUT sends SIGNAL to the process and waits up to
# TIMEOUT seconds for it to exit, then kills it.
stop_pid() {
	local pid
	pid=$(live_pid "$1" "$2")
	if [[ -z $pid ]]; then
		rm -f "$PID_DIR/$1$2.pid"
		return 0
	fi
	log "stopping $1 $2 (pid $pid, SIG$3)"
	kill -"$3" "$pid" 2>/dev/null || true
	local waited=0
	while [[ -n $(live_pid "$1" "$2") ]]; do
		if ((waited >= $4 * 10)); then
			log "$1 $2 (pid $pid) still running after ${4}s; sending SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
			waited=0
		fi
		sleep 0.1
		waited=$((waited + 1))
	done
	rm -f "$PID_DIR/$1$2.pid"
}

write_zoo_cfg() {
	local n=$1 dir=$CLUSTER_DIR/zk$1
	mkdir -p "$dir/data"
	echo "$n" >"$dir/data/myid"
	cat >"$dir/zoo.cfg" <<CFG
# Generated by scripts/run-cluster.sh on each start; edit the script, not this file.
tickTime=2000
initLimit=10
syncLimit=5
dataDir=$dir/data
clientPortAddress=127.0.0.1
clientPort=$(zk_port "$n")
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr,mntr,stat
server.1=127.0.0.1:2888:3888
server.2=127.0.0.1:2889:3889
server.3=127.0.0.1:2890:3890
CFG
}

start_zk() {
	local n=$1 dir=$CLUSTER_DIR/zk$1
	# setsid keeps the terminal's Ctrl-C away from the children: the trap
	# decides the order in which they stop.
	setsid java -Xmx256m -Djava.net.preferIPv4Stack=true \
		-cp "/etc/zookeeper/conf:$ZK_JAR:/usr/share/java/slf4j-simple.jar" \
		org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" \
		</dev/null >>"$dir/zookeeper.log" 2>&1 &
	echo $! >"$PID_DIR/zk$n.pid"
	disown # the monitor reports exits; bash's job notices would only repeat them
}

# start_broker N launches broker N in the background, appending its output
# to data/cluster/brokerN.log.
start_broker() {
	local n=$1 run=() extra=() bin=$GOKAFKA_BIN config=$GOKAFKA_CONFIG
	if [[ -f $RUN_FILE ]]; then
		mapfile -t run <"$RUN_FILE"
		bin=${bin_env:-${run[0]:-$bin}}
		config=${config_env:-${run[1]:-$config}}
		extra=("${run[@]:2}")
	fi
	if [[ ! -x $bin ]]; then
		log "$bin not found; build it with: make build"
		exit 1
	fi
	mkdir -p "$CLUSTER_DIR/broker$n"
	local args=(server "$config"
		--override "broker.id=$n"
		--override "broker.rack=r$n"
		--override "replica.selector.class=$REPLICA_SELECTOR"
		--override "listeners=PLAINTEXT://127.0.0.1:$(broker_port "$n")"
		--override "log.dirs=./data/cluster/broker$n"
		--override "zookeeper.connect=$ZK_CONNECT"
		--override default.replication.factor=3
		--override min.insync.replicas=2
		--override offsets.topic.replication.factor=3
		--override transaction.state.log.replication.factor=3
		--override transaction.state.log.min.isr=2
		"${extra[@]}")
	echo "=== $(date '+%F %T') run-cluster: $bin ${args[*]}" >>"$CLUSTER_DIR/broker$n.log"
	setsid "$bin" "${args[@]}" </dev/null >>"$CLUSTER_DIR/broker$n.log" 2>&1 &
	echo $! >"$PID_DIR/broker$n.pid"
	disown
	log "broker $n starting (pid $!, 127.0.0.1:$(broker_port "$n"), log data/cluster/broker$n.log)"
}

need_binary() {
	if [[ ! -x $GOKAFKA_BIN ]]; then
		log "$GOKAFKA_BIN not found; build it with: make build"
		exit 1
	fi
}

# broker_arg checks the N of kill/stop/start.
broker_arg() {
	if [[ ! ${1:-} =~ ^[123]$ ]]; then
		log "which broker? give 1, 2 or 3 (make cluster-kill BROKER=2)"
		exit 2
	fi
}

sleep_pid=""

# stop_all stops the brokers one at a time, then ZooKeeper. A second
# signal must not end it half way (make passes its SIGTERM on to the script,
# which the process group already got; people press Ctrl-C twice), so INT
# and TERM are ignored from here on, by the helpers it runs (sleep, ps) as
# well, and a failing helper does not end it either. The timeouts bound it.
stop_all() {
	trap - EXIT
	trap '' INT TERM
	set +e
	log "stopping (Ctrl-C again is ignored; at most ${STOP_TIMEOUT}s per broker, then SIGKILL)"
	[[ -n $sleep_pid ]] && kill "$sleep_pid" 2>/dev/null
	for n in "${NODES[@]}"; do
		stop_pid broker "$n" TERM "$STOP_TIMEOUT"
	done
	for n in "${NODES[@]}"; do
		stop_pid zk "$n" TERM 20
	done
	log "stopped"
}

# monitor reports brokers and ZooKeeper nodes that come up or go away,
# including brokers restarted by `start N` from another terminal, until a
# signal ends the script.
monitor() {
	declare -A state
	local n pid key now
	while true; do
		for n in "${NODES[@]}"; do
			key=zk$n
			pid=$(live_pid zk "$n")
			now=${pid:+up}
			if [[ ${state[$key]:-up} != "${now:-down}" ]]; then
				if [[ -n $pid ]]; then
					log "ZooKeeper $n is back (pid $pid)"
				else
					log "ZooKeeper $n is gone; see data/cluster/zk$n/zookeeper.log"
				fi
			fi
			state[$key]=${now:-down}

			key=broker$n
			pid=$(live_pid broker "$n")
			if [[ -z $pid ]]; then
				now=down
			elif port_open "$(broker_port "$n")"; then
				now=serving
			else
				now=starting
			fi
			if [[ ${state[$key]:-starting} != "$now" ]]; then
				case $now in
				serving) log "broker $n serving on 127.0.0.1:$(broker_port "$n") (pid $pid)" ;;
				starting) log "broker $n starting (pid $pid)" ;;
				down)
					log "broker $n is gone; last lines of data/cluster/broker$n.log:"
					tail -n 5 "$CLUSTER_DIR/broker$n.log" | sed 's/^/    /' >&2
					log "restart it with: make cluster-start BROKER=$n"
					;;
				esac
			fi
			state[$key]=$now
		done
		# wait returns as soon as a trapped signal arrives.
		sleep 1 &
		sleep_pid=$!
		wait "$sleep_pid" || true
		sleep_pid=""
	done
}

run_foreground() {
	ensure_zookeeper
	need_binary
	mkdir -p "$PID_DIR"
	for n in "${NODES[@]}"; do
		for kind in zk broker; do
			if pid=$(live_pid $kind "$n") && [[ -n $pid ]]; then
				log "$kind $n of a cluster already runs (pid $pid); stop that run first (Ctrl-C in its terminal)"
				exit 1
			fi
		done
		for port in "$(zk_port "$n")" "$(broker_port "$n")" $((2887 + n)) $((3887 + n)); do
			if port_open "$port"; then
				log "something already listens on 127.0.0.1:$port; stop it first"
				exit 1
			fi
		done
	done
	printf '%s\n' "$GOKAFKA_BIN" "$GOKAFKA_CONFIG" "$@" >"$RUN_FILE"

	trap stop_all EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM

	log "starting a ZooKeeper ensemble on 127.0.0.1:2181-2183 (data and logs in data/cluster/zk{1,2,3})"
	for n in "${NODES[@]}"; do
		write_zoo_cfg "$n"
		start_zk "$n"
	done
	local ready=0
	for _ in $(seq 1 600); do
		ready=0
		for n in "${NODES[@]}"; do
			if [[ -z $(live_pid zk "$n") ]]; then
				log "ZooKeeper $n exited during start; last lines of data/cluster/zk$n/zookeeper.log:"
				tail -n 20 "$CLUSTER_DIR/zk$n/zookeeper.log" >&2
				exit 1
			fi
			case $(zk_mode "$n") in leader | follower) ready=$((ready + 1)) ;; esac
		done
		((ready == ${#NODES[@]})) && break
		sleep 0.1
	done
	if ((ready != ${#NODES[@]})); then
		log "the ensemble has no quorum after 60s; see data/cluster/zk*/zookeeper.log"
		exit 1
	fi
	for n in "${NODES[@]}"; do
		log "ZooKeeper $n is $(zk_mode "$n") on 127.0.0.1:$(zk_port "$n") (pid $(live_pid zk "$n"))"
	done

	for n in "${NODES[@]}"; do
		start_broker "$n"
	done
	log "running; Ctrl-C stops the brokers, then ZooKeeper. Logs: tail -f data/cluster/broker*.log"
	monitor
}

case ${1:-} in
kill)
	broker_arg "${2:-}"
	pid=$(live_pid broker "$2")
	if [[ -z $pid ]]; then
		log "broker $2 is not running"
		exit 1
	fi
	kill -KILL "$pid"
	log "sent SIGKILL to broker $2 (pid $pid)"
	;;
stop)
	broker_arg "${2:-}"
	stop_pid broker "$2" TERM "$STOP_TIMEOUT"
	;;
start)
	broker_arg "${2:-}"
	if pid=$(live_pid broker "$2") && [[ -n $pid ]]; then
		log "broker $2 already runs (pid $pid)"
		exit 1
	fi
	if [[ -z $(live_pid zk 1)$(live_pid zk 2)$(live_pid zk 3) ]]; then
		log "the cluster's ZooKeeper is not running; start the cluster with: make cluster"
		exit 1
	fi
	mkdir -p "$PID_DIR"
	start_broker "$2"
	;;
status)
	for n in "${NODES[@]}"; do
		pid=$(live_pid zk "$n")
		echo "zk$n      ${pid:-down}${pid:+ $(zk_mode "$n")} 127.0.0.1:$(zk_port "$n")"
	done
	for n in "${NODES[@]}"; do
		pid=$(live_pid broker "$n")
		serving=""
		[[ -n $pid ]] && port_open "$(broker_port "$n")" && serving=" serving"
		echo "broker$n  ${pid:-down}$serving 127.0.0.1:$(broker_port "$n")"
	done
	;;
"" | --override | --override=*)
	run_foreground "$@"
	;;
*)
	sed -n '2,/^set -e/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
