package apitoken_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/apitoken"
	"github.com/sessionless/sessionless/apitoken/storetest"
	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/internal/testenv"
)

// hookStore runs afterCreate once a token is inserted, before Create
// returns: a revocation on another instance landing in between.
type hookStore struct {
	apitoken.Store
	afterCreate func()
}

func (s *hookStore) Create(ctx context.Context, r apitoken.Record, max int) error {
	err := s.Store.Create(ctx, r, max)
	if err == nil && s.afterCreate != nil {
		f := s.afterCreate
		s.afterCreate = nil
		f()
	}
	return err
}

// issuedAt is user(sub) with scopes, whose token was issued at at.
func issuedAt(sub string, at time.Time) *identity.Principal {
	p := user(sub, "widgets:read")
	p.IssuedAt = at
	return p
}

// active returns the tokens of subject neither revoked nor expired.
func active(t *testing.T, m *apitoken.Manager, subject string) []apitoken.Token {
	t.Helper()
	ts, err := m.List(context.Background(), subject)
	if err != nil {
		t.Fatal(err)
	}
	var out []apitoken.Token
	for _, tok := range ts {
		if tok.RevokedAt.IsZero() {
			out = append(out, tok)
		}
	}
	return out
}

// TestRevokeSubjectBefore: logging out everywhere with a cut-off revokes
// the subject's API tokens and, from then on, refuses to create one for
// a credential issued before the cut-off (a stolen access token another
// instance does not know as revoked yet, an API token made before), also
// when the revocation lands while the token is being made; credentials
// issued after it create tokens as before.
func TestRevokeSubjectBefore(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	store := &hookStore{Store: apitoken.NewMemoryStore()}
	m := newManager(t, apitoken.Config{Store: store, Now: c.Now})
	req := apitoken.CreateRequest{Name: "ci", Scopes: []string{"widgets:read"}}
	stolen := issuedAt("alice", c.Now())
	raw, _ := mustCreate(t, m, stolen, req)
	parent, err := m.Authenticate(ctx, raw) // as a cache holds it
	if err != nil {
		t.Fatal(err)
	}

	c.Advance(time.Second)
	cut := c.Now()
	if n, err := m.RevokeSubjectBefore(ctx, "alice", cut); err != nil || n != 1 {
		t.Fatalf("RevokeSubjectBefore = %d, %v; want 1", n, err)
	}
	if _, err := m.Authenticate(ctx, raw); !errors.Is(err, apitoken.ErrRevoked) {
		t.Fatalf("the API token after the cut-off: %v", err)
	}
	c.Advance(time.Second)
	for name, creator := range map[string]*identity.Principal{"the stolen access token": stolen, "the API token": parent} {
		if _, _, err := m.CreateFor(ctx, creator, req); !errors.Is(err, apitoken.ErrRevoked) {
			t.Errorf("%s, issued before the cut-off, created a token: %v", name, err)
		}
	}
	if _, _, err := m.CreateFor(ctx, issuedAt("alice", cut.Add(-time.Nanosecond)), req); !errors.Is(err, apitoken.ErrRevoked) {
		t.Errorf("a token issued a nanosecond before the cut-off: %v", err)
	}
	if got := active(t, m, "alice"); len(got) != 0 {
		t.Fatalf("tokens alive after the refused creations: %+v", got)
	}
	fresh := issuedAt("alice", cut)
	raw2, _ := mustCreate(t, m, fresh, req)
	if _, err := m.Authenticate(ctx, raw2); err != nil {
		t.Fatalf("a token created by a login at the cut-off: %v", err)
	}
	if _, _, err := m.CreateFor(ctx, issuedAt("bob", storetest.Base), req); err != nil {
		t.Errorf("another subject's creation: %v", err)
	}

	// A cut-off landing while a token is made: the token is revoked.
	c.Advance(time.Second)
	store.afterCreate = func() {
		if _, err := m.RevokeSubjectBefore(ctx, "alice", c.Now()); err != nil {
			t.Error(err)
		}
	}
	if _, _, err := m.CreateFor(ctx, fresh, req); !errors.Is(err, apitoken.ErrRevoked) {
		t.Errorf("a creation racing the cut-off: %v", err)
	}
	if got := active(t, m, "alice"); len(got) != 0 {
		t.Fatalf("tokens alive after a creation raced the cut-off: %+v", got)
	}

	// The creating API token revoked alone while its child is made: the
	// child is revoked.
	c.Advance(time.Second)
	later := issuedAt("alice", c.Now())
	raw3, tok3 := mustCreate(t, m, later, req)
	p3, err := m.Authenticate(ctx, raw3)
	if err != nil {
		t.Fatal(err)
	}
	store.afterCreate = func() {
		if _, err := m.Revoke(ctx, "alice", tok3.ID); err != nil {
			t.Error(err)
		}
	}
	if _, _, err := m.CreateFor(ctx, p3, req); !errors.Is(err, apitoken.ErrRevoked) {
		t.Errorf("a creation racing its creator's revocation: %v", err)
	}
	if got := active(t, m, "alice"); len(got) != 0 {
		t.Fatalf("tokens alive after a creation raced its creator's revocation: %+v", got)
	}
	if _, err := m.RevokeSubjectBefore(ctx, "alice", time.Time{}); !errors.Is(err, apitoken.ErrInvalid) {
		t.Errorf("a zero cut-off: %v", err)
	}
}

