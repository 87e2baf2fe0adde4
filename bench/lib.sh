#!/usr/bin/env bash
# lib.sh — shell helpers shared by the wrk benches (bench/edge.sh,
# bench/edge-vs-nginx.sh). Sourced, never run.
# shellcheck disable=SC2034 # arrays are filled for the caller

# bench_die MSG: the bench's name, the message, exit 1.
bench_die() {
	echo "$(basename "$0"): $*" >&2
	exit 1
}

# need_apt CMD PACKAGE: installs PACKAGE with apt when CMD is missing (as
# root), or fails saying how.
need_apt() {
	command -v "$1" >/dev/null && return 0
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
		echo "installing $2…"
		apt-get install -y "$2" >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y "$2" >/dev/null; }
		command -v "$1" >/dev/null || PATH=$PATH:/usr/sbin command -v "$1" >/dev/null
	else
		bench_die "$1 is missing: install it (Debian: sudo apt-get install $2)"
	fi
}

# wait_port PORT SECONDS: true once something accepts on 127.0.0.1:PORT.
wait_port() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		if (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	return 1
}

# to_ms turns a wrk latency (123.45us, 1.23ms, 1.02s) into milliseconds.
to_ms() {
	awk -v v="$1" 'BEGIN {
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
		printf "%.3f", n }'
}

# median of the numbers on stdin, one a line.
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

# wrk_round NAME ROUND PORT HOST: a warm-up, then a measured wrk run against
# http://127.0.0.1:PORT/ with Host HOST; stores rps[NAME,ROUND] and
# p99[NAME,ROUND] (ms) in the caller's associative arrays and prints them.
# Uses THREADS, CONNECTIONS, WARMUP, DURATION. Fails on any non-2xx answer.
# Also stores reqs[NAME,ROUND] (requests of the measured run; the caller
# declares rps, p99 and reqs with declare -A). When the
# caller defines wrk_measure_start/wrk_measure_end (NAME ROUND), they run
# just before and after the measured run; wrk_note is appended to the line.
wrk_round() {
	local out
	wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -H "Host: $4" "http://127.0.0.1:$3/" >/dev/null
	if declare -F wrk_measure_start >/dev/null; then wrk_measure_start "$1" "$2"; fi
	out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "Host: $4" "http://127.0.0.1:$3/")
	if grep -q 'Non-2xx' <<<"$out"; then
		echo "$out" >&2
		bench_die "$1: non-2xx answers during the run"
	fi
	rps[$1,$2]=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
	p99[$1,$2]=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
	reqs[$1,$2]=$(awk '/requests in/ {print $1}' <<<"$out")
	if declare -F wrk_measure_end >/dev/null; then wrk_measure_end "$1" "$2"; fi
	printf '  round %d  %-8s %10.0f req/s   p99 %7.3f ms%s\n' "$2" "$1" "${rps[$1,$2]}" "${p99[$1,$2]}" "${wrk_note:-}"
}

# round_column ARRAY NAME: ARRAY[NAME,r] for r = 1…ROUNDS, one a line.
round_column() {
	local -n arr=$1
	local r
	for ((r = 1; r <= ROUNDS; r++)); do echo "${arr[$2,$r]}"; done
}

# round_ratios ARRAY A B: ARRAY[A,r] / ARRAY[B,r] for every round, one a
# line. Ratios are taken per round (the two runs of a round are back to
# back), and their median reported, so that load drifting between rounds
# (other work on the machine) does not skew the comparison.
round_ratios() {
	local -n arr=$1
	local r
	for ((r = 1; r <= ROUNDS; r++)); do awk -v a="${arr[$2,$r]}" -v b="${arr[$3,$r]}" 'BEGIN {print a / b}'; done
}

# drop_bench_db PG_SERVER DB: drops the bench's control database.
drop_bench_db() {
	psql "$1/postgres?sslmode=disable" -qc "DROP DATABASE IF EXISTS $2 WITH (FORCE)" >/dev/null 2>&1 || true
}

# drop_redis_prefix URL PREFIX: deletes the bench's Redis keys.
drop_redis_prefix() {
	redis-cli -u "$1" --scan --pattern "$2*" 2>/dev/null | xargs -r redis-cli -u "$1" del >/dev/null 2>&1 || true
}
