# tenantgate — build, test and run the whole stack.
#
#   make build   bin/caddy, bin/appserver, bin/tenantctl
#   make vet     go vet and the appserver layering check (scripts/layering.sh)
#   make test    PostgreSQL + Redis (found or started under .run/), go vet + layering, build, go test -race
#   make run     the whole stack with demo tenants (scripts/run.sh); Ctrl-C stops it
#                (EDGES=2: two caddy edges on adjacent ports sharing certificates)
#
# Variables: GO (go), TEST_PKGS (./...), TEST_FLAGS (-race -count=1 -timeout 20m), TEST_P (1),
# BENCH_PKGS (./...), EDGES (1), and every variable of SPEC §3 in the environment.

SHELL := /bin/bash
.DEFAULT_GOAL := build

GO ?= go
TEST_PKGS ?= ./...
TEST_FLAGS ?= -race -count=1 -timeout 20m
# Test binaries run one package at a time: the integration tests of several
# packages at once (pools, concurrent provisioning, parallel migrations)
# exceed PostgreSQL's default max_connections of 100. Compilation stays
# parallel (scripts/test.sh builds first). `make test TEST_P=2` to override.
TEST_P ?= 1
BENCH_PKGS ?= ./...
# make run EDGES=2: several edges on adjacent ports sharing certificate storage.
EDGES ?= 1
BENCH_FLAGS ?= -run=^$$ -bench=. -benchmem -count=1 -p 1

# The binaries are the main packages under cmd/. The wildcard lets the target
# work while packages land; once all three exist it builds all three.
CMDS := $(sort $(notdir $(patsubst %/,%,$(dir $(wildcard cmd/*/main.go)))))

.PHONY: build test run vet bench bench-edge bench-nginx bench-overload bench-rolling bench-migrate bench-soak services-up services-down services-status clean distclean

build:
	@mkdir -p bin
	@for c in caddy appserver tenantctl; do \
		[[ " $(CMDS) " == *" $$c "* ]] || echo "make build: cmd/$$c has no main.go yet; skipping bin/$$c" >&2; \
	done
	$(if $(CMDS),$(GO) build -o bin/ $(addprefix ./cmd/,$(CMDS)))

# go vet, then the layering of appserver/ (scripts/layering.sh: no package
# imports its parent, no package but appserver imports a room).
vet:
	$(GO) vet ./...
	GO="$(GO)" scripts/layering.sh

test:
	GO="$(GO)" TEST_PKGS="$(TEST_PKGS)" TEST_FLAGS="$(TEST_FLAGS) -p $(TEST_P)" scripts/test.sh

run:
	EDGES="$(EDGES)" scripts/run.sh

bench:
	GO="$(GO)" TEST_PKGS="$(BENCH_PKGS)" TEST_FLAGS="$(BENCH_FLAGS)" SKIP_VET=1 scripts/test.sh

# The edge's overhead against plain Caddy reverse_proxy (bench/edge.sh; wrk).
bench-edge: build
	bench/edge.sh

# The edge's proxy throughput against nginx proxy_pass (bench/edge-vs-nginx.sh; wrk, nginx).
bench-nginx: build
	bench/edge-vs-nginx.sh

# The edge past its capacity, one noisy tenant, limits off then on (bench/overload.sh).
bench-overload: build
	bench/overload.sh

# Several edges restarted one at a time under load: failed requests (bench/rolling.sh).
bench-rolling: build
	bench/rolling.sh

# Migrations over 1,000 tenants: migrate --check and one added column
# (bench/migrate; creates and deletes its own tenants; a few minutes).
bench-migrate: build
	$(GO) run ./bench/migrate

# Leaves the services running and prints the export lines for your shell:
#   eval "$$(make -s services-up)"
services-up:
	@scripts/services.sh up

# Stops the private PostgreSQL / Redis under .run/ (never shared servers).
services-down:
	@scripts/services.sh down

services-status:
	@scripts/services.sh status

clean:
	rm -rf bin

# Also removes .run/ (private databases, generated secrets, Caddy dev state).
distclean: services-down clean
	rm -rf .run

# A thousand tenants through caddy and two appservers under the connection
# budget: create rate, 5 minutes of open-loop Zipf traffic (errors, backends,
# RSS, goroutines, p50/p99), delete time (bench/soak; SOAK_FLAGS, e.g.
# "-duration 1m -tenants 200"). Not part of make test.
SOAK_FLAGS ?=
bench-soak: build
	$(GO) run ./bench/soak $(SOAK_FLAGS)
