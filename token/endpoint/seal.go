package endpoint

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// maxSealed bounds a sealed value as it comes back from a form.
const maxSealed = 16 << 10

// sealer seals values that travel through the browser (the pending
// authorization request in the login form, no server session): AES-256-GCM
// with a random nonce, the purpose as additional data (a value sealed for
// one step opens at no other), and an expiry inside. The first key seals;
// every key opens, so keys rotate without breaking requests in flight.
type sealer struct{ aeads []cipher.AEAD }

var errSealed = errors.New("endpoint: the sealed value is invalid or has expired")

func newSealer(keys [][]byte) (*sealer, error) {
	if len(keys) == 0 {
		k := make([]byte, 32)
		rand.Read(k)
		keys = [][]byte{k}
	}
	s := &sealer{}
	for i, k := range keys {
		if len(k) != 32 {
			return nil, fmt.Errorf("endpoint: seal key %d has %d bytes, not 32 (AES-256)", i, len(k))
		}
		b, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		g, err := cipher.NewGCM(b)
		if err != nil {
			return nil, err
		}
		s.aeads = append(s.aeads, g)
	}
	return s, nil
}

type envelope struct {
	Exp   int64           `json:"exp"`
	Value json.RawMessage `json:"v"`
}

// seal returns v sealed for purpose until exp, in base64url.
func (s *sealer) seal(purpose string, v any, exp time.Time) (string, error) {
	raw, err := marshal(v)
	if err != nil {
		return "", err
	}
	plain, err := marshal(envelope{Exp: exp.Unix(), Value: raw})
	if err != nil {
		return "", err
	}
	g := s.aeads[0]
	nonce := make([]byte, g.NonceSize(), g.NonceSize()+len(plain)+g.Overhead())
	rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(g.Seal(nonce, nonce, plain, []byte(purpose))), nil
}

// marshal is json.Marshal without HTML escaping: a state of "<<<…"
// takes its own size, not six times it.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// open opens a value sealed for purpose into v; errSealed when it does
// not open with any key, was sealed for another purpose, or has expired
// at now.
func (s *sealer) open(purpose, sealed string, now time.Time, v any) error {
	if len(sealed) > maxSealed {
		return errSealed
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(sealed)
	if err != nil {
		return errSealed
	}
	for _, g := range s.aeads {
		if len(b) < g.NonceSize()+g.Overhead() {
			return errSealed
		}
		plain, err := g.Open(nil, b[:g.NonceSize()], b[g.NonceSize():], []byte(purpose))
		if err != nil {
			continue
		}
		var e envelope
		if json.Unmarshal(plain, &e) != nil || !now.Before(time.Unix(e.Exp, 0)) {
			return errSealed
		}
		if json.Unmarshal(e.Value, v) != nil {
			return errSealed
		}
		return nil
	}
	return errSealed
}
