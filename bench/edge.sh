#!/usr/bin/env bash
# edge.sh — what the tenant handler costs at the edge.
#
# Runs two bin/caddy processes in front of the SAME upstream (bench/edge):
#   gateway: the project Caddyfile as is;
#   plain:   the same Caddyfile with the `tenant` handler line removed
#            (plain Caddy reverse_proxy with the same transport, logs, TLS…).
# Then, alternately (gateway/plain, then plain/gateway, …), wrk with
# CONNECTIONS connections for DURATION against each, ROUNDS times, and prints
# every run, the medians, and the ratios gateway/plain of throughput (target
# ≥ 0.93) and p99 latency (target ≤ 1.10).
#
# Needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL or the local defaults);
# installs wrk with apt when missing. Uses ports 22080–22199 and the control
# database tenantgate_bench_edge, dropped at the end.
#
# Environment: ROUNDS (3), DURATION (10s), CONNECTIONS (64), THREADS (2),
# WARMUP (2s), ACCESS_LOG (discard; "stdout" sends logs to the void too).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-2s}
PG_SERVER=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}
DB_NAME=tenantgate_bench_edge
export DATABASE_URL="${PG_SERVER}/${DB_NAME}?sslmode=disable"
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
export REDIS_KEY_PREFIX="tgbench:edge:$$:"
export BASE_DOMAIN=localhost
export ACCESS_LOG=${ACCESS_LOG:-discard}
HOST=acme.localhost
UPSTREAM=127.0.0.1:22100

work=$(mktemp -d /tmp/tenantgate-bench-edge.XXXXXX)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	psql "${PG_SERVER}/postgres?sslmode=disable" -qc "DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)" >/dev/null 2>&1 || true
	redis-cli -u "$REDIS_URL" --scan --pattern "${REDIS_KEY_PREFIX}*" 2>/dev/null | xargs -r redis-cli -u "$REDIS_URL" del >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

die() { echo "edge.sh: $*" >&2; exit 1; }

if ! command -v wrk >/dev/null; then
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
		echo "installing wrk…"
		apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
	else
		die "wrk is missing: install it (Debian: sudo apt-get install wrk)"
	fi
fi

wait_port() { # port seconds
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		if (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	return 1
}

echo "building bin/caddy and the bench helper…"
go build -o bin/caddy ./cmd/caddy
go build -o "$work/edge" ./bench/edge

"$work/edge" seed "$DATABASE_URL" acme
export TENANT_SIGNING_KEYS="bench:$(head -c 32 /dev/urandom | base64)"

"$work/edge" upstream "$UPSTREAM" &
pids+=($!)
wait_port 22100 10 || die "the upstream did not start"

# The plain config: the project Caddyfile without the tenant handler line.
grep -v '^[[:space:]]*tenant[[:space:]]*$' Caddyfile >"$work/Caddyfile.plain"
cmp -s Caddyfile "$work/Caddyfile.plain" && die "no 'tenant' directive line found in Caddyfile"

start_caddy() { # name config http https admin
	HTTP_PORT=$3 HTTPS_PORT=$4 CADDY_ADMIN=127.0.0.1:$5 \
		APP_UPSTREAMS=$UPSTREAM ADMIN_UPSTREAMS=$UPSTREAM \
		XDG_DATA_HOME="$work/$1/data" XDG_CONFIG_HOME="$work/$1/config" \
		bin/caddy run --config "$2" --adapter caddyfile >"$work/$1.log" 2>&1 &
	pids+=($!)
	wait_port "$3" 30 || { cat "$work/$1.log" >&2; die "caddy ($1) did not start"; }
}
start_caddy gateway Caddyfile 22080 22443 22019
start_caddy plain "$work/Caddyfile.plain" 22081 22444 22020
declare -A port=([gateway]=22080 [plain]=22081)

# Sanity: the gateway serves the tenant, the plain config proxies blindly.
for name in gateway plain; do
	code=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $HOST" "http://127.0.0.1:${port[$name]}/")
	[[ $code == 200 ]] || die "$name answered $code for $HOST"
done
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: nobody.localhost" "http://127.0.0.1:22080/")
[[ $code == 404 ]] || die "gateway answered $code for an unknown host, want 404"

# to_ms turns a wrk latency (123.45us, 1.23ms, 1.02s) into milliseconds.
to_ms() {
	awk -v v="$1" 'BEGIN {
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
		printf "%.3f", n }'
}

declare -A rps p99
run() { # name round
	local out
	wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -H "Host: $HOST" "http://127.0.0.1:${port[$1]}/" >/dev/null
	out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "Host: $HOST" "http://127.0.0.1:${port[$1]}/")
	if grep -q 'Non-2xx' <<<"$out"; then
		echo "$out" >&2
		die "$1: non-2xx answers during the run"
	fi
	rps[$1,$2]=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
	p99[$1,$2]=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
	printf '  round %d  %-8s %10.0f req/s   p99 %7.3f ms\n' "$2" "$1" "${rps[$1,$2]}" "${p99[$1,$2]}"
}

echo "wrk: $CONNECTIONS connections, $THREADS threads, $DURATION per run (after ${WARMUP} warm-up), $ROUNDS rounds, Host $HOST"
for ((r = 1; r <= ROUNDS; r++)); do
	if ((r % 2)); then order=(gateway plain); else order=(plain gateway); fi
	for name in "${order[@]}"; do run "$name" "$r"; done
done

median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
column() { # array name → one value per round
	local -n arr=$1
	for ((r = 1; r <= ROUNDS; r++)); do echo "${arr[$2,$r]}"; done
}
# Ratios are taken per round (the two runs of a round are back to back), and
# their median reported, so that load drifting between rounds (other work on
# the machine) does not skew the comparison.
ratios() { # array
	local -n arr=$1
	for ((r = 1; r <= ROUNDS; r++)); do awk -v g="${arr[gateway,$r]}" -v p="${arr[plain,$r]}" 'BEGIN {print g / p}'; done
}
g_rps=$(column rps gateway | median)
p_rps=$(column rps plain | median)
g_p99=$(column p99 gateway | median)
p_p99=$(column p99 plain | median)
t_ratio=$(ratios rps | median)
l_ratio=$(ratios p99 | median)
awk -v rounds="$ROUNDS" -v gr="$g_rps" -v pr="$p_rps" -v gp="$g_p99" -v pp="$p_p99" -v tr="$t_ratio" -v lr="$l_ratio" 'BEGIN {
	printf "\nmedian of %s rounds\n", rounds
	printf "  gateway (tenant handler) %10.0f req/s   p99 %7.3f ms\n", gr, gp
	printf "  plain reverse_proxy      %10.0f req/s   p99 %7.3f ms\n", pr, pp
	printf "  throughput ratio %.3f (target >= 0.93) %s   (median of per-round ratios)\n", tr, (tr >= 0.93 ? "ok" : "MISSED")
	printf "  p99 ratio        %.3f (target <= 1.10) %s\n", lr, (lr <= 1.10 ? "ok" : "MISSED")
}'
