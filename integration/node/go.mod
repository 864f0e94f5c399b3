module github.com/sessionless/sessionless/integration/node

go 1.26.0

// npm's packages: thousands of directories no Go command should walk.
ignore ./node_modules

require github.com/sessionless/sessionless v0.0.0

// The tests import the repository's main module (../..), whose package
// internal/testenv/demoproc builds the demo there: this copy, not a
// published one.
replace github.com/sessionless/sessionless => ../..
