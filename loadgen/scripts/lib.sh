# loadgen/scripts/lib.sh: what redis.sh, memcached.sh and postgres.sh share.
# Sourced, not run. The caller sets `name` (for messages), and for the
# pid-file helpers `pidfile`, `dir` and a `ping_ok` function that tells
# whether the server answers on $port.

log() { echo "$name: $*" >&2; }

apt_updated=
# apt_install PACKAGE...: install Debian packages (as root or through
# sudo -n), running apt-get update once. Fails without apt-get or rights.
apt_install() {
	if ! command -v apt-get >/dev/null; then
		return 1
	fi
	local sudo=
	if [[ $(id -u) -ne 0 ]]; then
		command -v sudo >/dev/null || return 1
		sudo="sudo -n"
	fi
	if [[ -n ${apt_before:-} ]]; then
		"$apt_before" "$sudo" || true
	fi
	if [[ -z $apt_updated ]]; then
		log "apt-get update"
		$sudo apt-get update -qq >&2 || return 1
		apt_updated=1
	fi
	log "apt-get install -y $*"
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@" >&2 || return 1
}

# require COMMAND PACKAGE...: install PACKAGE... when COMMAND is not on PATH;
# exit 3 (the scripts' "not installed and cannot install") when that fails.
require() {
	local cmd=$1; shift
	command -v "$cmd" >/dev/null && return 0
	log "$cmd not found; installing Debian's $*"
	if ! apt_install "$@" || ! command -v "$cmd" >/dev/null; then
		log "ERROR: $cmd is not installed and could not be installed (need apt-get and root or sudo)."
		log "Install it by hand (apt-get install $*) or put $cmd on PATH."
		exit 3
	fi
}

# running_pid: prints the pid recorded in $pidfile if that process lives.
running_pid() {
	[[ -f $pidfile ]] || return 1
	local pid
	pid=$(<"$pidfile")
	[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# await_start PID LOGFILE WHAT: wait up to 10 s for ping_ok; exit 0 with
# "started WHAT" when it answers, 1 (with the log's tail) when PID dies or
# time runs out.
await_start() {
	local pid=$1 logfile=$2 what=$3
	for _ in $(seq 1 100); do
		if ping_ok; then
			log "started $what on 127.0.0.1:$port (pid $pid)"
			exit 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			log "ERROR: $name exited at start; log:"
			tail -n 20 "$logfile" >&2 || true
			rm -f "$pidfile"
			exit 1
		fi
		sleep 0.1
	done
	log "ERROR: the server did not answer on port $port within 10 s"
	kill "$pid" 2>/dev/null || true
	rm -f "$pidfile"
	exit 1
}

# stop_recorded: stop the process recorded in $pidfile (SIGTERM, then
# SIGKILL after 5 s), remove $dir.
stop_recorded() {
	local pid
	if ! pid=$(running_pid); then
		rm -f "$pidfile"
		log "not running on port $port"
		return 0
	fi
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "pid $pid ignored SIGTERM; sending SIGKILL"
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -rf "$dir"
	log "stopped on port $port (pid $pid)"
}

# status_recorded: print whether the recorded server runs and answers.
status_recorded() {
	local pid
	if pid=$(running_pid) && ping_ok; then
		echo "running on 127.0.0.1:$port (pid $pid)"
	else
		echo "not running on port $port"
		return 1
	fi
}
