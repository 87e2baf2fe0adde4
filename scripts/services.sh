#!/usr/bin/env bash
# services.sh — find or start the PostgreSQL and Redis that tenantgate needs.
#
# Sourced by scripts/test.sh and scripts/run.sh:
#
#   source scripts/services.sh
#   services_up            # exports DATABASE_URL, REDIS_URL, TEST_POSTGRES_URL, TEST_REDIS_URL
#   trap services_down EXIT   # stops only what services_up started
#
# or run directly:
#
#   scripts/services.sh up     # print `export …` lines; services stay up
#   scripts/services.sh down   # stop the private services under .run/ (pid files)
#   scripts/services.sh status
#
# Order of preference (SPEC §2): the servers named by DATABASE_URL / REDIS_URL
# (defaults: 127.0.0.1:5432 and 127.0.0.1:6379) when they answer; otherwise
# private ones under .run/ on PRIVATE_PG_PORT (55432) / PRIVATE_REDIS_PORT
# (56379), started from installed server binaries. Missing binaries are
# installed with apt-get when running as root; otherwise we say what to
# install and fail. PG_BINDIR (the directory of initdb and pg_ctl) and
# REDIS_SERVER (a redis-server binary) choose other installations.

# shellcheck disable=SC2016 # the bash -c probe scripts take their values as $1, $2

# Not `set -e` here: this file is sourced into callers that choose their own
# options. Every function returns non-zero on failure.

TG_ROOT="${TG_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
TG_RUN_DIR="${TG_RUN_DIR:-$TG_ROOT/.run}"
PRIVATE_PG_PORT="${PRIVATE_PG_PORT:-55432}"
PRIVATE_REDIS_PORT="${PRIVATE_REDIS_PORT:-56379}"

TG_DEFAULT_DATABASE_URL="postgres://postgres@127.0.0.1:5432/tenantgate?sslmode=disable"
TG_DEFAULT_REDIS_URL="redis://127.0.0.1:6379/0"

# Set by services_up when it started a private server; services_down stops
# exactly these and nothing else.
TG_STARTED_PG=""
TG_STARTED_REDIS=""

_svc_log() { printf 'services: %s\n' "$*" >&2; }

# redact_url hides the password of a URL (scheme://user:secret@host → scheme://user:xxxxx@host).
redact_url() { printf '%s' "$1" | sed -E 's#^([a-z][a-z0-9+.-]*://[^:/@]*):[^@/]*@#\1:xxxxx@#'; }

