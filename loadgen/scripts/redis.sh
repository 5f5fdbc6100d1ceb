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
log() { echo "redis.sh: $*" >&2; }

apt_updated=
apt_install() { # apt_install PACKAGE...: install Debian packages, apt-get update once
	if ! command -v apt-get >/dev/null; then
		return 1
	fi
	local sudo=
	if [[ $(id -u) -ne 0 ]]; then
		command -v sudo >/dev/null || return 1
		sudo="sudo -n"
	fi
	if [[ -z $apt_updated ]]; then
		log "apt-get update"
		$sudo apt-get update -qq >&2 || return 1
		apt_updated=1
	fi
	log "apt-get install -y $*"
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >&2 || return 1
}

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

running_pid() {
	[[ -f $pidfile ]] || return 1
	local pid
	pid=$(<"$pidfile")
	[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

case $cmd in
start)
	if ! command -v redis-server >/dev/null; then
		log "redis-server not found; installing Debian's redis-server"
		if ! apt_install redis-server redis-tools || ! command -v redis-server >/dev/null; then
			log "ERROR: redis-server is not installed and could not be installed (need apt-get and root or sudo)."
			log "Install it by hand (apt-get install redis-server) or put redis-server on PATH."
			exit 3
		fi
	fi
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
	for _ in $(seq 1 100); do
		if ping_ok; then
			log "started redis-server $(redis-server --version | grep -o 'v=[^ ]*' || true) on 127.0.0.1:$port (pid $pid)"
			exit 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			log "ERROR: redis-server exited at start; log:"
			tail -n 20 "$dir/redis.log" >&2 || true
			rm -f "$pidfile"
			exit 1
		fi
		sleep 0.1
	done
	log "ERROR: redis-server did not answer PING on port $port within 10 s"
	kill "$pid" 2>/dev/null || true
	rm -f "$pidfile"
	exit 1
	;;
stop)
	if ! pid=$(running_pid); then
		rm -f "$pidfile"
		log "not running on port $port"
		exit 0
	fi
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "redis-server (pid $pid) ignored SIGTERM; sending SIGKILL"
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -rf "$dir"
	log "stopped redis-server on port $port (pid $pid)"
	;;
status)
	if pid=$(running_pid) && ping_ok; then
		echo "running on 127.0.0.1:$port (pid $pid)"
	else
		echo "not running on port $port"
		exit 1
	fi
	;;
*) usage ;;
esac
