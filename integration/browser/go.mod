module github.com/sessionless/sessionless/integration/browser

go 1.26.0

require (
	github.com/chromedp/cdproto v0.160.1
	github.com/chromedp/chromedp v0.23.1
)

require github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect

// The tests build the demo in the repository's main module (../..); an
// import of it from here would take that copy too.
replace github.com/sessionless/sessionless => ../..
