#!/usr/bin/env bash
# edge-vs-nginx.sh — the edge's proxy throughput against nginx (issue 15).
#
# Runs, in front of the SAME upstream (bench/edge upstream: a Go net/http
# server answering a fixed 72-byte JSON body, so that the figures measure the
# proxies and not an application):
#   caddy: bin/caddy with the project Caddyfile (tenant handler on, a real
#          control plane in PostgreSQL with one active tenant, Redis);
#   nginx: proxy_pass to an upstream block with `keepalive 256`, HTTP/1.1 to
#          the upstream, the usual X-Forwarded-* headers.
# Then, alternately (caddy/nginx, then nginx/caddy, …), wrk with CONNECTIONS
# connections for DURATION against each, ROUNDS times, and prints every run,
# the medians, and the median of the per-round ratios caddy/nginx (target of
# issue 15: throughput ≥ 0.5).
#
# Needs PostgreSQL and Redis (BENCH_POSTGRES_URL, REDIS_URL or the local
# defaults); installs wrk and nginx with apt when missing. Uses ports
# 24080–24199 and the control database tenantgate_bench_nginx, dropped at
# the end.
#
# Nothing is pinned to CPUs by default: on a small machine wrk, the upstream
# and the proxy share every core, the same way for both proxies, and rounds
# alternate. PIN=1 pins the proxy under test to CPU 0 and wrk plus the
# upstream to the others (needs ≥ 2 CPUs), which takes the contention out of
# the comparison but caps both proxies at one core.
#
# Environment: ROUNDS (3), DURATION (10s), CONNECTIONS (64), THREADS (2),
# WARMUP (2s), CADDYFILE (Caddyfile: try a variant), CADDY_ENV (extra
# environment for caddy only, e.g. "GOGC=400 GOMAXPROCS=2"), ACCESS_LOG
# (discard: caddy still encodes every entry; nginx logs nothing unless
# NGINX_ACCESS_LOG=1, then to a file), PROFILE (a file: a 10 s CPU profile
# of caddy, taken through its admin endpoint during round 1, for
# `go tool pprof bin/caddy FILE`), PIN (0).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-2s}
CADDYFILE=${CADDYFILE:-Caddyfile}
CADDY_ENV=${CADDY_ENV-GOGC=400} # as make run starts caddy (CADDY_GOGC); CADDY_ENV= for Go's default
PROFILE=${PROFILE:-}
PIN=${PIN:-0}
PG_SERVER=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}
DB_NAME=tenantgate_bench_nginx
export DATABASE_URL="${PG_SERVER}/${DB_NAME}?sslmode=disable"
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
export REDIS_KEY_PREFIX="tgbench:nginx:$$:"
export BASE_DOMAIN=localhost
export ACCESS_LOG=${ACCESS_LOG:-discard}
HOST=acme.localhost
UP_PORT=24100
CADDY_PORT=24080
CADDY_ADMIN_PORT=24019
NGINX_PORT=24081
declare -A port=([caddy]=$CADDY_PORT [nginx]=$NGINX_PORT)
declare -A proxy_pid

PATH=$PATH:/usr/sbin
need_apt wrk wrk
need_apt nginx nginx
[[ -f $CADDYFILE ]] || bench_die "CADDYFILE=$CADDYFILE does not exist"

work=$(mktemp -d /tmp/tenantgate-bench-nginx.XXXXXX)
pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	drop_bench_db "$PG_SERVER" "$DB_NAME"
	drop_redis_prefix "$REDIS_URL" "$REDIS_KEY_PREFIX"
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Pinning (PIN=1): the proxy on CPU 0, wrk and the upstream on the rest.
proxy_cpus=() load_cpus=()
if [[ $PIN == 1 ]]; then
	ncpu=$(nproc)
	((ncpu >= 2)) || bench_die "PIN=1 needs at least 2 CPUs"
	proxy_cpus=(taskset -c 0)
	load_cpus=(taskset -c "1-$((ncpu - 1))")
fi

echo "building bin/caddy and the bench helper…"
go build -o bin/caddy ./cmd/caddy
go build -o "$work/edge" ./bench/edge

"$work/edge" seed "$DATABASE_URL" acme
export TENANT_SIGNING_KEYS="bench:$(head -c 32 /dev/urandom | base64 -w0)"

"${load_cpus[@]}" "$work/edge" upstream "127.0.0.1:$UP_PORT" &
pids+=($!)
wait_port "$UP_PORT" 10 || bench_die "the upstream did not start"

# caddy: the project Caddyfile; its env-var defaults point at the upstream.
# shellcheck disable=SC2086 # CADDY_ENV is a list of NAME=VALUE words
env HTTP_PORT=$CADDY_PORT HTTPS_PORT=24443 CADDY_ADMIN=127.0.0.1:$CADDY_ADMIN_PORT \
	APP_UPSTREAMS=127.0.0.1:$UP_PORT ADMIN_UPSTREAMS=127.0.0.1:$UP_PORT \
	XDG_DATA_HOME="$work/caddy/data" XDG_CONFIG_HOME="$work/caddy/config" $CADDY_ENV \
	"${proxy_cpus[@]}" bin/caddy run --config "$CADDYFILE" --adapter caddyfile >"$work/caddy.log" 2>&1 &
pids+=($!)
proxy_pid[caddy]=$!
wait_port "$CADDY_PORT" 30 || { tail -n 30 "$work/caddy.log" >&2; bench_die "caddy did not start"; }

