// Package node runs third-party OAuth and MCP clients from npm against
// the demo API: panva's oauth4webapi (a strict OAuth 2.1, DPoP and RFC
// 9207 client) and the MCP TypeScript SDK's client
// (@modelcontextprotocol/sdk: protected resource metadata, dynamic
// registration, Client ID Metadata Documents, step-up on 403
// insufficient_scope). The Go tests build cmd/demo-api, run it on
// 127.0.0.1 with a throwaway SQLite database, and run the scripts of
// this directory (oauth4webapi.mjs, mcp.mjs) with Node.js against it;
// the scripts log in through the demo's server-rendered login and
// consent pages with fetch, as a user's browser would post them.
//
// The npm packages are pinned in package.json and package-lock.json;
// the tests run `npm ci --ignore-scripts` into node_modules
// (git-ignored), which needs the npm registry, unless a stamp it left
// there says node_modules is of this lock file and this node already.
//
// It is a module of its own, so that the main module's ./... patterns
// neither run these slow tests nor walk node_modules: run its tests from
// this directory (scripts/test.sh does):
//
//	cd integration/node && go test ./...
//
// They need node (18 or later) and npm on the PATH, and skip with a
// message without them, or with -short, unless CI=true: then a missing
// node or npm is a failure (scripts/services.sh installs Debian's
// nodejs and npm in CI).
package node
