#!/usr/bin/env bash
# loadgen/scripts/redis.sh start|stop|status PORT
#
# Runs a throw-away redis-server on 127.0.0.1:PORT for benchmarks: no
# persistence (--save "" --appendonly no), no protected mode, state in a
# temporary directory. Installs Debian's redis-server (apt-get) when it is
# not on PATH. `start` returns once PING answers; `stop` kills the server
# started by `start` for that port (by the pid it recorded) and waits for it.
#
# Environment: REDIS_RUN_DIR (default ${TMPDIR:-/tmp}/pequod-redis) holds the
# pid file, log and working directory per port.
set -euo pipefail

usage() { echo "usage: $0 start|stop|status PORT" >&2; exit 2; }
[[ $# -eq 2 ]] || usage
cmd=$1 port=$2
[[ $port =~ ^[0-9]+$ ]] || usage

run_dir=${REDIS_RUN_DIR:-${TMPDIR:-/tmp}/pequod-redis}
dir=$run_dir/$port
pidfile=$dir/redis.pid
name=redis.sh
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ping_ok() {
	if command -v redis-cli >/dev/null; then
		[[ $(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null) == PONG ]]
	else
		# bash's /dev/tcp: send an inline PING, expect +PONG.
		local reply
		reply=$(exec 3<>"/dev/tcp/127.0.0.1/$port" && printf 'PING\r\n' >&3 && timeout 1 head -c 5 <&3) 2>/dev/null || return 1
		[[ $reply == +PONG* ]]
	fi
}

case $cmd in
start)
	require redis-server redis-server redis-tools
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
	# Not --daemonize: we keep the pid of the process we started.
	redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
		--protected-mode no --dir "$dir" --logfile "$dir/redis.log" --daemonize no \
		</dev/null >/dev/null 2>&1 &
	pid=$!
	echo "$pid" >"$pidfile"
	await_start "$pid" "$dir/redis.log" "redis-server $(redis-server --version | grep -o 'v=[^ ]*' || true)"
	;;
stop) stop_recorded ;;
status) status_recorded ;;
*) usage ;;
esac
