#!/usr/bin/env bash
# fuzz.sh runs every fuzz target of the module for FUZZTIME each (default 5s).
# `go test -fuzz` accepts one target per run, so the targets are listed with
# `go test -list` and run one by one.
#
# Usage: scripts/fuzz.sh [packages...]   (default ./...)
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME=${FUZZTIME:-5s}
pkgs=("$@")
[[ ${#pkgs[@]} -gt 0 ]] || pkgs=(./...)

# The listing is read into a variable first: read through a process
# substitution, a failing `go test -list` (a package that does not build or
# does not exist) went unnoticed and the script passed with "no fuzz targets
# found". go test has already printed why on stderr.
if ! listing=$(go test -list '^Fuzz' "${pkgs[@]}"); then
	printf '%s\n' "$listing"
	echo "fuzz: go test -list failed" >&2
	exit 1
fi

targets=()
names=()
# go test -list prints the matching names of each package, then "ok <pkg>".
while read -r first second _; do
	case $first in
	Fuzz*) names+=("$first") ;;
	ok)
		for n in "${names[@]+"${names[@]}"}"; do targets+=("$second $n"); done
		names=()
		;;
	*) names=() ;;
	esac
done <<<"$listing"

if [[ ${#targets[@]} -eq 0 ]]; then
	echo "fuzz: no fuzz targets found"
	exit 0
fi
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	echo "fuzz: $pkg $name for $FUZZTIME"
	# A short minimization budget: a slow interesting input must not
	# stretch a short run into minutes of shrinking.
	go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 2s "$pkg"
done
