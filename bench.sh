#!/usr/bin/env bash
# bench.sh [--quick] [--only SUITES] [--profile] [--keep-going]
#
# Pequod-Go against the systems it replaces, side by side in one run on this
# machine, every server a separate process on loopback started and stopped
# here (Debian's redis-server, memcached and PostgreSQL are installed with
# apt-get when missing, by loadgen/scripts/*.sh):
#
#   twitter-5k, twitter-50k   twitternew (apps.md §2) with 5,000 and 50,000
#       users, text keys (as the paper's compare experiment): Pequod with its
#       timeline cache join, embedded in the client process and over
#       loopback (also with two client processes, aggregated as
#       server.md §5.5); the same app maintaining timelines itself (fan-out
#       on write, --push) on Pequod, Redis and memcached; and PostgreSQL
#       fanning out with a trigger (--dbshim).
#   hn                        Hacker News (apps.md §5): Pequod karma joins
#       embedded and over loopback, Pequod with materialized article pages,
#       Redis and PostgreSQL (karma maintained by a trigger).
#   kv-get, kv-set            `pequod kv`, 50 connections x pipeline 32 of
#       get or set, on Pequod (1 partition and one per core), Redis and
#       memcached.
#
# Writes results/ (gitignored): raw/manifest.tsv (one line per run: suite,
# system, result file, wall and CPU seconds of client, server and everything
# else), raw/<suite>/*.json (each run's JSON), raw/logs/ (stderr of every
# process), then README.md (tables) and <suite>.png charts via
# loadgen/benchreport. Progress goes to stderr. All servers are stopped on
# exit, also on Ctrl-C.
#
#   ./bench.sh --quick          # under two minutes: twitter-5k without
#                               # PostgreSQL, no twitter-50k, short hn and kv
#   ./bench.sh                  # the full comparison (about 15 minutes)
#   ./bench.sh --only hn,kv     # some suites
#   ./bench.sh --profile        # also CPU-profile `pequod serve` during the
#                               # loopback twitter-5k and hn runs:
#                               # results/raw/profile-<suite>.pprof and a
#                               # top-30 listing beside it (.top.txt)
#
# Client and servers share the machine's cores; compare ratios, not absolute
# numbers, and read the "other processes" column before trusting a run.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
root=$PWD

quick=0
only=
profile=0
keep_going=1
args=("$@")
while [[ $# -gt 0 ]]; do
	case $1 in
	--quick) quick=1 ;;
	--only) only=$2; shift ;;
	--only=*) only=${1#*=} ;;
	--profile) profile=1 ;;
	--stop-on-failure) keep_going=0 ;;
	--keep-going) keep_going=1 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
	esac
	shift
done

# twitternew runs last 2 x SKEW ticks: a check reads up to now - SKEW
# (apps.md §2.2), so in shorter runs the checks during the run read nothing.
tw_duration=200000
if [[ $quick == 1 ]]; then
	hn_articles=5000 hn_ops=50000 kv_duration=2s
else
	hn_articles=20000 hn_ops=400000 kv_duration=5s
fi

log() { printf '%s bench: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
want() { [[ -z $only ]] || [[ ",$only," == *",$1,"* ]]; }

results=$root/results
raw=$results/raw
work=$(mktemp -d "${TMPDIR:-/tmp}/pequod-bench.XXXXXX")
chmod 755 "$work" # PostgreSQL runs as its own user when we are root
export REDIS_RUN_DIR=$work/redis MEMCACHED_RUN_DIR=$work/memcached PG_RUN_DIR=$work/postgres
# memcached keeps each timeline in one value (apps.md §3.3): allow big ones.
export MEMCACHED_ARGS="-I 128m" MEMCACHED_MEMORY_MB=8192
hz=$(getconf CLK_TCK)
started=()   # "kind port pid" of running servers, for cleanup
server_pid=  # the server process of the current run (CPU accounting)
partfunc=default # the Pequod servers' partition function (set per suite)

stop_server() { # stop_server KIND PORT PID
	local kind=$1 port=$2 pid=$3
	case $kind in
	pequod) kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true ;;
	redis) "$root/loadgen/scripts/redis.sh" stop "$port" >/dev/null 2>&1 || true ;;
	memcached) "$root/loadgen/scripts/memcached.sh" stop "$port" >/dev/null 2>&1 || true ;;
	postgres) "$root/loadgen/scripts/postgres.sh" stop "$port" >/dev/null 2>&1 || true ;;
	esac
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	for s in "${started[@]}"; do
		# shellcheck disable=SC2086
		set -- $s
		log "stopping $1 on port $2"
		stop_server "$1" "$2" "$3"
	done
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

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

