#!/usr/bin/env bash
# loadgen/scripts/postgres.sh start|stop|status PORT
#
# Runs a throw-away PostgreSQL server on 127.0.0.1:PORT for the twitternew
# (--dbshim, apps.md §3.4) and hn (--pg, §5.7) baselines: a fresh initdb
# cluster with trust authentication, durability off (fsync, synchronous_commit
# and full_page_writes off, bgwriter idle), its Unix socket in the run
# directory, and an empty database `pequod`. `start` returns once the server
# accepts connections; `stop` stops it (pg_ctl stop -m fast), waits, and
# deletes the cluster; `status` reports whether it runs (exit 1 if not).
#
# Binaries: PG_BIN_DIR, else initdb/postgres on PATH, else pg_config --bindir,
# else the newest /usr/lib/postgresql/*/bin (Debian) or /usr/pgsql-*/bin. When
# none is found, Debian's `postgresql` package is installed with apt-get (as
# root or through sudo -n), without letting it create its own cluster. Exit
# status 3 means PostgreSQL is missing and could not be installed.
#
# PostgreSQL refuses to run as root: when this script runs as root, the server
# runs as PG_OS_USER (default `postgres`, the system user Debian's package
# creates; created with useradd if missing). The database superuser is that OS
# user's name — `postgres` under root, otherwise the invoking user — which is
# what loadgen/shim/postgres connects as by default.
#
# Environment:
#   PG_RUN_DIR         run directory (default ${TMPDIR:-/tmp}/pequod-postgres);
#                      the cluster, socket and log live in PG_RUN_DIR/PORT
#   PG_DBNAME          database to create (default pequod)
#   PG_SHARED_BUFFERS  shared_buffers (default 256MB; the paper used 10GB)
#   PG_MAX_CONNECTIONS max_connections (default 200)
#   PG_MAX_WAL_SIZE    max_wal_size (default 2GB; few checkpoints)
#   PG_EXTRA_CONF      extra postgresql.conf lines, appended verbatim
#   PG_OS_USER         OS user running the server when invoked as root
#   PG_BIN_DIR         directory holding initdb, postgres and pg_ctl
#   PG_KEEP=1          `stop` keeps the cluster directory (for its log)
set -euo pipefail

usage() { echo "usage: $0 start|stop|status PORT" >&2; exit 2; }
[[ $# -eq 2 ]] || usage
cmd=$1 port=$2
[[ $port =~ ^[0-9]+$ ]] || usage

run_dir=${PG_RUN_DIR:-${TMPDIR:-/tmp}/pequod-postgres}
dir=$run_dir/$port
data=$dir/data
logfile=$dir/postgres.log
dbname=${PG_DBNAME:-pequod}
name=postgres.sh
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ $(id -u) -eq 0 ]]; then
	pg_user=${PG_OS_USER:-postgres}
	as_pg() { (cd "$dir" && runuser -u "$pg_user" -- "$@"); }
else
	pg_user=$(id -un)
	as_pg() { (cd "$dir" && "$@"); }
fi

find_bindir() { # prints the directory holding initdb, postgres and pg_ctl
	local d p candidates=()
	if [[ -n ${PG_BIN_DIR:-} ]]; then
		candidates=("$PG_BIN_DIR")
	else
		if p=$(command -v initdb 2>/dev/null); then
			candidates+=("$(dirname "$(readlink -f "$p")")")
		fi
		if p=$(command -v pg_config 2>/dev/null) && p=$(pg_config --bindir 2>/dev/null); then
			candidates+=("$p")
		fi
		# Newest version first.
		while IFS= read -r d; do
			candidates+=("$d")
		done < <(ls -d /usr/lib/postgresql/*/bin /usr/pgsql-*/bin 2>/dev/null | sort -V -r)
	fi
	for d in "${candidates[@]}"; do
		if [[ -x $d/initdb && -x $d/postgres && -x $d/pg_ctl ]]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}

# Before installing: keep postgresql-common from creating (and starting)
# its own `main` cluster on port 5432; we only want the binaries.
no_main_cluster() {
	local sudo=$1
	if [[ ! -e /etc/postgresql-common/createcluster.conf ]]; then
		$sudo mkdir -p /etc/postgresql-common &&
			echo "create_main_cluster = false" | $sudo tee /etc/postgresql-common/createcluster.conf >/dev/null
	fi
}
apt_before=no_main_cluster

# client BINARY: a client program from the server's bin dir, else from PATH.
client() {
	if [[ -n ${bindir:-} && -x $bindir/$1 ]]; then
		echo "$bindir/$1"
	else
		command -v "$1"
	fi
}

ready() { # ready: the server on 127.0.0.1:$port accepts connections
	local isready
	if isready=$(client pg_isready 2>/dev/null); then
		"$isready" -q -h 127.0.0.1 -p "$port" -t 2 >/dev/null 2>&1
	else
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
	fi
}

