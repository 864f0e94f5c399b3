#!/usr/bin/env bash
# The test command: formatting, vet, staticcheck, and every test with the
# race detector, including the PostgreSQL and Redis backends on throwaway
# loopback servers when those are installed (CI installs them), the PHP
# session bridge against real PHP (php-cli and php-redis, likewise), the
# demo's web app in a real Chromium (chromium, likewise), and npm's OAuth
# and MCP clients against the demo (nodejs and npm, likewise).
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

# go.mod's go directive is the oldest Go the module supports (its
# dependencies need 1.26.0): prove it builds and passes there too. The go
# command fetches that release from the module proxy the first time
# (about 70 MB).
min=$(sed -n 's/^go //p' go.mod)
echo "== go $min (go.mod's go directive): vet and go test -short"
GOTOOLCHAIN="go$min" go vet ./...
minlog=$(mktemp)
GOTOOLCHAIN="go$min" go test -short -count=1 ./... >"$minlog" 2>&1 ||
  { cat "$minlog"; echo "go test failed with go$min"; exit 1; }
echo "go$min: $(grep -c '^ok' "$minlog") packages pass"
rm -f "$minlog"

echo "== integration/dex: package oidc and the demo against an embedded Dex (a module of its own)"
(cd integration/dex && go vet ./... && go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./... && go test -race -count=1 "$@" ./...)

echo "== integration/zitadel: package oidc and the middleware against zitadel/oidc's example provider (a module of its own)"
(cd integration/zitadel && go vet ./... && go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./... && go test -race -count=1 "$@" ./...)

echo "== integration/browser: the demo's web app in a real Chromium (a module of its own; skips without /usr/bin/chromium unless CI=true)"
(cd integration/browser && go vet ./... && go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./... && go test -race -count=1 "$@" ./...)

echo "== integration/node: npm's OAuth and MCP clients (oauth4webapi, the MCP SDK) against the demo (a module of its own; skips without node and npm unless CI=true)"
(cd integration/node && go vet ./... && go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./... && go test -race -count=1 "$@" ./...)

echo "== bridge/gorilla: the legacy session bridge for gorilla/sessions' stores (a module of its own)"
(cd bridge/gorilla && go vet ./... && go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./... && go test -race -count=1 "$@" ./...)

echo "== go test -race"
(cd bench && go test "$@" ./...)
go test -race -count=1 "$@" ./...
