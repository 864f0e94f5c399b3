module github.com/sessionless/sessionless/integration/node

go 1.26.0

// npm's packages: thousands of directories no Go command should walk.
ignore ./node_modules
