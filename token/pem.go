package token

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

// ParsePEM reads the first key of a PEM file: a private key as PKCS#8
// ("PRIVATE KEY"), PKCS#1 ("RSA PRIVATE KEY") or SEC 1 ("EC PRIVATE KEY"),
// or a public key as PKIX ("PUBLIC KEY") or PKCS#1 ("RSA PUBLIC KEY").
// Other blocks before it (such as "EC PARAMETERS") are skipped; encrypted
// PEM is refused. opts works as in [NewKey].
func ParsePEM(data []byte, opts KeyOptions) (*Key, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, fmt.Errorf("%w: no PEM key block found", ErrInvalidKey)
		}
		if _, encrypted := block.Headers["Proc-Type"]; encrypted {
			return nil, fmt.Errorf("%w: encrypted PEM is not supported", ErrInvalidKey)
		}
		var material any
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			material, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			material, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			material, err = x509.ParseECPrivateKey(block.Bytes)
		case "PUBLIC KEY":
			material, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			material, err = x509.ParsePKCS1PublicKey(block.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%w: PEM %s: %v", ErrInvalidKey, block.Type, err)
		}
		return NewKey(material, opts)
	}
}

// MarshalPEM encodes the key as PEM: PKCS#8 "PRIVATE KEY" when it can
// sign, PKIX "PUBLIC KEY" otherwise. HMAC secrets have no PEM form.
func (k *Key) MarshalPEM() ([]byte, error) {
	if k.Symmetric() {
		return nil, fmt.Errorf("%w: an HMAC secret has no PEM form", ErrInvalidKey)
	}
	var der []byte
	var err error
	typ := "PUBLIC KEY"
	if k.CanSign() {
		typ = "PRIVATE KEY"
		der, err = x509.MarshalPKCS8PrivateKey(k.priv)
	} else {
		der, err = x509.MarshalPKIXPublicKey(k.pub)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), nil
}
