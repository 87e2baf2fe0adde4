// Package e2e holds the browser test of the whole stack: caddy with the
// tenant modules and two appservers on private ports, driven by Debian's
// headless Chromium through chromedp (see browser_test.go). Run it with
// `go test ./e2e/`; screenshots go to testdata-out/e2e/ (git-ignored).
package e2e
