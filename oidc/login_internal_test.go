package oidc

import (
	"encoding/base64"
	"testing"
)

// TestExactAZPFolding: exactAZP refuses two claims that strings.EqualFold
// (so encoding/json, which go-oidc reads the claims with) takes as one,
// whatever the Unicode folding ("ſ" is "s", the Kelvin sign "k"), and
// takes names that differ otherwise.
func TestExactAZPFolding(t *testing.T) {
	jws := func(payload string) string {
		return "e30." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".c2ln"
	}
	for _, payload := range []string{
		`{"azp":"web","AZP":"mallory"}`,
		`{"sub":"alice","ſub":"mallory"}`,
		`{"at_hash":"good","at_haſh":"bad"}`,
		`{"kid":"a","\u212aid":"b"}`,
		`{"azp":"web","azp":"web"}`,
	} {
		if _, err := exactAZP(jws(payload)); err == nil {
			t.Errorf("%s: accepted", payload)
		}
	}
	azp, err := exactAZP(jws(`{"azp":"web","sub":"alice","sup":"x","azq":"y"}`))
	if err != nil || azp == nil || *azp != "web" {
		t.Errorf("azp = %v, %v", azp, err)
	}
}
