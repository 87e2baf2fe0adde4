#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
# test.sh — `make test`: services, go vet and the layering check, build (the
# e2e tests run bin/caddy), then the whole suite with the race detector.
# Stops only what it started.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

GO=${GO:-go}
TEST_PKGS=${TEST_PKGS:-./...}
TEST_FLAGS=${TEST_FLAGS:--race -count=1 -timeout 20m -p 1}

source scripts/services.sh
trap services_down EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
services_up

if [[ -z ${SKIP_VET:-} ]]; then
	echo "+ $GO vet ./..."
	"$GO" vet ./...
	echo "+ scripts/layering.sh"
	GO="$GO" scripts/layering.sh
fi
# The browser tests (e2e/, caddymodule/e2e) drive Debian's Chromium, which a
# fresh machine lacks: install it as root, else they fail saying what to install.
if [[ ! -x /usr/bin/chromium ]]; then
	_install_packages chromium || echo "test.sh: no /usr/bin/chromium: the browser tests will fail" >&2
fi
make --no-print-directory build GO="$GO"
if [[ " $TEST_FLAGS " == *" -race "* ]]; then
	# Compile everything in parallel first; the test run may be serial (-p 1).
	# (Only packages with non-test files: go build refuses test-only ones.)
	# shellcheck disable=SC2086
	mapfile -t buildable < <("$GO" list -f '{{if .GoFiles}}{{.ImportPath}}{{end}}' $TEST_PKGS)
	echo "+ $GO build -race (${#buildable[@]} packages)"
	"$GO" build -race "${buildable[@]}"
fi
echo "+ $GO test $TEST_FLAGS $TEST_PKGS"
# shellcheck disable=SC2086 # flags and package lists are word lists
"$GO" test $TEST_FLAGS $TEST_PKGS