// TestCutoffSkewedInstances: an API token made after a logout on an
// instance whose clock is behind the one that took the cut-off (its
// CreatedAt before the cut-off) makes children on both: an API token's
// status, not its CreatedAt, says whether the logout ended it.
func TestCutoffSkewedInstances(t *testing.T) {
	ctx := context.Background()
	store := apitoken.NewMemoryStore()
	clockA, clockB := newClock(), newClock()
	clockA.Advance(2 * time.Second) // B is 2 s behind A
	a := newManager(t, apitoken.Config{Store: store, Now: clockA.Now})
	b := newManager(t, apitoken.Config{Store: store, Now: clockB.Now})
	req := apitoken.CreateRequest{Name: "ci", Scopes: []string{"widgets:read"}}
	if _, err := a.RevokeSubjectBefore(ctx, "alice", clockA.Now()); err != nil {
		t.Fatal(err)
	}
	clockA.Advance(time.Millisecond)
	raw, _ := mustCreate(t, b, issuedAt("alice", clockA.Now()), req) // a login after the logout, on B
	p, err := b.Authenticate(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string]*apitoken.Manager{"A": a, "B": b} {
		if _, _, err := m.CreateFor(ctx, p, req); err != nil {
			t.Errorf("on %s, a child of an API token made after the logout: %v", name, err)
		}
	}
}

// TestStaleCreatorTakesNoSlot: a credential issued before the cut-off is
// refused before anything is written, so it takes none of the subject's
// slots: the user's new login makes its token under a limit of one.
func TestStaleCreatorTakesNoSlot(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	m := newManager(t, apitoken.Config{Now: c.Now, MaxPerSubject: 1})
	req := apitoken.CreateRequest{Name: "ci", Scopes: []string{"widgets:read"}}
	stolen := issuedAt("alice", c.Now())
	c.Advance(time.Second)
	if _, err := m.RevokeSubjectBefore(ctx, "alice", c.Now()); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, _, err := m.CreateFor(ctx, stolen, req); !errors.Is(err, apitoken.ErrRevoked) {
			t.Fatalf("the stolen token: %v", err)
		}
	}
	if ts, _ := m.List(ctx, "alice"); len(ts) != 0 {
		t.Errorf("the refused creations wrote %d tokens", len(ts))
	}
	mustCreate(t, m, issuedAt("alice", c.Now()), req)
}

// cutoffAfter answers Cutoff from the store the first ok times, then
// fails; Revoke fails while revokeDown.
type cutoffAfter struct {
	apitoken.Store
	ok         int
	revokeDown bool
}

func (s *cutoffAfter) Cutoff(ctx context.Context, subject string) (time.Time, error) {
	if s.ok--; s.ok < 0 {
		return time.Time{}, errors.New("store down")
	}
	return s.Store.Cutoff(ctx, subject)
}

func (s *cutoffAfter) Revoke(ctx context.Context, subject, id string, now time.Time) (apitoken.Token, error) {
	if s.revokeDown {
		return apitoken.Token{}, errors.New("store down")
	}
	return s.Store.Revoke(ctx, subject, id, now)
}

// TestCutoffCheckStoreDown: when the store goes away between the insert
// and the check after it, the answer is 503, never 201: the new token is
// revoked, or, when even that fails, logged by id for an operator.
func TestCutoffCheckStoreDown(t *testing.T) {
	ctx := context.Background()
	for _, revokeDown := range []bool{false, true} {
		store := &cutoffAfter{Store: apitoken.NewMemoryStore(), ok: 1, revokeDown: revokeDown}
		logs := &testenv.SyncBuffer{}
		m := newManager(t, apitoken.Config{Store: store, Logger: slog.New(slog.NewTextHandler(logs, nil))})
		_, _, err := m.CreateFor(ctx, issuedAt("alice", storetest.Base), apitoken.CreateRequest{Name: "ci"})
		if !errors.Is(err, identity.ErrUnavailable) {
			t.Fatalf("revoke down %v: %v, want ErrUnavailable", revokeDown, err)
		}
		store.revokeDown = false
		live := active(t, m, "alice")
		switch {
		case !revokeDown && len(live) != 0:
			t.Errorf("a token left alive: %+v", live)
		case revokeDown && (len(live) != 1 || !strings.Contains(logs.String(), "id="+live[0].ID)):
			t.Errorf("the token left alive (%+v) is not logged: %s", live, logs.String())
		}
	}
}
