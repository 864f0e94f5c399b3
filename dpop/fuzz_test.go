package dpop_test

import (
	"errors"
	"testing"

	"github.com/sessionless/sessionless/dpop"
	"github.com/sessionless/sessionless/dpop/dpoptest"
	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/token"
)

// FuzzVerify: whatever the proof, Verify does not panic and refuses with
// one of its errors; a proof it accepts (a seed, signed by a real key,
// ES256 or Ed25519) is refused the second time.
func FuzzVerify(f *testing.F) {
	c := testenv.NewClock(t0)
	v := newVerifier(f, c, nil)
	alice := dpoptest.NewClient(f)
	good := alice.Proof("GET", apiURL, at, t0, nil)
	f.Add(good)
	f.Add(good[:len(good)-5])
	f.Add(dpoptest.NewClientFor(f, token.Ed25519).Proof("GET", apiURL, at, t0, nil))
	f.Add(alice.Proof("GET", apiURL, at, t0, func(h, _ map[string]any) { h["alg"] = "Ed25519" }))
	f.Add("eyJ0eXAiOiJkcG9wK2p3dCJ9.e30.x")
	f.Add("..")
	req := request{Method: "GET", URL: apiURL, AccessToken: at}
	f.Fuzz(func(t *testing.T, proof string) {
		_, err := verify(v, ctx, proof, req)
		if err != nil && !errors.Is(err, dpop.ErrInvalidProof) && !errors.Is(err, dpop.ErrReplayed) {
			t.Fatalf("Verify(%q) = %v", proof, err)
		}
		if err == nil {
			if _, err := verify(v, ctx, proof, req); !errors.Is(err, dpop.ErrReplayed) {
				t.Fatalf("an accepted proof verified twice: %v", err)
			}
		}
	})
}
