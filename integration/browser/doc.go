// Package browser runs the demo's browser app (internal/demo/web) in a
// real Chromium, driven by chromedp: cookie-mode login, tokens no script
// can read, silent refresh across expiries, two tabs refreshing at once,
// logout and the back button, logout everywhere, cross-origin requests
// refused, and the README's screenshots. The tests build cmd/demo-api
// and run it on 127.0.0.1 with a throwaway SQLite database, as a user
// would.
//
// It is a module of its own, so that the main module does not require
// chromedp: run its tests from this directory (scripts/test.sh does):
//
//	cd integration/browser && go test ./...
//
// They need Debian's chromium at /usr/bin/chromium (or the browser the
// variable CHROMIUM names) and skip with a message without it, unless
// CI=true: then a missing browser is a failure (scripts/services.sh
// installs it in CI).
//
// The screenshots of the README (docs/img/browser-login.png,
// browser-widgets.png and browser-devices.png) are taken on every run
// and written only with -update:
//
//	cd integration/browser && go test -run TestScreenshots -update
package browser