# _url_host URL DEFAULT_PORT → prints "host port" of a postgres:// or redis:// URL.
_url_host() {
	local rest=${1#*://} hostport host port
	rest=${rest%%/*}
	rest=${rest%%\?*}
	hostport=${rest##*@}
	if [[ $hostport == \[* ]]; then # [ipv6]:port
		host=${hostport%%]*}
		host=${host#[}
		port=${hostport##*]}
		port=${port#:}
	elif [[ $hostport == *:* ]]; then
		host=${hostport%:*}
		port=${hostport##*:}
	else
		host=$hostport
		port=""
	fi
	printf '%s %s\n' "${host:-127.0.0.1}" "${port:-$2}"
}

# _url_dbname URL → the database name in a postgres URL (default tenantgate).
_url_dbname() {
	local rest=${1#*://} db
	rest=${rest%%\?*}
	if [[ $rest == */* ]]; then db=${rest#*/}; else db=""; fi
	printf '%s\n' "${db:-tenantgate}"
}

# _url_query URL → the query string of a URL including "?" (or nothing).
_url_query() {
	if [[ $1 == *\?* ]]; then printf '?%s\n' "${1#*\?}"; fi
}

# _url_with_db URL NAME → URL with its database (path) replaced by NAME.
_url_with_db() {
	local scheme=${1%%://*} rest=${1#*://} authority
	authority=${rest%%[/?]*}
	printf '%s://%s/%s%s\n' "$scheme" "$authority" "$2" "$(_url_query "$1")"
}

# pg_answers URL: true when a PostgreSQL postmaster answers at the URL's
# address. Speaks the first message of the protocol (SSLRequest) over bash's
# /dev/tcp, so it needs no client tools: a server replies 'S' or 'N'.
pg_answers() {
	local host port
	read -r host port < <(_url_host "$1" 5432)
	timeout 3 bash -c '
		exec 3<>"/dev/tcp/$1/$2" || exit 1
		printf "\x00\x00\x00\x08\x04\xd2\x16\x2f" >&3
		IFS= read -r -n1 -t 2 -u 3 c || exit 1
		[[ $c == S || $c == N ]]' _ "$host" "$port" 2>/dev/null
}

# redis_answers URL: true when a Redis server answers PING at the URL's
# address (an -NOAUTH error also proves a Redis is there). For rediss:// (TLS)
# an open TCP port is all we can check without tools.
redis_answers() {
	local host port
	read -r host port < <(_url_host "$1" 6379)
	if [[ $1 == rediss://* ]]; then
		timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$host" "$port" 2>/dev/null
		return
	fi
	timeout 3 bash -c '
		exec 3<>"/dev/tcp/$1/$2" || exit 1
		printf "PING\r\n" >&3
		IFS= read -r -t 2 -u 3 line || exit 1
		[[ $line == +PONG* || $line == -NOAUTH* || $line == -ERR* ]]' _ "$host" "$port" 2>/dev/null
}

# _pg_bindir prints the directory holding initdb and pg_ctl (newest Debian
# cluster version first, then PATH).
_pg_bindir() {
	local d
	if [[ -n ${PG_BINDIR:-} ]]; then # an explicit choice: only there
		[[ -x $PG_BINDIR/initdb && -x $PG_BINDIR/pg_ctl ]] && printf '%s\n' "$PG_BINDIR"
		return
	fi
	# shellcheck disable=SC2012 # version directories are plain numbers
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [[ -x $d/initdb && -x $d/pg_ctl && -x $d/postgres ]]; then
			printf '%s\n' "$d"
			return 0
		fi
	done
	if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
		dirname "$(readlink -f "$(command -v pg_ctl)")"
		return 0
	fi
	return 1
}

# _install_packages PKG… installs Debian packages when running as root, or
# explains what to install and fails.
_install_packages() {
	if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
		_svc_log "missing server binaries; install the Debian packages: $* (sudo apt-get install -y $*)"
		_svc_log "or point DATABASE_URL / REDIS_URL at running servers"
		return 1
	fi
	_svc_log "installing $* with apt-get (running as root)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2 &&
		apt-get install -y -qq --no-install-recommends "$@" >&2 </dev/null
}

# _as_pg_user CMD… runs a PostgreSQL server command: as the "postgres" system
# user when we are root (PostgreSQL refuses to run as root), else as ourselves.
_as_pg_user() {
	if [[ $(id -u) -eq 0 ]]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# _pg_dir prints the private cluster's directory (.run/postgres), creating it
# with the right owner. When the repository is not reachable by the postgres
# user (e.g. under /root), the directory lives under /var/tmp and
# .run/postgres is a symlink to it.
_pg_dir() {
	local dir=$TG_RUN_DIR/postgres
	mkdir -p "$TG_RUN_DIR" || return 1
	if [[ $(id -u) -ne 0 ]]; then
		mkdir -p "$dir" && chmod 700 "$dir" && printf '%s\n' "$dir"
		return
	fi
	if ! id -u postgres >/dev/null 2>&1; then
		_svc_log "creating system user postgres (PostgreSQL refuses to run as root)"
		useradd --system --user-group --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin postgres || return 1
	fi
	if [[ ! -e $dir ]]; then
		chmod a+x "$TG_RUN_DIR"
		if ! runuser -u postgres -- test -x "$TG_RUN_DIR"; then
			local alt
			alt=/var/tmp/tenantgate-$(printf '%s' "$TG_ROOT" | cksum | cut -d' ' -f1)/postgres
			_svc_log "$TG_RUN_DIR is not reachable by user postgres; keeping the cluster in $alt"
			mkdir -p "$alt" && ln -s "$alt" "$dir" || return 1
		else
			mkdir -p "$dir" || return 1
		fi
	fi
	dir=$(readlink -f "$dir")
	chown postgres: "$dir" && chmod 700 "$dir" || return 1
	printf '%s\n' "$dir"
}

# start_private_pg starts (initialising on first use) a PostgreSQL under
# .run/postgres on PRIVATE_PG_PORT, trust auth on 127.0.0.1 only.
start_private_pg() {
	local bindir dir
	if ! bindir=$(_pg_bindir); then
		_install_packages postgresql || return 1
		bindir=$(_pg_bindir) || { _svc_log "PostgreSQL binaries still not found after install"; return 1; }
	fi
	dir=$(_pg_dir) || return 1
	if [[ ! -f $dir/data/PG_VERSION ]]; then
		_svc_log "initialising a private PostgreSQL cluster in $dir/data"
		rm -rf "$dir/data"
		_as_pg_user "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust \
			-E UTF8 --no-locale >"$TG_RUN_DIR/initdb.log" 2>&1 || {
			_svc_log "initdb failed; see $TG_RUN_DIR/initdb.log"
			return 1
		}
	fi
	_svc_log "starting a private PostgreSQL on 127.0.0.1:$PRIVATE_PG_PORT"
	# No Unix socket: its default directory may not exist without the
	# Debian package, and TCP on loopback is all we use.
	_as_pg_user "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start \
		-o "-p $PRIVATE_PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c max_connections=300" \
		>/dev/null || {
		_svc_log "PostgreSQL did not start; see $dir/postgres.log"
		return 1
	}
	TG_STARTED_PG="$bindir|$dir/data"
}

stop_private_pg() {
	local bindir=${1%%|*} data=${1#*|}
	[[ -f $data/postmaster.pid ]] || return 0
	_svc_log "stopping the private PostgreSQL ($data)"
	_as_pg_user "$bindir/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
}

# start_private_redis starts a Redis under .run/redis on PRIVATE_REDIS_PORT.
start_private_redis() {
	local bin dir
	if ! bin=$(command -v "${REDIS_SERVER:-redis-server}"); then
		_install_packages redis-server || return 1
		bin=$(command -v "${REDIS_SERVER:-redis-server}") || { _svc_log "redis-server still not found after install"; return 1; }
	fi
	dir=$TG_RUN_DIR/redis
	mkdir -p "$dir" && chmod 700 "$dir" || return 1
	_svc_log "starting a private Redis on 127.0.0.1:$PRIVATE_REDIS_PORT"
	"$bin" --port "$PRIVATE_REDIS_PORT" --bind 127.0.0.1 --daemonize yes \
		--pidfile "$dir/redis.pid" --dir "$dir" --logfile "$dir/redis.log" \
		--save '' --appendonly no || return 1
	local i
	for ((i = 0; i < 100; i++)); do
		redis_answers "redis://127.0.0.1:$PRIVATE_REDIS_PORT" && break
		sleep 0.1
	done
	redis_answers "redis://127.0.0.1:$PRIVATE_REDIS_PORT" || {
		_svc_log "Redis did not start; see $dir/redis.log"
		return 1
	}
	TG_STARTED_REDIS="$dir/redis.pid"
}

stop_private_redis() {
	local pidfile=$1 pid i
	[[ -f $pidfile ]] || return 0
	pid=$(<"$pidfile")
	[[ $pid =~ ^[0-9]+$ ]] || return 0
	# Only a redis-server may be killed through this pid file (pids are reused).
	if [[ $(cat "/proc/$pid/comm" 2>/dev/null) == redis-server* ]]; then
		_svc_log "stopping the private Redis (pid $pid)"
		kill "$pid" 2>/dev/null
		for ((i = 0; i < 100; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
	fi
	rm -f "$pidfile"
}

# services_up finds or starts PostgreSQL and Redis and exports the URLs the
# binaries and the tests read.
services_up() {
	local db_url=${DATABASE_URL:-$TG_DEFAULT_DATABASE_URL}
	local redis_url=${REDIS_URL:-$TG_DEFAULT_REDIS_URL}
	local private_pg
	private_pg="postgres://postgres@127.0.0.1:$PRIVATE_PG_PORT/$(_url_dbname "$db_url")?sslmode=disable"
	local private_redis="redis://127.0.0.1:$PRIVATE_REDIS_PORT/0"

	if pg_answers "$db_url"; then
		_svc_log "PostgreSQL: using $(redact_url "$db_url")"
	elif pg_answers "$private_pg"; then
		_svc_log "PostgreSQL: $(redact_url "$db_url") does not answer; using the private one already running on port $PRIVATE_PG_PORT"
		db_url=$private_pg
	else
		_svc_log "PostgreSQL: $(redact_url "$db_url") does not answer"
		start_private_pg || return 1
		db_url=$private_pg
		_svc_log "PostgreSQL: using private $db_url (data in $TG_RUN_DIR/postgres)"
	fi

	if redis_answers "$redis_url"; then
		_svc_log "Redis: using $(redact_url "$redis_url")"
	elif redis_answers "$private_redis"; then
		_svc_log "Redis: $(redact_url "$redis_url") does not answer; using the private one already running on port $PRIVATE_REDIS_PORT"
		redis_url=$private_redis
	else
		_svc_log "Redis: $(redact_url "$redis_url") does not answer"
		start_private_redis || { services_down; return 1; }
		redis_url=$private_redis
		_svc_log "Redis: using private $redis_url"
	fi

	export DATABASE_URL=$db_url
	export REDIS_URL=$redis_url
	# The tests' maintenance connection: same server, database "postgres".
	if [[ -z ${TEST_POSTGRES_URL:-} || $db_url == "$private_pg" ]]; then
		export TEST_POSTGRES_URL
		TEST_POSTGRES_URL=$(_url_with_db "$db_url" postgres)
	fi
	if [[ -z ${TEST_REDIS_URL:-} || $redis_url == "$private_redis" ]]; then
		export TEST_REDIS_URL=$redis_url
	fi
}

# services_down stops what services_up started in this shell, and only that.
# Idempotent.
services_down() {
	if [[ -n $TG_STARTED_REDIS ]]; then
		stop_private_redis "$TG_STARTED_REDIS"
		TG_STARTED_REDIS=""
	fi
	if [[ -n $TG_STARTED_PG ]]; then
		stop_private_pg "$TG_STARTED_PG"
		TG_STARTED_PG=""
	fi
}

# services_stop_private stops whatever private servers run under .run/ (by
# their pid files), whoever started them: `scripts/services.sh down`.
services_stop_private() {
	local bindir
	stop_private_redis "$TG_RUN_DIR/redis/redis.pid"
	if [[ -f $TG_RUN_DIR/postgres/data/postmaster.pid ]] && bindir=$(_pg_bindir); then
		stop_private_pg "$bindir|$(readlink -f "$TG_RUN_DIR/postgres")/data"
	fi
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	set -uo pipefail
	case ${1:-} in
	up)
		services_up || exit 1
		printf 'export DATABASE_URL=%q REDIS_URL=%q TEST_POSTGRES_URL=%q TEST_REDIS_URL=%q\n' \
			"$DATABASE_URL" "$REDIS_URL" "$TEST_POSTGRES_URL" "$TEST_REDIS_URL"
		;;
	down) services_stop_private ;;
	status)
		db=${DATABASE_URL:-$TG_DEFAULT_DATABASE_URL} rd=${REDIS_URL:-$TG_DEFAULT_REDIS_URL}
		pg_answers "$db" && echo "PostgreSQL $(redact_url "$db"): up" || echo "PostgreSQL $(redact_url "$db"): down"
		redis_answers "$rd" && echo "Redis $(redact_url "$rd"): up" || echo "Redis $(redact_url "$rd"): down"
		;;
	*)
		echo "usage: $0 up|down|status" >&2
		exit 2
		;;
	esac
fi
