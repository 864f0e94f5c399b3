package node_test

import "testing"

// TestOAuth4WebAPI runs oauth4webapi.mjs: panva's oauth4webapi against
// the demo's authorization server, each scenario on a demo of its own
// (the login throttle counts the logins of a user).
func TestOAuth4WebAPI(t *testing.T) {
	node := nodeModules(t)
	demoBinary(t)

	// The first-party client demo-web with DPoP, the demo requiring
	// DPoP nonces (DEMO_DPOP_NONCE_KEY): RFC 8414 discovery, the login
	// page, iss (RFC 9207), the code with PKCE and dpop_jkt, the
	// use_dpop_nonce retry, /api/me with a proof, refresh, revocation.
	t.Run("demo-web DPoP", func(t *testing.T) {
		d := startDemo(t, demoOptions{env: []string{"DEMO_DPOP_NONCE_KEY=" + randomKey()}})
		runNode(t, node, "oauth4webapi.mjs", "SCENARIO=web-dpop", "BASE_URL="+d.URL, "PASSWORD="+password, "EXPECT_DPOP_NONCE=1")
	})

	// The third-party client demo-cli on a loopback port of its own:
	// the consent page, a token for the /api resource (RFC 8707), the
	// consent remembered, a denial, a scope it may not have.
	t.Run("demo-cli consent", func(t *testing.T) {
		d := startDemo(t, demoOptions{})
		runNode(t, node, "oauth4webapi.mjs", "SCENARIO=cli-consent", "BASE_URL="+d.URL, "PASSWORD="+password)
	})

	// The refusals a strict client sees: a tampered iss, a wrong
	// code_verifier, another redirect_uri, a code used twice.
	t.Run("refusals", func(t *testing.T) {
		d := startDemo(t, demoOptions{})
		runNode(t, node, "oauth4webapi.mjs", "SCENARIO=refusals", "BASE_URL="+d.URL, "PASSWORD="+password)
	})
}
