module github.com/sessionless/sessionless/integration/browser

go 1.26.0

require (
	github.com/chromedp/cdproto v0.160.1
	github.com/chromedp/chromedp v0.23.1
	github.com/sessionless/sessionless v0.0.0
)

require github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect

// The tests import the repository's main module (../..), whose package
// internal/testenv/demoproc builds the demo there: this copy, not a
// published one.
replace github.com/sessionless/sessionless => ../..