# cpu_busy: jiffies the whole machine spent busy.
cpu_busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8; exit}' /proc/stat; }
# tree_ticks PID: CPU jiffies of PID, its reaped children and its live
# descendants (PostgreSQL runs a process per connection).
tree_ticks() {
	local pid=$1
	[[ -n $pid && -r /proc/$pid/stat ]] || { echo 0; return; }
	local total kids k
	total=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$pid/stat" 2>/dev/null || echo 0)
	kids=$(cat /proc/"$pid"/task/*/children 2>/dev/null || true)
	for k in $kids; do
		total=$((total + $(tree_ticks "$k")))
	done
	echo "$total"
}

# ------------------------------------------------------------------ servers
# start_server KIND [CPUPROFILE]: starts a fresh server on a free port;
# sets port and server_pid. A Pequod server is partitioned by $partfunc (the
# application's function, as the paper's servers get with -P) and writes a
# CPU profile of its whole life to CPUPROFILE when given.
start_server() {
	local kind=$1
	port=$(free_port)
	case $kind in
	pequod)
		local logf=$raw/logs/pequod-serve-$port.log
		local prof=()
		[[ -n ${2:-} ]] && prof=(-cpuprofile "$2")
		"$pequod" serve -l="$port" -bind 127.0.0.1 -partfunc "$partfunc" ${prof[@]+"${prof[@]}"} 2>"$logf" &
		server_pid=$!
		for _ in $(seq 1 100); do
			grep -q '^listening on port' "$logf" 2>/dev/null && break
			kill -0 "$server_pid" 2>/dev/null || { cat "$logf" >&2; die "pequod serve exited"; }
			sleep 0.05
		done
		;;
	redis)
		"$root/loadgen/scripts/redis.sh" start "$port" >&2
		server_pid=$(<"$REDIS_RUN_DIR/$port/redis.pid")
		;;
	memcached)
		"$root/loadgen/scripts/memcached.sh" start "$port" >&2
		server_pid=$(<"$MEMCACHED_RUN_DIR/$port/memcached.pid")
		;;
	postgres)
		"$root/loadgen/scripts/postgres.sh" start "$port" >&2
		server_pid=$(head -1 "$PG_RUN_DIR/$port/data/postmaster.pid" 2>/dev/null || head -1 "$PG_RUN_DIR/$port"/*/postmaster.pid)
		;;
	esac
	started+=("$kind $port $server_pid")
	log "$kind listening on 127.0.0.1:$port (pid $server_pid)"
}

stop_current() { # stop_current KIND
	local kind=$1 s keep=()
	stop_server "$kind" "$port" "$server_pid"
	for s in "${started[@]}"; do
		[[ $s == "$kind $port $server_pid" ]] || keep+=("$s")
	done
	started=(${keep[@]+"${keep[@]}"})
	server_pid=
}

# profile_path SUITE: where --profile puts the server's CPU profile of the
# suite's loopback run (nothing without --profile; only twitter-5k and hn).
profile_path() {
	[[ $profile == 1 && ($1 == twitter-5k || $1 == hn) ]] && echo "$raw/profile-$1.pprof"
	return 0
}

# profile_top SUITE: a readable listing of the profile beside it.
profile_top() {
	local p
	p=$(profile_path "$1")
	[[ -n $p && -s $p ]] || return 0
	go tool pprof -top -nodecount=30 "$pequod" "$p" >"${p%.pprof}.top.txt" 2>/dev/null &&
		log "CPU profile of pequod serve: results/raw/profile-$1.pprof (top: results/raw/profile-$1.top.txt)"
}