running_pid() { # prints the postmaster's pid when our cluster for $port runs
	[[ -f $data/postmaster.pid ]] || return 1
	local pid
	pid=$(head -n 1 "$data/postmaster.pid")
	[[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

conf_quote() { printf "'%s'" "${1//\'/\'\'}"; }

bindir=$(find_bindir) || bindir=

case $cmd in
start)
	if [[ -z $bindir ]]; then
		log "PostgreSQL server binaries (initdb, postgres, pg_ctl) not found; installing Debian's postgresql"
		if ! apt_install postgresql || ! bindir=$(find_bindir); then
			log "ERROR: PostgreSQL is not installed and could not be installed (need apt-get and root or sudo)."
			log "Install it by hand (apt-get install postgresql) or set PG_BIN_DIR to its bin directory."
			exit 3
		fi
	fi
	if pid=$(running_pid); then
		log "already running on port $port (pid $pid)"
		exit 0
	fi
	if ready; then
		log "ERROR: something else already answers on 127.0.0.1:$port"
		exit 1
	fi
	if [[ $(id -u) -eq 0 ]] && ! getent passwd "$pg_user" >/dev/null; then
		log "creating system user $pg_user to run the server (postgres refuses to run as root)"
		useradd --system --no-create-home --shell /usr/sbin/nologin "$pg_user"
	fi
	mkdir -p "$run_dir"
	rm -rf "$dir"
	mkdir -p "$dir"
	if [[ $(id -u) -eq 0 ]]; then
		# The server user must reach its directory through the run directory.
		if ! runuser -u "$pg_user" -- test -x "$run_dir"; then
			chmod o+x "$run_dir"
		fi
		chown "$pg_user:" "$dir"
		if ! runuser -u "$pg_user" -- test -w "$dir"; then
			log "ERROR: $pg_user cannot write $dir (a parent directory is not searchable); set PG_RUN_DIR"
			rm -rf "$dir"
			exit 1
		fi
	fi
	chmod 700 "$dir"
	if ! as_pg "$bindir/initdb" -D "$data" -A trust -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1; then
		log "ERROR: initdb failed:"
		tail -n 20 "$dir/initdb.log" >&2 || true
		exit 1
	fi
	cat >>"$data/postgresql.conf" <<EOF

# loadgen/scripts/postgres.sh: throw-away benchmark server, durability off.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = $(conf_quote "$dir")
max_connections = ${PG_MAX_CONNECTIONS:-200}
shared_buffers = $(conf_quote "${PG_SHARED_BUFFERS:-256MB}")
fsync = off
synchronous_commit = off
full_page_writes = off
bgwriter_lru_maxpages = 0
bgwriter_delay = 10000ms
max_wal_size = $(conf_quote "${PG_MAX_WAL_SIZE:-2GB}")
checkpoint_timeout = 30min
${PG_EXTRA_CONF:-}
EOF
	if ! as_pg "$bindir/pg_ctl" -D "$data" -l "$logfile" -w -t 60 start >/dev/null 2>&1; then
		log "ERROR: the server did not start; log:"
		tail -n 20 "$logfile" >&2 || true
		if pid=$(running_pid); then
			kill "$pid" 2>/dev/null || true
		fi
		exit 1
	fi
	for _ in $(seq 1 300); do
		ready && break
		sleep 0.1
	done
	if ! ready; then
		log "ERROR: the server does not accept connections on 127.0.0.1:$port within 30 s"
		as_pg "$bindir/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
		exit 1
	fi
	if ! psql=$(client psql); then
		log "ERROR: psql not found"
		exit 1
	fi
	"$psql" -h 127.0.0.1 -p "$port" -U "$pg_user" -d postgres -X -q -v ON_ERROR_STOP=1 \
		-c "CREATE DATABASE \"$dbname\"" >&2
	pid=$(running_pid || echo "?")
	version=$("$bindir/postgres" --version 2>/dev/null | grep -o '[0-9][0-9.]*' | head -n 1 || true)
	log "started PostgreSQL ${version:-?} on 127.0.0.1:$port (pid $pid, user $pg_user, database $dbname, dir $dir)"
	;;
stop)
	if ! pid=$(running_pid); then
		[[ ${PG_KEEP:-} == 1 ]] || rm -rf "$dir"
		log "not running on port $port"
		exit 0
	fi
	if [[ -z $bindir ]] || ! as_pg "$bindir/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null 2>&1; then
		log "pg_ctl stop failed; sending SIGQUIT to the postmaster (pid $pid)"
		kill -QUIT "$pid" 2>/dev/null || true
	fi
	for _ in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "postmaster (pid $pid) still running; sending SIGKILL"
		kill -9 "$pid" 2>/dev/null || true
	fi
	[[ ${PG_KEEP:-} == 1 ]] || rm -rf "$dir"
	log "stopped PostgreSQL on port $port (pid $pid)"
	;;
status)
	if pid=$(running_pid) && ready; then
		echo "running on 127.0.0.1:$port (pid $pid, user $pg_user, database $dbname, dir $dir)"
	else
		echo "not running on port $port"
		exit 1
	fi
	;;
*) usage ;;
esac