# nginx: one process per CPU (as Caddy's GOMAXPROCS), keep-alive to the
# client and to the upstream without request limits (Caddy has none).
mkdir -p "$work/nginx/logs"
nginx_log="access_log off;"
[[ ${NGINX_ACCESS_LOG:-0} == 1 ]] && nginx_log="access_log $work/nginx/logs/access.log;"
nginx_user=""
[[ $(id -u) == 0 ]] && nginx_user="user root;"
cat >"$work/nginx/nginx.conf" <<NGINX
$nginx_user
worker_processes auto;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
	$nginx_log
	client_body_temp_path $work/nginx/body;
	proxy_temp_path $work/nginx/proxy;
	fastcgi_temp_path $work/nginx/fastcgi;
	uwsgi_temp_path $work/nginx/uwsgi;
	scgi_temp_path $work/nginx/scgi;
	keepalive_requests 1000000;
	keepalive_timeout 120s;
	upstream app {
		server 127.0.0.1:$UP_PORT;
		keepalive 256;
		keepalive_requests 1000000;
	}
	server {
		listen 127.0.0.1:$NGINX_PORT;
		location / {
			proxy_pass http://app;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header Host \$host;
			proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
			proxy_set_header X-Forwarded-Proto \$scheme;
		}
	}
}
NGINX
"${proxy_cpus[@]}" nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/logs/error.log" &
pids+=($!)
proxy_pid[nginx]=$!
wait_port "$NGINX_PORT" 10 || { cat "$work/nginx/logs/error.log" >&2; bench_die "nginx did not start"; }

for name in caddy nginx; do
	code=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $HOST" "http://127.0.0.1:${port[$name]}/")
	[[ $code == 200 ]] || bench_die "$name answered $code for $HOST"
done

# CPU time (user + system, clock ticks) of a process and its children
# that are still running: caddy is one process, nginx a master and workers.
cpu_ticks() { # pid
	local p t=0
	for p in $1 $(ps -o pid= --ppid "$1"); do
		t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo "$t"
}

TICK_US=$((1000000 / $(getconf CLK_TCK)))
# The proxy's CPU per request is the figure that survives a busy machine:
# throughput falls when other work takes the cores, CPU per request barely.
declare -A rps p99 reqs cpu_us ticks0
wrk_measure_start() { ticks0[$1]=$(cpu_ticks "${proxy_pid[$1]}"); }
wrk_measure_end() {
	local t
	t=$(cpu_ticks "${proxy_pid[$1]}")
	cpu_us[$1,$2]=$(awk -v d="$((t - ticks0[$1]))" -v us="$TICK_US" -v n="${reqs[$1,$2]}" 'BEGIN {printf "%.1f", d * us / n}')
	wrk_note=$(printf '   CPU %6.1f us/req' "${cpu_us[$1,$2]}")
}
run() { # name round
	local prof_pid=""
	if [[ $1 == caddy && $2 == 1 && -n $PROFILE ]]; then
		# The warm-up takes WARMUP; the profile starts with the measured run.
		(sleep "${WARMUP%s}" && curl -s -o "$PROFILE" \
			"http://127.0.0.1:$CADDY_ADMIN_PORT/debug/pprof/profile?seconds=10") &
		prof_pid=$!
	fi
	wrk_round "$1" "$2" "${port[$1]}" "$HOST"
	[[ -z $prof_pid ]] || { wait "$prof_pid" && echo "  CPU profile of caddy: $PROFILE"; }
}
if [[ $PIN == 1 ]]; then
	# wrk_round runs wrk; pin it with the load.
	wrk() { taskset -c "1-$(($(nproc) - 1))" command wrk "$@"; }
fi

echo "wrk: $CONNECTIONS connections, $THREADS threads, $DURATION per run (after ${WARMUP} warm-up), $ROUNDS rounds, Host $HOST"
echo "caddy: $CADDYFILE${CADDY_ENV:+ with $CADDY_ENV}; access log $ACCESS_LOG; pinned: $([[ $PIN == 1 ]] && echo "proxy CPU 0, load CPUs 1+" || echo no)"
for ((r = 1; r <= ROUNDS; r++)); do
	if ((r % 2)); then order=(caddy nginx); else order=(nginx caddy); fi
	for name in "${order[@]}"; do run "$name" "$r"; done
done

c_rps=$(round_column rps caddy | median)
n_rps=$(round_column rps nginx | median)
c_p99=$(round_column p99 caddy | median)
n_p99=$(round_column p99 nginx | median)
c_cpu=$(round_column cpu_us caddy | median)
n_cpu=$(round_column cpu_us nginx | median)
t_ratio=$(round_ratios rps caddy nginx | median)
u_ratio=$(round_ratios cpu_us nginx caddy | median)
l_ratio=$(round_ratios p99 caddy nginx | median)
awk -v rounds="$ROUNDS" -v cr="$c_rps" -v nr="$n_rps" -v cp="$c_p99" -v np="$n_p99" -v tr="$t_ratio" -v lr="$l_ratio" -v cc="$c_cpu" -v nc="$n_cpu" -v ur="$u_ratio" 'BEGIN {
	printf "\nmedian of %s rounds\n", rounds
	printf "  caddy (project Caddyfile) %10.0f req/s   p99 %7.3f ms   CPU %6.1f us/req\n", cr, cp, cc
	printf "  nginx proxy_pass          %10.0f req/s   p99 %7.3f ms   CPU %6.1f us/req\n", nr, np, nc
	printf "  throughput ratio caddy/nginx %.3f (target >= 0.5) %s   (median of per-round ratios)\n", tr, (tr >= 0.5 ? "ok" : "MISSED")
	printf "  p99 ratio caddy/nginx        %.3f\n", lr
	printf "  CPU per request nginx/caddy  %.3f   (the same ratio measured by CPU cost: steadier on a busy machine)\n", ur
}'
