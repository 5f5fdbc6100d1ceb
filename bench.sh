#!/usr/bin/env bash
# bench.sh [--quick] [--duration D] [--keys N] [--no-redis-benchmark]
#
# Key-value throughput of Pequod-Go against Redis, side by side in one run on
# this machine's loopback: get and set (Pequod insert) with `pequod kv` at 50
# connections x pipeline depth 32 for
#   (a) Pequod with 1 partition,
#   (b) Pequod with one partition per core (nproc),
#   (c) Redis (Debian's redis-server, persistence off),
# plus redis-benchmark (-P 32 -c 50 -t get,set -q) as a reference line when it
# is installed. Every server is a separate process started and stopped here;
# client and servers share the machine's cores, so compare the ratios.
#
# Writes results/ (gitignored): raw/kv-*.json (one `pequod kv` result per
# run), raw/runs.tsv (CPU used by client, server and other processes per
# run), raw/redis-benchmark.tsv, raw/servers.txt (server CPU time, peak RSS
# and log excerpts), kv.md (tables), kv.dat + kv.gp (gnuplot) and kv.png.
# Progress goes to stderr. All servers are stopped on exit, also on Ctrl-C.
#
#   ./bench.sh --quick    # about half a minute: 2 s per run
#   ./bench.sh            # 10 s per run
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
root=$PWD

duration=10s
keys=100000
conns=50
depth=32
value=32
refs=1
quick=0
while [[ $# -gt 0 ]]; do
	case $1 in
	--quick) quick=1 duration=2s ;;
	--duration) duration=$2; shift ;;
	--duration=*) duration=${1#*=} ;;
	--keys) keys=$2; shift ;;
	--keys=*) keys=${1#*=} ;;
	--no-redis-benchmark) refs=0 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
	esac
	shift
done
redis_bench_n=$((quick ? 500000 : 2000000))

log() { printf '%s bench: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

results=$root/results
raw=$results/raw
work=$(mktemp -d "${TMPDIR:-/tmp}/pequod-bench.XXXXXX")
server_pids=()
server_pid=
redis_port=
hz=$(getconf CLK_TCK)

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	for pid in "${server_pids[@]}"; do
		if kill -0 "$pid" 2>/dev/null; then
			log "stopping server pid $pid"
			kill -TERM "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
		fi
	done
	if [[ -n $redis_port ]]; then
		REDIS_RUN_DIR=$work/redis "$root/loadgen/scripts/redis.sh" stop "$redis_port" || true
	fi
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# free_port prints a TCP port nobody listens on (racy but fine on loopback).
free_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	die "no free port found"
}

# proc_usage PID: "cpu_s=U+S rss_peak_mb=M" from /proc.
proc_usage() {
	local pid=$1 ticks
	ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)
	printf 'cpu_s=%s rss_peak_mb=%s' "$(awk -v t="$ticks" -v h="$hz" 'BEGIN{printf "%.2f", t/h}')" \
		"$(awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$pid/status" 2>/dev/null || echo '?')"
}

# ---------------------------------------------------------------- build
command -v go >/dev/null || die "go is not on PATH"
log "building pequod (go build ./cmd/pequod)"
go build -o "$work/pequod" ./cmd/pequod
pequod=$work/pequod
ncpu=$(nproc)
mkdir -p "$raw"
rm -f "$raw"/kv-*.json "$raw"/redis-benchmark.tsv "$raw"/servers.txt "$raw"/runs.tsv "$results"/kv.md "$results"/kv.png "$results"/kv.dat "$results"/kv.gp
{
	echo "# bench.sh $(date -u +%FT%TZ) on $(uname -n): $ncpu cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), go $(go env GOVERSION)"
	echo "# load: conns=$conns depth=$depth keys=$keys value=$value duration=$duration"
} >"$raw/servers.txt"
log "$ncpu cores; load: $conns conns x depth $depth, $keys keys, $value-byte values, $duration per run"

