package demo

import (
	"context"
	"errors"

	"github.com/sessionless/sessionless/token/endpoint"
)

// endpointUsers presents the demo's users to the login, token and
// revocation endpoints (package token/endpoint), which do the rest.
type endpointUsers struct{ UserStore }

func (u endpointUsers) UserByName(ctx context.Context, name string) (endpoint.User, error) {
	return endpointUser(u.UserByUsername(ctx, name))
}

func (u endpointUsers) UserBySubject(ctx context.Context, subject string) (endpoint.User, error) {
	return endpointUser(u.UserByID(ctx, subject))
}

func endpointUser(u User, err error) (endpoint.User, error) {
	if errors.Is(err, ErrUserNotFound) {
		return endpoint.User{}, endpoint.ErrUnknownUser
	}
	if err != nil {
		return endpoint.User{}, err
	}
	return endpoint.User{Subject: u.ID, PasswordHash: u.PasswordHash, Scopes: u.Scopes, Roles: u.Roles}, nil
}
