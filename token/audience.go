package token

// Accepts reports whether the verifier takes a token whose audience is
// aud alone: aud is VerifierConfig.Audience or one of Audiences. A server
// that issues tokens for an audience (a resource, RFC 8707) checks with
// it that its own verifier will take them back (to revoke them, RFC
// 7009).
func (v *Verifier) Accepts(aud string) bool { return v.forUs(Audience{aud}) }