# ------------------------------------------------------------------ runs
# measure SUITE SYSTEM ORDER OUT -- CMD...: runs CMD with stdout to
# raw/OUT, stderr to raw/logs, and appends a manifest line with the wall
# time and the CPU seconds of the client, the server ($server_pid) and the
# rest of the machine.
measure() {
	local suite=$1 system=$2 order=$3 out=$4; shift 5
	local name=${out//\//_}
	log "[$suite] $system: ${*#$work/}"
	mkdir -p "$raw/$(dirname "$out")"
	local b0 s0 b1 s1 rc=0 TIMEFORMAT='%3U %3S %3R'
	b0=$(cpu_busy) s0=$(tree_ticks "$server_pid")
	{ time "$@" >"$raw/$out" 2>"$raw/logs/${name%.json}.log"; } 2>"$work/time" || rc=$?
	b1=$(cpu_busy) s1=$(tree_ticks "$server_pid")
	local usage file=$out
	usage=$(awk -v b="$((b1 - b0))" -v s="$((s1 - s0))" -v hz="$hz" '{
		c = $1 + $2; sv = s / hz; o = b / hz - c - sv; if (o < 0) o = 0
		printf "%.2f\t%.2f\t%.2f\t%.2f", $3, c, sv, o }' "$work/time")
	if [[ $rc -ne 0 ]]; then
		log "[$suite] $system FAILED (exit $rc); last lines of its log:"
		tail -5 "$raw/logs/${name%.json}.log" >&2 || true
		file=-
		[[ $keep_going == 1 ]] || die "stopping on failure"
	else
		log "[$suite] $system done in $(cut -f1 <<<"$usage") s"
	fi
	printf '%s\t%s\t%s\t%s\t%s\n' "$suite" "$system" "$order" "$file" "$usage" >>"$raw/manifest.tsv"
}

# twitter SUITE NUSERS DURATION SYSTEMS...: one twitternew comparison.
twitter() {
	local suite=$1 nusers=$2 duration=$3; shift 3
	local common=(twitternew --nusers="$nusers" --duration="$duration" --no-binary --verbose)
	# Text keys: the servers partition by twitternew-text (apps.md §2.4), so a
	# user's s| and t| keys share a partition and a check never overtakes
	# that user's own subscribe.
	partfunc=twitternew-text
	local sys order=0
	for sys in "$@"; do
		order=$((order + 1))
		case $sys in
		pequod-embedded)
			server_pid=
			measure "$suite" "Pequod (embedded)" "$order" "$suite/pequod-embedded.json" -- "$pequod" "${common[@]}"
			;;
		pequod-loopback)
			start_server pequod "$(profile_path "$suite")"
			measure "$suite" "Pequod (loopback)" "$order" "$suite/pequod-loopback.json" -- "$pequod" "${common[@]}" -c "127.0.0.1:$port"
			stop_current pequod
			profile_top "$suite"
			;;
		pequod-2clients)
			start_server pequod
			mkdir -p "$raw/$suite/pequod-2clients"
			local mport
			mport=$(free_port)
			# Group 0 populates and runs; both groups install nothing twice:
			# joins are installed by group 0 (--initialize), group 1 skips it.
			measure "$suite" "Pequod (loopback, 2 clients)" "$order" "$suite/pequod-2clients/run.log" -- \
				bash -c '"$1" "${@:5}" -c "127.0.0.1:$2" --ngroups=2 --groupid=1 --no-initialize --master-port="$3" >"$4/output_app_1.json" &
					g1=$!
					"$1" "${@:5}" -c "127.0.0.1:$2" --ngroups=2 --groupid=0 --master-port="$3" >"$4/output_app_0.json"; rc=$?
					wait $g1 || rc=$?
					[ $rc -eq 0 ] && "$1" aggregate "$4" && echo ok' \
				_ "$pequod" "$port" "$mport" "$raw/$suite/pequod-2clients" "${common[@]}"
			# The manifest should point at the aggregate, not the log.
			sed -i "s#\t$suite/pequod-2clients/run.log\t#\t$suite/pequod-2clients/aggregate_output_app.json\t#" "$raw/manifest.tsv"
			stop_current pequod
			;;
		pequod-push)
			start_server pequod
			measure "$suite" "Pequod, client push" "$order" "$suite/pequod-push.json" -- "$pequod" "${common[@]}" --push -c "127.0.0.1:$port"
			stop_current pequod
			;;
		redis)
			start_server redis
			measure "$suite" "Redis, client push" "$order" "$suite/redis.json" -- "$pequod" "${common[@]}" --push --redis --redis-addr="127.0.0.1:$port"
			stop_current redis
			;;
		memcached)
			start_server memcached
			measure "$suite" "memcached, client push" "$order" "$suite/memcached.json" -- "$pequod" "${common[@]}" --push --memcached --memcached-addr="127.0.0.1:$port"
			stop_current memcached
			;;
		postgres)
			start_server postgres
			measure "$suite" "PostgreSQL, trigger" "$order" "$suite/postgres.json" -- "$pequod" "${common[@]}" --dbshim --dbport="$port" --dbpool-max=2 --dbpool-depth=100
			stop_current postgres
			;;
		esac
	done
}

