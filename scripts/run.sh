#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2317 # bash -c scripts take $1…; functions run from traps
# shellcheck source-path=SCRIPTDIR/..
# run.sh — `make run`: the whole stack on this machine, with demo tenants.
#
# Builds the binaries, finds or starts PostgreSQL and Redis (scripts/services.sh),
# generates secrets once into .run/env, creates the demo tenants acme
# (locations Downtown and Airport) and globex, starts two appservers and caddy,
# seeds sample data through caddy, prints where everything is, and waits.
# Ctrl-C (or SIGTERM) stops everything it started and nothing else.
#
# EDGES=N (make run EDGES=2) starts N caddy edges on adjacent ports (HTTP_PORT,
# HTTP_PORT+1, …; likewise HTTPS_PORT and CADDY_ADMIN's port) that share
# certificates, the local CA and locks through PostgreSQL (CERT_STORAGE=postgres,
# caddy.storage.postgres, values encrypted by CERT_STORAGE_KEY).
#
# Every port can be moved with the environment: HTTP_PORT, HTTPS_PORT,
# APP_PORTS ("8000 8001"), ADMIN_PORTS ("9000 9001"), APP_UPSTREAMS,
# ADMIN_UPSTREAMS, CADDY_ADMIN (caddy's admin endpoint, localhost:2019),
# PRIVATE_PG_PORT, PRIVATE_REDIS_PORT. TG_RUN_DIR moves .run/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

source scripts/services.sh

say() { printf 'make run: %s\n' "$*" >&2; }
die() {
	say "$*"
	exit 1
}

