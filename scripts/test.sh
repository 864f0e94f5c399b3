#!/usr/bin/env bash
# The test command: formatting, vet, staticcheck, and every test with the
# race detector, including the PostgreSQL and Redis backends on throwaway
# loopback servers when those are installed (CI installs them).
#
#   ./scripts/test.sh            everything
#   ./scripts/test.sh -short     skip the slow end-to-end tests
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/services.sh
. scripts/services.sh
start_services

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...
(cd bench && go vet ./... && go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...)

echo "== staticcheck"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

echo "== go test -race"
(cd bench && go test "$@" ./...)
go test -race -count=1 "$@" ./...
