// Package zitadel runs the integration tests of package oidc against the
// OpenID provider of github.com/zitadel/oidc (the library Zitadel is built
// on), embedded in the test process: its example server (example/server:
// in-memory storage, a web client, a user and its login form), with the
// client's access tokens made JWTs and the user's roles asserted as
// Zitadel asserts them. It is a module of its own, so that the main
// module does not inherit zitadel/oidc's dependencies: run its tests from
// this directory (scripts/test.sh does).
package zitadel
