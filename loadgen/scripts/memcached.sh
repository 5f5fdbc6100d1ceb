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
[[ $memory =~ ^[0-9]+$ ]] || { echo "memcached.sh: MEMCACHED_MEMORY_MB must be a number" >&2; exit 2; }
log() { echo "memcached.sh: $*" >&2; }

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

# ping_ok: send "version\r\n" over bash's /dev/tcp, expect "VERSION ...".
ping_ok() {
	local reply
	reply=$(exec 2>/dev/null; exec 3<>"/dev/tcp/127.0.0.1/$port" && printf 'version\r\n' >&3 && timeout 1 head -c 8 <&3) 2>/dev/null || return 1
	[[ $reply == VERSION* ]]
}

running_pid() {
	[[ -f $pidfile ]] || return 1
	local pid
	pid=$(<"$pidfile")
	[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

case $cmd in
start)
	if ! command -v memcached >/dev/null; then
		log "memcached not found; installing Debian's memcached"
		if ! apt_install memcached || ! command -v memcached >/dev/null; then
			log "ERROR: memcached is not installed and could not be installed (need apt-get and root or sudo)."
			log "Install it by hand (apt-get install memcached) or put memcached on PATH."
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
	for _ in $(seq 1 100); do
		if ping_ok; then
			log "started $(memcached -V 2>/dev/null || echo memcached) on 127.0.0.1:$port (pid $pid, ${memory} MB)"
			exit 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			log "ERROR: memcached exited at start; log:"
			tail -n 20 "$dir/memcached.log" >&2 || true
			rm -f "$pidfile"
			exit 1
		fi
		sleep 0.1
	done
	log "ERROR: memcached did not answer on port $port within 10 s"
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
		log "memcached (pid $pid) ignored SIGTERM; sending SIGKILL"
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -rf "$dir"
	log "stopped memcached on port $port (pid $pid)"
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
