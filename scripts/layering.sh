#!/usr/bin/env bash
# layering.sh — `make vet`: the appserver's imports point down only (issue 12).
#
# From `go list -deps` of every package under appserver/, tests included, it
# fails when
#   - a package imports its parent or any other ancestor (appserver/sales
#     importing appserver), or
#   - a package other than appserver itself imports a room (appserver/sales,
#     appserver/admin): rooms are composed by appserver, never by each other
#     or by the shared packages below them.
# With -v it prints each package and the appserver packages it imports.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

GO=${GO:-go}
verbose=${1:-}
module=$("$GO" list -m)
root=$module/appserver
rooms=("$root/sales" "$root/admin")

mapfile -t pkgs < <("$GO" list ./appserver/...)
fail=0
for pkg in "${pkgs[@]}"; do
	# -test adds the test binaries' imports; "p [q.test]" names a test
	# variant of p, which is still p for this check.
	mapfile -t deps < <("$GO" list -deps -test -f '{{.ImportPath}}' "$pkg" |
		sed 's/ \[.*\]$//' | grep -E "^$root(/|$)" | grep -vxF "$pkg" | grep -v '\.test$' | sort -u || true)
	if [[ $verbose == -v ]]; then
		printf '%s ->%s\n' "${pkg#"$module"/}" "$(printf ' %s' "${deps[@]#"$module"/}")"
	fi
	for dep in "${deps[@]}"; do
		if [[ $pkg == "$dep"/* ]]; then
			echo "layering: $pkg imports its ancestor $dep" >&2
			fail=1
		fi
		for room in "${rooms[@]}"; do
			if [[ $dep == "$room" && $pkg != "$root" && $pkg != "$room"/* ]]; then
				echo "layering: $pkg imports the room $room; only appserver composes rooms" >&2
				fail=1
			fi
		done
	done
done
if ((fail)); then
	echo "layering: imports under appserver/ must point down only (see scripts/layering.sh)" >&2
	exit 1
fi
echo "layering: ok (${#pkgs[@]} packages under appserver/, no import of an ancestor or of another room)"
