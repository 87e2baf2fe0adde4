package e2e

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserFeatureVanishes: in headless Chromium through caddy, a logged
// in user sees Reports in the navigation; the operator turns the tenant's
// reports feature off through the admin API, and within a second a reload
// shows the navigation without it, and /reports answers the 403 page; set
// back to the plan's (null), it comes back. Screenshots:
// testdata-out/e2e/features-*.png (failed-features-* on a failure).
func TestBrowserFeatureVanishes(t *testing.T) {
	shots, logDir := browserTestDirs(t)
	s := startStack(t, logDir)
	const password = "flags-admin-password"
	s.adminAPI("POST", "/api/tenants", map[string]any{"name": "Flag Shop", "subdomain": "flags",
		"admin_email": "admin@flags.example.com", "admin_password": password}, 201)

	b := startBrowser(t, shots, "features-", 3*time.Minute)
	run, screenshot, fail := b.run, b.screenshot, b.fail
	navHas := func(step, href string) bool {
		t.Helper()
		ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`!!document.querySelector('nav a[href="`+href+`"]')`))
		if err != nil {
			fail(step, err)
		}
		return ok
	}
	run("log in",
		chromedp.Navigate(s.url("flags", "/login")),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), "admin@flags.example.com"),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitNotPresent(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.CSS(`nav`)))
	if !navHas("navigation before", "/reports") {
		fail("navigation before", errors.New("no Reports link while the feature is on"))
	}
	screenshot("1-reports-on")

	// reload reloads / until the navigation's Reports link is present or
	// not as want, for at most the second (and a little for the
	// page load itself).
	reload := func(step string, want bool) {
		t.Helper()
		deadline := time.Now().Add(1500 * time.Millisecond)
		for {
			run(step, chromedp.Navigate(s.url("flags", "/")), chromedp.WaitVisible(chromedp.CSS("nav")))
			if navHas(step, "/reports") == want {
				return
			}
			if time.Now().After(deadline) {
				fail(step, errors.New("the navigation did not change within a second of the admin API's answer"))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	s.adminAPI("PATCH", "/api/tenants/flags", map[string]any{"features": map[string]any{"reports": false}}, 200)
	reload("Reports gone from the navigation", false)
	if !navHas("other pages stay", "/invoices") || !navHas("other pages stay", "/expenses") {
		fail("other pages stay", errors.New("invoices or expenses vanished with reports"))
	}
	screenshot("2-reports-off")
	run("open /reports", chromedp.Navigate(s.url("flags", "/reports")), chromedp.WaitVisible(chromedp.CSS("main")))
	if txt := b.textOf("the 403 page", "main"); !strings.Contains(txt, "not enabled for this organization") {
		fail("the 403 page", errors.New("/reports shows "+txt))
	}
	screenshot("3-reports-refused")
	if got := s.status("flags", "/api/reports/summary"); got != 401 {
		t.Errorf("GET /api/reports/summary without a session = %d, want 401 (no feature news for strangers)", got)
	}

	s.adminAPI("PATCH", "/api/tenants/flags", map[string]any{"features": map[string]any{"reports": nil}}, 200)
	reload("Reports back with the plan's value", true)
	screenshot("4-reports-back")
}
