package demo

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/sessionless/sessionless/oidc/oidctest"
)

const providerUsage = `usage: demo-api oidc-provider [-addr 127.0.0.1:9000] [-audience api]

Runs a local OpenID Connect provider (package oidctest's Server), to try a
provider's tokens on the demo with curl before there is a real one:
discovery, a JWK Set, and POST /token, which mints an access token for the
form's sub, scope (space-separated) and aud (default -audience). It
listens on loopback addresses only: it mints any token for anyone. Start
the demo with -oidc-issuer set to the issuer it prints.`

// runProvider runs "demo-api oidc-provider" until ctx ends.
func runProvider(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("oidc-provider", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addr := fs.String("addr", "127.0.0.1:9000", "loopback address to listen on")
	audience := fs.String("audience", "api", "the audience of tokens whose request names none")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintln(stdout, providerUsage)
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("oidc-provider: %w", err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stdout, providerUsage)
		return fmt.Errorf("oidc-provider: unexpected argument %q", fs.Arg(0))
	}
	idp, err := oidctest.Start(oidctest.ServerConfig{Addr: *addr, Audience: *audience})
	if err != nil {
		return fmt.Errorf("oidc-provider: %w", err)
	}
	fmt.Fprintf(stdout, "local OpenID Connect provider: issuer %s\n", idp.Issuer())
	fmt.Fprintf(stdout, "  demo-api -oidc-issuer %s -oidc-audience %s\n", idp.Issuer(), *audience)
	fmt.Fprintf(stdout, "  curl -s %s/token -d sub=alice -d scope='widgets:read'\n", idp.Issuer())
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return idp.Shutdown(sctx)
}
