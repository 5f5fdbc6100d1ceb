#!/usr/bin/env bash
# loadgen/scripts/memcached.sh start|stop|status PORT
#
# Runs a throw-away memcached on 127.0.0.1:PORT for benchmarks, started as
# the harness does (apps.md §3.3): single-threaded (-t 1), no eviction (-M),
# MEMCACHED_MEMORY_MB megabytes of item memory (-m, default 1024). Installs
# Debian's memcached (apt-get, as root or through sudo -n) when it is not on
# PATH. `start` returns once the port answers "version"; `stop` kills the
# server started by `start` for that port (by the pid it recorded) and waits
# for it. As root, memcached is run with -u root (it refuses root otherwise).
#
# Environment:
#   MEMCACHED_RUN_DIR    pid file and log per port
#                        (default ${TMPDIR:-/tmp}/pequod-memcached)
#   MEMCACHED_MEMORY_MB  item memory in MB (default 1024)
#   MEMCACHED_ARGS       extra arguments, e.g. "-I 4m" for larger items
#                        (the client's MaxValueSize must match)
set -euo pipefail

usage() { echo "usage: $0 start|stop|status PORT" >&2; exit 2; }
[[ $# -eq 2 ]] || usage
cmd=$1 port=$2
[[ $port =~ ^[0-9]+$ ]] || usage

run_dir=${MEMCACHED_RUN_DIR:-${TMPDIR:-/tmp}/pequod-memcached}
dir=$run_dir/$port
pidfile=$dir/memcached.pid
memory=${MEMCACHED_MEMORY_MB:-1024}
name=memcached.sh
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ping_ok: send "version\r\n" over bash's /dev/tcp, expect "VERSION ...".
ping_ok() {
	local reply
	reply=$(exec 2>/dev/null; exec 3<>"/dev/tcp/127.0.0.1/$port" && printf 'version\r\n' >&3 && timeout 1 head -c 8 <&3) 2>/dev/null || return 1
	[[ $reply == VERSION* ]]
}

[[ $memory =~ ^[0-9]+$ ]] || { log "MEMCACHED_MEMORY_MB must be a number"; exit 2; }

case $cmd in
start)
	require memcached memcached
	if pid=$(running_pid); then
		log "already running on port $port (pid $pid)"
		exit 0
	fi
	if ping_ok; then
		log "ERROR: something else already answers on 127.0.0.1:$port"
		exit 1
	fi
	mkdir -p "$dir"
	rm -f "$pidfile"
	user_args=()
	# memcached refuses to run as root without -u.
	if [[ $(id -u) -eq 0 ]]; then
		user_args=(-u root)
	fi
	# shellcheck disable=SC2086 # MEMCACHED_ARGS is split on purpose.
	memcached -t 1 -l 127.0.0.1 -p "$port" -m "$memory" -M "${user_args[@]}" ${MEMCACHED_ARGS:-} \
		</dev/null >"$dir/memcached.log" 2>&1 &
	pid=$!
	echo "$pid" >"$pidfile"
	await_start "$pid" "$dir/memcached.log" "$(memcached -V 2>/dev/null || echo memcached) (${memory} MB)"
	;;
stop) stop_recorded ;;
status) status_recorded ;;
*) usage ;;
esac
