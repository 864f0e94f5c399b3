package token

import (
	"encoding/json"
	"os"
	"testing"
)

// TestKnownAnswers checks signatures and thumbprints against the examples
// of RFC 7515, RFC 7638 and RFC 8037 (testdata/kat.json).
func TestKnownAnswers(t *testing.T) {
	data, err := os.ReadFile("testdata/kat.json")
	if err != nil {
		t.Fatal(err)
	}
	var vectors []struct {
		Name          string
		JWK           json.RawMessage
		Alg           Algorithm
		Input, Sig    string
		Deterministic bool
		Thumbprint    string
	}
	if err := json.Unmarshal(data, &vectors); err != nil {
		t.Fatal(err)
	}
	for _, v := range vectors {
		t.Run(v.Name, func(t *testing.T) {
			k, err := ParseJWK(v.JWK, KeyOptions{Algorithm: v.Alg, ID: "kat"})
			if err != nil {
				t.Fatal(err)
			}
			if v.Thumbprint != "" {
				if got, _ := k.Thumbprint(); got != v.Thumbprint {
					t.Errorf("Thumbprint() = %s, want %s", got, v.Thumbprint)
				}
			}
			if v.Input == "" {
				return
			}
			if !k.verify([]byte(v.Input), []byte(v.Sig)) {
				t.Error("the RFC's signature does not verify")
			}
			if k.verify([]byte(v.Input+"x"), []byte(v.Sig)) {
				t.Error("the RFC's signature verifies another input")
			}
			if !k.CanSign() {
				return
			}
			sig, err := k.sign(v.Input)
			if err != nil {
				t.Fatal(err)
			}
			if v.Deterministic && b64.EncodeToString(sig) != v.Sig {
				t.Errorf("sign() = %s, want %s", b64.EncodeToString(sig), v.Sig)
			}
			if !k.verify([]byte(v.Input), []byte(b64.EncodeToString(sig))) {
				t.Error("own signature does not verify")
			}
		})
	}
}