# cpu_busy: jiffies the whole machine spent busy (user nice system irq softirq).
cpu_busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8; exit}' /proc/stat; }
# proc_ticks PID: user+system jiffies of a process.
proc_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# run_kv NAME LABEL ORDER EXTRA... -- KV ARGS: one `pequod kv` run against
# the server $server_pid; JSON to raw/kv-NAME.json, and a line in raw/runs.tsv:
# name, ops/s, wall s, CPU s of the client, the server and everything else.
run_kv() {
	local name=$1 label=$2 order=$3; shift 3
	local extra=()
	while [[ $1 != -- ]]; do extra+=(-extra "$1"); shift; done
	shift
	log "run $name: pequod kv $*"
	local b0 s0 b1 s1 TIMEFORMAT='%3U %3S %3R'
	b0=$(cpu_busy) s0=$(proc_ticks "$server_pid")
	{ time "$pequod" kv -conns "$conns" -depth "$depth" -keys "$keys" -value "$value" -duration "$duration" \
		-extra "label=$label" -extra "order=$order" ${extra[@]+"${extra[@]}"} "$@" >"$raw/kv-$name.json" 2>&3; } 3>&2 2>"$work/time"
	b1=$(cpu_busy) s1=$(proc_ticks "$server_pid")
	local ops usage
	ops=$(sed -n 's/^    "ops_per_sec": \([0-9.]*\),$/\1/p' "$raw/kv-$name.json")
	# CPU seconds of the whole run (populate included) of the client, the
	# server and everything else on the machine, and the wall time.
	usage=$(awk -v b="$((b1 - b0))" -v s="$((s1 - s0))" -v hz="$hz" '{
		c = $1 + $2; sv = s / hz; o = b / hz - c - sv; if (o < 0) o = 0
		printf "%.2f\t%.2f\t%.2f\t%.2f", $3, c, sv, o }' "$work/time")
	printf '%s\t%s\t%s\n' "$name" "$ops" "$usage" >>"$raw/runs.tsv"
	log "run $name done: $ops ops/s; $(awk -F'\t' '{printf "cores used by client %.2f, server %.2f, other processes %.2f", $2/$1, $3/$1, $4/$1}' <<<"$usage")"
}

# ---------------------------------------------------------------- Pequod
# start_pequod PARTITIONS: sets pequod_pid and pequod_port.
start_pequod() {
	local parts=$1 logf=$work/pequod-p$1.log
	log "starting pequod serve -partitions $parts on a free loopback port"
	"$pequod" serve -l=0 -bind 127.0.0.1 -partitions "$parts" 2>"$logf" &
	pequod_pid=$!
	server_pid=$pequod_pid
	server_pids+=("$pequod_pid")
	pequod_port=
	for _ in $(seq 1 100); do
		pequod_port=$(sed -n 's/^listening on port \([0-9]*\)$/\1/p' "$logf" | head -1)
		[[ -n $pequod_port ]] && break
		kill -0 "$pequod_pid" 2>/dev/null || { cat "$logf" >&2; die "pequod serve exited"; }
		sleep 0.1
	done
	[[ -n $pequod_port ]] || die "pequod serve did not start listening"
	log "pequod serve pid $pequod_pid listening on 127.0.0.1:$pequod_port ($parts partitions, $ncpu loops)"
}

stop_pequod() {
	local parts=$1 usage
	usage=$(proc_usage "$pequod_pid")
	log "stopping pequod serve pid $pequod_pid ($usage)"
	kill -TERM "$pequod_pid"
	local rc=0
	wait "$pequod_pid" || rc=$?
	{
		echo "pequod partitions=$parts $usage exit=$rc"
		grep -vE '^listening on port|INFO.*shutting down' "$work/pequod-p$parts.log" | head -20 | sed 's/^/    log: /' || true
	} >>"$raw/servers.txt"
	[[ $rc -eq 0 ]] || log "WARNING: pequod serve exited with status $rc"
}

