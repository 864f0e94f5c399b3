package clients

import (
	"context"
	"errors"
	"time"
)

// Store keeps the clients registered at run time ([Registrar]). Methods
// must be safe for concurrent use; an error other than one wrapping
// ErrUnknownClient means the store cannot answer now.
type Store interface {
	// Create stores a new registration (Kind Registered, validated), or
	// fails with ErrClientExists for an ID it holds already.
	Create(ctx context.Context, c Client) error
	// Get returns the registration with id, expired or not, or
	// ErrUnknownClient.
	Get(ctx context.Context, id string) (Client, error)
	// MarkUsed clears the expiry of the registration with id: it has been
	// used to obtain tokens, and lasts from now on until deleted.
	MarkUsed(ctx context.Context, id string) error
	// Delete deletes the registration with id; it reports whether there
	// was one.
	Delete(ctx context.Context, id string) (bool, error)
	// Purge deletes the registrations whose ExpiresAt is not zero and not
	// after now, and says how many.
	Purge(ctx context.Context, now time.Time) (int64, error)
}

// ErrClientExists is what a [Store]'s Create returns for an ID it holds
// already.
var ErrClientExists = errors.New("clients: client exists")

// Registry looks clients up among those configured, those registered at
// run time, and those named by the URL of a metadata document, in that
// order: a configured ID is never shadowed. Nil parts are skipped.
type Registry struct {
	// Static are the configured clients.
	Static *Static
	// Registered keeps the clients registered at run time (RFC 7591).
	Registered Store
	// Documents fetches the clients whose ID is an https URL.
	Documents Lookup
	// Now returns the current time (a registration's expiry). Nil means
	// time.Now.
	Now func() time.Time
}

// Client returns the client with id: ErrUnknownClient (perhaps wrapped
// with why) when there is none, a registration has expired, or a
// metadata document cannot be had.
func (r *Registry) Client(ctx context.Context, id string) (Client, error) {
	if r.Static != nil {
		c, err := r.Static.Client(ctx, id)
		if err == nil || !errors.Is(err, ErrUnknownClient) {
			return c, err
		}
	}
	if IsDocumentURL(id) {
		if r.Documents == nil {
			return Client{}, ErrUnknownClient
		}
		return r.Documents.Client(ctx, id)
	}
	if r.Registered == nil || CheckID(id) != nil {
		return Client{}, ErrUnknownClient
	}
	c, err := r.Registered.Get(ctx, id)
	if err != nil {
		return Client{}, err
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	if !c.ExpiresAt.IsZero() && !c.ExpiresAt.After(now()) {
		return Client{}, ErrUnknownClient
	}
	return c, nil
}

// MarkUsed records that the client with id obtained tokens: a registered
// client's registration no longer expires. Others are left alone.
func (r *Registry) MarkUsed(ctx context.Context, c Client) error {
	if c.Kind != Registered || c.ExpiresAt.IsZero() || r.Registered == nil {
		return nil
	}
	return r.Registered.MarkUsed(ctx, c.ID)
}