hn() {
	local suite=hn
	partfunc=hackernews
	local common=(hn --hnusers=$((hn_articles / 10)) --narticles="$hn_articles" --nops="$hn_ops" --vote_rate=10 --comment_rate=5)
	local sys order=0
	for sys in "$@"; do
		order=$((order + 1))
		case $sys in
		pequod-embedded)
			server_pid=
			measure $suite "Pequod (embedded)" "$order" "$suite/pequod-embedded.json" -- "$pequod" "${common[@]}"
			;;
		pequod-loopback)
			start_server pequod "$(profile_path "$suite")"
			measure $suite "Pequod (loopback)" "$order" "$suite/pequod-loopback.json" -- "$pequod" "${common[@]}" -c "127.0.0.1:$port"
			stop_current pequod
			profile_top "$suite"
			;;
		pequod-pages)
			start_server pequod
			measure $suite "Pequod, materialized pages" "$order" "$suite/pequod-pages.json" -- "$pequod" "${common[@]}" --super_materialize -c "127.0.0.1:$port"
			stop_current pequod
			;;
		redis)
			start_server redis
			measure $suite "Redis" "$order" "$suite/redis.json" -- "$pequod" "${common[@]}" --redis --redis-addr="127.0.0.1:$port"
			stop_current redis
			;;
		postgres)
			start_server postgres
			measure $suite "PostgreSQL, trigger" "$order" "$suite/postgres.json" -- "$pequod" "${common[@]}" --pg --dbport="$port" --dbpool-max=2 --dbpool-depth=100
			stop_current postgres
			;;
		esac
	done
}

kv() {
	local load=(-conns 50 -depth 32 -keys 100000 -value 32 -duration "$kv_duration")
	local order=0 sys
	for sys in pequod-1 "pequod-$(nproc)" redis memcached; do
		order=$((order + 1))
		local backend=${sys%%-*} label extra=()
		case $sys in
		pequod-*)
			label="Pequod ${sys#pequod-} partition$([[ ${sys#pequod-} == 1 ]] || echo s)"
			port=$(free_port)
			local logf=$raw/logs/pequod-serve-kv-$port.log
			"$pequod" serve -l="$port" -bind 127.0.0.1 -partitions "${sys#pequod-}" 2>"$logf" &
			server_pid=$!
			started+=("pequod $port $server_pid")
			for _ in $(seq 1 100); do grep -q '^listening on port' "$logf" 2>/dev/null && break; sleep 0.05; done
			;;
		redis) label=Redis; start_server redis ;;
		memcached) label=memcached; start_server memcached ;;
		esac
		measure kv-get "$label" "$order" "kv/$sys-get.json" -- "$pequod" kv -backend "$backend" -addr "127.0.0.1:$port" "${load[@]}" -ratio 1:0 -populate=true -extra "label=$label"
		measure kv-set "$label" "$order" "kv/$sys-set.json" -- "$pequod" kv -backend "$backend" -addr "127.0.0.1:$port" "${load[@]}" -ratio 0:1 -populate=false -extra "label=$label"
		stop_current "$backend"
	done
}

# ------------------------------------------------------------------ main
command -v go >/dev/null || die "go is not on PATH"
log "building pequod (go build ./cmd/pequod)"
go build -o "$work/pequod" ./cmd/pequod
pequod=$work/pequod
rm -rf "$raw" "$results"/*.png "$results"/*.dat "$results"/*.gp "$results/README.md"
mkdir -p "$raw/logs"
{
	echo "# command: ./bench.sh ${args[*]}"
	echo "# note: $(nproc) cores shared by client and servers; compare ratios. twitter suites use text keys (apps.md §7.2 compare); PostgreSQL does not backfill timelines on subscribe (apps.md §3.4), so it may read fewer posts."
	echo "# note: twitternew runs $tw_duration ticks (2 x SKEW, so checks during the run read posts), fan-out-on-write baselines with --push."
	[[ $quick == 1 ]] && echo "# note: --quick: twitter-5k without PostgreSQL (about a minute alone), no twitter-50k, hn with $hn_articles articles and $hn_ops ops, kv $kv_duration per run. The full ./bench.sh runs everything."
} >"$raw/manifest.tsv"
t0=$SECONDS

if want twitter-5k; then
	if [[ $quick == 1 ]]; then
		twitter twitter-5k 5000 "$tw_duration" pequod-embedded pequod-loopback pequod-2clients pequod-push redis memcached
	else
		twitter twitter-5k 5000 "$tw_duration" pequod-embedded pequod-loopback pequod-2clients pequod-push redis memcached postgres
	fi
fi
if want twitter-50k && [[ $quick == 0 ]]; then
	twitter twitter-50k 50000 "$tw_duration" pequod-embedded pequod-loopback pequod-push redis memcached postgres
fi
if want hn; then
	hn pequod-embedded pequod-loopback pequod-pages redis postgres
fi
if want kv; then
	kv
fi

log "all runs done in $((SECONDS - t0)) s; writing results/README.md and charts"
go run ./loadgen/benchreport -dir "$results"
log "done: results/README.md, results/*.png, raw results in results/raw/"