part_list=(1)
[[ $ncpu -gt 1 ]] && part_list+=("$ncpu")
order=1
for parts in "${part_list[@]}"; do
	label="Pequod $parts partition$([[ $parts == 1 ]] || echo s)"
	start_pequod "$parts"
	run_kv "pequod-p$parts-get" "$label" "$order" "partitions=$parts" -- \
		-backend pequod -addr "127.0.0.1:$pequod_port" -ratio 1:0 -populate=true
	run_kv "pequod-p$parts-set" "$label" "$order" "partitions=$parts" -- \
		-backend pequod -addr "127.0.0.1:$pequod_port" -ratio 0:1 -populate=false
	stop_pequod "$parts"
	order=$((order + 1))
done

# ---------------------------------------------------------------- Redis
redis_port=$(free_port)
log "starting redis-server on 127.0.0.1:$redis_port (loadgen/scripts/redis.sh)"
REDIS_RUN_DIR=$work/redis "$root/loadgen/scripts/redis.sh" start "$redis_port"
redis_pid=$(<"$work/redis/$redis_port/redis.pid")
server_pid=$redis_pid
run_kv redis-get Redis 10 -- -backend redis -addr "127.0.0.1:$redis_port" -ratio 1:0 -populate=true
run_kv redis-set Redis 10 -- -backend redis -addr "127.0.0.1:$redis_port" -ratio 0:1 -populate=false

if [[ $refs == 1 ]]; then
	if command -v redis-benchmark >/dev/null; then
		log "reference: redis-benchmark -p $redis_port -P $depth -c $conns -t get,set -q -n $redis_bench_n -r $keys -d $value"
		redis-benchmark -h 127.0.0.1 -p "$redis_port" -P "$depth" -c "$conns" -t get,set -q \
			-n "$redis_bench_n" -r "$keys" -d "$value" 2>&1 | tr '\r' '\n' >"$work/redis-benchmark.out" || true
		# Final lines look like "SET: 612745.12 requests per second, p50=2.263 msec".
		sed -n 's/^\(GET\|SET\): \([0-9.]*\) requests per second\(, p50=\([0-9.]*\) msec\)\{0,1\}.*/\1\t\2\t\4/p' \
			"$work/redis-benchmark.out" >"$raw/redis-benchmark.tsv"
		if [[ -s $raw/redis-benchmark.tsv ]]; then
			sed 's/^/    /' "$raw/redis-benchmark.tsv" >&2
		else
			log "WARNING: could not parse redis-benchmark output:"
			tail -5 "$work/redis-benchmark.out" >&2
			rm -f "$raw/redis-benchmark.tsv"
		fi
	else
		log "redis-benchmark not installed: no reference line"
	fi
fi
echo "redis-server port=$redis_port $(proc_usage "$redis_pid")" >>"$raw/servers.txt"
log "stopping redis-server"
REDIS_RUN_DIR=$work/redis "$root/loadgen/scripts/redis.sh" stop "$redis_port"
redis_port=

# ---------------------------------------------------------------- report
log "writing results/kv.md, kv.dat, kv.gp"
go run ./loadgen/kvreport -dir "$results"
if ! command -v gnuplot >/dev/null && command -v apt-get >/dev/null && [[ $(id -u) -eq 0 ]]; then
	log "gnuplot not found; installing Debian's gnuplot-nox"
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gnuplot-nox; } >&2 ||
		log "could not install gnuplot"
fi
if command -v gnuplot >/dev/null && (cd "$results" && gnuplot kv.gp) 2>"$work/gnuplot.err" && [[ -s $results/kv.png ]]; then
	log "wrote results/kv.png with gnuplot"
else
	[[ -s $work/gnuplot.err ]] && sed 's/^/    gnuplot: /' "$work/gnuplot.err" >&2
	log "drawing results/kv.png with the built-in renderer (loadgen/kvreport -png)"
	go run ./loadgen/kvreport -dir "$results" -png
fi
{
	echo
	echo "Servers (CPU seconds over both runs, peak RSS, exit status; log lines other than start/stop):"
	echo
	echo '```'
	cat "$raw/servers.txt"
	echo '```'
} >>"$results/kv.md"
log "done: results/kv.md, results/kv.png, raw results in results/raw/"
cat "$results/kv.md"
