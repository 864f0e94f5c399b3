// Package dex runs the integration tests of package oidc and of the demo's
// OpenID Connect support against Dex, a real OpenID Connect provider,
// embedded in the test process (github.com/dexidp/dex's server with its
// in-memory storage, a static client and a static password). It is a
// module of its own, so that the main module does not inherit Dex's
// dependencies: run its tests from this directory (scripts/test.sh does).
package dex
