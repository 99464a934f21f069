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
# corpus_size DIR prints how many inputs DIR holds (0 when it is absent).
corpus_size() {
	if [[ -d $1 ]]; then
		find "$1" -type f | wc -l
	else
		echo 0
	fi
}

for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	echo "fuzz: $pkg $name for $FUZZTIME"
	# A short minimization budget: a slow interesting input must not
	# stretch a short run into minutes of shrinking.
	#
	# Go 1.26's fuzz coordinator can fail a duration-bounded run with a bare
	# "context deadline exceeded" as -fuzztime ends (go.dev/issue/75804,
	# fixed in Go 1.27): no input failed and none is written. Such a run is
	# reported and passes; any run that wrote a failing input under
	# testdata/fuzz/<target>/, or failed otherwise, fails.
	dir=$(go list -f '{{.Dir}}' "$pkg")/testdata/fuzz/$name
	before=$(corpus_size "$dir")
	out=$(mktemp)
	if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 2s "$pkg" 2>&1 | tee "$out"; then
		after=$(corpus_size "$dir")
		if [[ $after -eq $before ]] && grep -q '^    context deadline exceeded$' "$out" &&
			[[ $(grep -c '^--- FAIL' "$out") -eq 1 ]]; then
			echo "fuzz: $name: Go's fuzz coordinator ended on its own deadline (go.dev/issue/75804); no failing input, counted as passed"
		else
			rm -f "$out"
			exit 1
		fi
	fi
	rm -f "$out"
done