export BASE_DOMAIN=${BASE_DOMAIN:-localhost}
export HTTP_PORT=${HTTP_PORT:-8080}
export HTTPS_PORT=${HTTPS_PORT:-8443}
APP_PORTS=${APP_PORTS:-8000 8001}
ADMIN_PORTS=${ADMIN_PORTS:-9000 9001}
read -r -a app_ports <<<"$APP_PORTS"
read -r -a admin_ports <<<"$ADMIN_PORTS"
((${#app_ports[@]} == ${#admin_ports[@]})) ||
	die "APP_PORTS ($APP_PORTS) and ADMIN_PORTS ($ADMIN_PORTS) must name as many ports"
if [[ -z ${APP_UPSTREAMS:-} ]]; then
	APP_UPSTREAMS=$(printf '127.0.0.1:%s ' "${app_ports[@]}")
	APP_UPSTREAMS=${APP_UPSTREAMS% }
fi
if [[ -z ${ADMIN_UPSTREAMS:-} ]]; then
	ADMIN_UPSTREAMS=$(printf '127.0.0.1:%s ' "${admin_ports[@]}")
	ADMIN_UPSTREAMS=${ADMIN_UPSTREAMS% }
fi
export APP_UPSTREAMS ADMIN_UPSTREAMS
# Connection budget (SPEC §12): every appserver holds at most
# TENANT_CONNS_MAX tenant connections; two at 25, with their control-plane
# pools, caddy and tenantctl, fit PostgreSQL's default max_connections of
# 100. Each appserver checks at start, knowing how many there are.
export TENANT_CONNS_MAX=${TENANT_CONNS_MAX:-25}
export APPSERVERS=${APPSERVERS:-${#app_ports[@]}}
# Caddy's admin endpoint; moved when two stacks run side by side (the tests).
export CADDY_ADMIN=${CADDY_ADMIN:-localhost:2019}
EDGES=${EDGES:-1}
[[ $EDGES =~ ^[1-9][0-9]*$ ]] || die "EDGES=$EDGES: want a number of edges, 1 or more"
if ((EDGES > 1)); then
	# Several edges must share certificates and the local CA: PostgreSQL storage.
	export CERT_STORAGE=postgres
fi
# edge_port BASE I: the port of edge I (0-based), adjacent to BASE.
edge_port() { echo $(($1 + $2)); }
edge_admin() { echo "${CADDY_ADMIN%:*}:$(edge_port "${CADDY_ADMIN##*:}" "$1")"; }

DEMO_TENANTS=(acme globex)
# Where the admin API writes tenant backups (POST /api/tenants/{sub}/backups).
export BACKUP_DIR=${BACKUP_DIR:-$TG_RUN_DIR/backups}
LOG_DIR=$TG_RUN_DIR/logs
ENV_FILE=$TG_RUN_DIR/env

# --- processes we start, stopped on exit ---------------------------------------
pids=()
declare -A proc_name=()
declare -A proc_log=()

stop_all() {
	local pid i alive
	trap - INT TERM
	rm -f "$TG_RUN_DIR/run.state"
	if ((${#pids[@]})); then
		say "stopping ${#pids[@]} processes"
		for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
		# Graceful shutdown first; whatever is left after 15 s is killed.
		for ((i = 0; i < 150; i++)); do
			alive=0
			for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
			((alive)) || break
			sleep 0.1
		done
		for pid in "${pids[@]}"; do
			if kill -0 "$pid" 2>/dev/null; then
				say "${proc_name[$pid]} (pid $pid) did not stop in time; killing it"
				kill -KILL "$pid" 2>/dev/null || true
			fi
		done
		wait 2>/dev/null || true
		pids=()
	fi
	services_down
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start NAME CMD… runs CMD in the background, its output in .run/logs/NAME.log.
start() {
	local name=$1 log=$LOG_DIR/$1.log
	shift
	: >"$log"
	"$@" >>"$log" 2>&1 &
	pids+=("$!")
	proc_name[$!]=$name
	proc_log[$!]=$log
}

# port_busy PORT: true when something already listens on 127.0.0.1:PORT.
port_busy() { timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null; }

# http_ok PORT HOST PATH: true when GET http://HOST PATH on 127.0.0.1:PORT answers 2xx.
http_ok() {
	timeout 3 bash -c '
		exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		printf "GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n" "$3" "$2" >&3
		IFS= read -r -t 2 -u 3 status || exit 1
		[[ $status =~ ^HTTP/[0-9.]+\ 2 ]]' _ "$@" 2>/dev/null
}

# wait_for WHAT PID SECONDS CMD…: polls CMD until it succeeds; fails when PID
# died or time ran out, showing the end of its log.
wait_for() {
	local what=$1 pid=$2 secs=$3 i
	shift 3
	for ((i = 0; i < secs * 5; i++)); do
		"$@" && return 0
		if ! kill -0 "$pid" 2>/dev/null; then
			say "$what exited; the end of ${proc_log[$pid]}:"
			tail -n 30 "${proc_log[$pid]}" >&2
			return 1
		fi
		sleep 0.2
	done
	say "$what did not become ready within ${secs}s; the end of ${proc_log[$pid]}:"
	tail -n 30 "${proc_log[$pid]}" >&2
	return 1
}

# --- build, ports, services ----------------------------------------------------
say "building"
make --no-print-directory build >&2
mkdir -p "$TG_RUN_DIR/bin"
"${GO:-go}" build -o "$TG_RUN_DIR/bin/demoseed" ./scripts/demoseed
for b in caddy appserver tenantctl; do
	[[ -x bin/$b ]] || die "bin/$b was not built (cmd/$b is missing?)"
done

edge_ports=()
for ((e = 0; e < EDGES; e++)); do
	edge_ports+=("$(edge_port "$HTTP_PORT" "$e")" "$(edge_port "$HTTPS_PORT" "$e")")
done
for p in "${edge_ports[@]}" "${app_ports[@]}" "${admin_ports[@]}"; do
	port_busy "$p" && die "port $p is already in use (another make run?); move it with HTTP_PORT, HTTPS_PORT, APP_PORTS or ADMIN_PORTS"
done

services_up

mkdir -p "$TG_RUN_DIR" "$LOG_DIR" "$BACKUP_DIR"
rm -f "$TG_RUN_DIR/run.state"

# --- secrets: generated once into .run/env; the environment wins ----------------
random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
generated_value() {
	case $1 in
	ADMIN_TOKENS) printf 'tga_%s' "$(random_hex 24)" ;;
	TENANT_SIGNING_KEYS) printf 'dev1:%s' "$(head -c 32 /dev/urandom | base64 -w0)" ;;
	DEMO_PASSWORD) printf 'demo-%s' "$(random_hex 8)" ;;
	CERT_STORAGE_KEY) head -c 32 /dev/urandom | base64 -w0 ;;
	esac
}
(
	umask 077
	[[ -f $ENV_FILE ]] || printf '# Generated by make run; values set in the environment win.\n' >"$ENV_FILE"
	for k in ADMIN_TOKENS TENANT_SIGNING_KEYS DEMO_PASSWORD CERT_STORAGE_KEY; do
		grep -q "^$k=" "$ENV_FILE" || printf '%s=%s\n' "$k" "$(generated_value "$k")" >>"$ENV_FILE"
	done
)
chmod 600 "$ENV_FILE"
declare -A secret_source=()
while IFS='=' read -r k v; do
	[[ $k =~ ^[A-Z][A-Z0-9_]*$ ]] || continue
	if [[ -n ${!k:-} ]]; then
		secret_source[$k]="environment"
	else
		export "$k=$v"
		secret_source[$k]=$ENV_FILE
	fi
done <"$ENV_FILE"

# --- control plane and demo tenants (tenantctl applies control migrations) ------
tenants_json=$(bin/tenantctl list --json) || die "tenantctl list failed (is $(redact_url "$DATABASE_URL") usable?)"
has_tenant() { grep -Eq "\"subdomain\": ?\"$1\"" <<<"$tenants_json"; }

create_tenant() { # sub name multi
	local sub=$1 name=$2 flags=()
	[[ $3 == yes ]] && flags+=(--multi-location)
	if has_tenant "$sub"; then
		say "tenant $sub exists; reusing it"
		return
	fi
	say "creating tenant $sub"
	bin/tenantctl create "$name" "$sub" "admin@$sub.example" "${flags[@]}" \
		--admin-password-env DEMO_PASSWORD >&2 || die "creating demo tenant $sub failed"
}
create_tenant acme "Acme Corp" yes
create_tenant globex "Globex Corporation" no

add_location() { # sub name code address
	if bin/tenantctl locations list "$1" 2>/dev/null | grep -qw -- "$3"; then
		return
	fi
	say "adding location $2 ($3) to $1"
	bin/tenantctl locations add "$1" --name "$2" --code "$3" --address "$4" >&2 ||
		say "warning: adding location $3 to $1 failed"
}
add_location acme Downtown DT "12 Main Street"
add_location acme Airport AP "Terminal 2"

# --- appservers and caddy -------------------------------------------------------
for i in "${!app_ports[@]}"; do
	APP_ADDR=127.0.0.1:${app_ports[$i]} ADMIN_ADDR=127.0.0.1:${admin_ports[$i]} \
		start "appserver-${app_ports[$i]}" bin/appserver
done
for pid in "${pids[@]}"; do
	port=${proc_name[$pid]#appserver-}
	wait_for "${proc_name[$pid]}" "$pid" 60 http_ok "$port" "127.0.0.1:$port" /healthz ||
		die "appserver did not start"
done

# GOGC=400 for caddy: 10–15 % less CPU per proxied request and 0.50× → 0.57×
# nginx's throughput (bench/edge-vs-nginx.sh), with peak RSS 104–151 MB at
# 3× overload (bench/overload); CADDY_GOGC overrides it.
caddy_env=(env "GOGC=${CADDY_GOGC:-400}")
if ((EDGES == 1)); then
	start caddy "${caddy_env[@]}" bin/caddy run --config Caddyfile --adapter caddyfile
	wait_for caddy "${pids[-1]}" 60 port_busy "$HTTP_PORT" || die "caddy did not start"
else
	# One Caddyfile, one storage; each edge its own ports, admin endpoint and
	# Caddy config directory (autosave.json).
	for ((e = 0; e < EDGES; e++)); do
		HTTP_PORT=$(edge_port "$HTTP_PORT" "$e") HTTPS_PORT=$(edge_port "$HTTPS_PORT" "$e") \
			CADDY_ADMIN=$(edge_admin "$e") XDG_CONFIG_HOME=$TG_RUN_DIR/edge$((e + 1))/config \
			XDG_DATA_HOME=$TG_RUN_DIR/edge$((e + 1))/data \
			start "caddy-$((e + 1))" "${caddy_env[@]}" bin/caddy run --config Caddyfile --adapter caddyfile
		wait_for "caddy-$((e + 1))" "${pids[-1]}" 60 port_busy "$(edge_port "$HTTP_PORT" "$e")" ||
			die "caddy edge $((e + 1)) did not start"
	done
fi

# --- sample data, through caddy as a browser would -------------------------------
seed_note=""
say "seeding demo data through http://<tenant>.$BASE_DOMAIN:$HTTP_PORT"
if ! "$TG_RUN_DIR/bin/demoseed" -edge "http://127.0.0.1:$HTTP_PORT" -base-domain "$BASE_DOMAIN" \
	-password-env DEMO_PASSWORD "${DEMO_TENANTS[@]}" >&2; then
	say "warning: seeding demo data failed (see above); the stack keeps running"
	seed_note="   (seeding failed: see above)"
fi

# Everything tenantctl (or a second caddy/appserver) needs to reach this
# stack, for the operator's shell: `. .run/stack.env` exports it. The Redis
# key prefix is written even when it is the default, so a shell that has
# another one set cannot publish into another deployment's namespace.
STACK_ENV=$TG_RUN_DIR/stack.env
(
	umask 077
	REDIS_KEY_PREFIX=${REDIS_KEY_PREFIX:-tenantgate:}
	for k in DATABASE_URL REDIS_URL REDIS_KEY_PREFIX BASE_DOMAIN ADMIN_TOKENS TENANT_SIGNING_KEYS CACHE_KEY BACKUP_KEY \
		BACKUP_DIR TENANT_DB_PREFIX TENANT_DATABASE_TEMPLATE TENANT_DATABASE_HOSTS RESERVED_SUBDOMAINS \
		HTTP_PORT HTTPS_PORT CADDY_ADMIN $(compgen -v | grep -E '^TENANT_[A-Z0-9_]+_DATABASE_URL$' || true); do
		if [[ -n ${!k:-} ]]; then printf 'export %s=%q\n' "$k" "${!k}"; fi
	done >"$STACK_ENV"
)

# --- tell the newcomer where everything is --------------------------------------
ca_root=${XDG_DATA_HOME:-$HOME/.local/share}/caddy/pki/authorities/local/root.crt
https_suffix=""
[[ $HTTPS_PORT == 443 ]] || https_suffix=":$HTTPS_PORT"
http_suffix=""
[[ $HTTP_PORT == 80 ]] || http_suffix=":$HTTP_PORT"
{
	echo
	echo "tenantgate is running. Ctrl-C stops it."
	echo
	for sub in "${DEMO_TENANTS[@]}"; do
		printf '  %-8s https://%s.%s%s   (http://%s.%s%s)\n' "$sub" "$sub" "$BASE_DOMAIN" "$https_suffix" "$sub" "$BASE_DOMAIN" "$http_suffix"
		printf '           log in: admin@%s.example / %s%s\n' "$sub" "$DEMO_PASSWORD" "$seed_note"
	done
	printf '  %-8s https://admin.%s%s   (http://admin.%s%s)\n' admin "$BASE_DOMAIN" "$https_suffix" "$BASE_DOMAIN" "$http_suffix"
	printf '           admin token: %s   (from %s)\n' "${ADMIN_TOKENS%%,*}" "${secret_source[ADMIN_TOKENS]}"
	echo
	if ((EDGES > 1)); then
		echo "  edges:      $EDGES, sharing certificates through PostgreSQL:"
		for ((e = 0; e < EDGES; e++)); do
			printf '              https://acme.%s:%s  http://…:%s  admin %s\n' "$BASE_DOMAIN" \
				"$(edge_port "$HTTPS_PORT" "$e")" "$(edge_port "$HTTP_PORT" "$e")" "$(edge_admin "$e")"
		done
	fi
	echo "  appservers: $APP_UPSTREAMS (admin: $ADMIN_UPSTREAMS)"
	echo "  PostgreSQL: $(redact_url "$DATABASE_URL")"
	echo "  Redis:      $(redact_url "$REDIS_URL")"
	echo "  logs:       $LOG_DIR/"
	echo "  secrets:    $ENV_FILE (signing keys from ${secret_source[TENANT_SIGNING_KEYS]})"
	echo
	if ((EDGES == 1)); then
		echo "  HTTPS uses Caddy's local CA; its root certificate is"
		echo "    $ca_root"
	else
		echo "  HTTPS uses Caddy's local CA, shared by the edges (stored in PostgreSQL)."
	fi
	trust="bin/caddy trust"
	[[ $CADDY_ADMIN == localhost:2019 ]] || trust+=" --address $CADDY_ADMIN"
	echo "  Trust it once so the browser stops warning:  $trust   (while this runs)"
	echo "  Operate tenants:  set -a; . $STACK_ENV; set +a; bin/tenantctl list"
	echo
} >&2
echo "ready" >"$TG_RUN_DIR/run.state"

# Wait until a child dies (then tear everything down) or we are interrupted.
set +e
wait -n "${pids[@]}"
rc=$?
for pid in "${pids[@]}"; do
	if ! kill -0 "$pid" 2>/dev/null; then
		say "${proc_name[$pid]} exited (status $rc); the end of ${proc_log[$pid]}:"
		tail -n 20 "${proc_log[$pid]}" >&2
	fi
done
exit 1
