#!/usr/bin/env bash
# Paired benchmark runs, for a noisy machine: the test binary of PKG is
# built once and run RUNS times in a row; the lines of every run go to
# OUT/head.txt. With -base COMMIT, the same package at COMMIT (with this
# tree's black-box *_bench_test.go files of PKG, so both run the same
# benchmarks) is built too and the two binaries run alternately, in
# alternating order: OUT/base.txt.
# Compare with: go run golang.org/x/perf/cmd/benchstat@latest OUT/base.txt OUT/head.txt
#
#   scripts/bench-pairs.sh [-base COMMIT] OUT PKG FILTER BENCHTIME RUNS
#   scripts/bench-pairs.sh /tmp/v ./token 'Verify/' 0.2s 10
#   scripts/bench-pairs.sh -base bad15c7 /tmp/mw ./middleware 'Middleware/|CacheMiss' 0.5s 8
#   cd bench && ../scripts/bench-pairs.sh /tmp/peers . . 0.2s 8   (a nested module: run from it)
set -euo pipefail
usage() { sed -n '2,13p' "$0" >&2; exit 2; }
base=""
if [ "${1:-}" = -base ]; then
  [ $# -ge 2 ] || usage
  base=$2
  shift 2
fi
[ $# -eq 5 ] || usage
mkdir -p "$1"
out=$(cd "$1" && pwd) pkg=$2 filter=$3 benchtime=$4 runs=$5
go test -c -o "$out/head.test" "$pkg"
if [ -n "$base" ]; then
  wt=$(mktemp -d)
  trap 'git worktree remove --force "$wt" >/dev/null 2>&1 || true' EXIT
  git worktree add -q --detach "$wt" "$base"
  here="$wt/$(git rev-parse --show-prefix)" # this directory, in the worktree
  [ -d "$here/$pkg" ] || { echo "bench-pairs: $pkg does not exist at $base" >&2; exit 1; }
  for f in "$pkg"/*_bench_test.go; do # black-box benchmarks only: they use the public API
    if grep -q '^package .*_test$' "$f"; then cp "$f" "$here/$pkg/"; fi
  done
  (cd "$here" && go test -c -o "$out/base.test" "$pkg")
fi
run() { # run BINARY: appends its benchmark lines to OUT/BINARY.txt
  if ! "$out/$1.test" -test.run '^$' -test.bench "$filter" -test.benchtime "$benchtime" -test.benchmem >"$out/$1.last" 2>&1 ||
    ! grep '^Benchmark' "$out/$1.last" >>"$out/$1.txt"; then
    echo "bench-pairs: the $1 binary failed or ran no benchmark matching $filter:" >&2
    cat "$out/$1.last" >&2
    exit 1
  fi
}
: >"$out/head.txt"
[ -z "$base" ] || : >"$out/base.txt"
for i in $(seq "$runs"); do
  if [ -z "$base" ]; then run head
  elif [ $((i % 2)) = 1 ]; then run base; run head
  else run head; run base
  fi
done
echo "wrote $out/head.txt${base:+ and $out/base.txt}"
