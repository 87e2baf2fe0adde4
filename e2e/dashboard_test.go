package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestDashboard walks the operators' dashboard in Chromium through caddy:
// search, the tenant page, a rename (the old host stops being served, the
// new one is), maintenance after its confirmation page (the tenant answers
// 503), a custom domain with its TXT instructions and a verification that
// says the record is not published yet, and the API reference page.
// Screenshots: testdata-out/e2e/dashboard-*.png.
func TestDashboard(t *testing.T) {
	shots, logDir := browserTestDirs(t)
	s := startStack(t, logDir)
	s.adminAPI("POST", "/api/tenants", map[string]any{"name": "Acme Corporation", "subdomain": "acme",
		"admin_email": "admin@acme.example.com", "admin_password": "acme-admin-password"}, 201)
	s.adminAPI("POST", "/api/tenants", map[string]any{"name": "Globex", "subdomain": "globex",
		"admin_email": "admin@globex.example.com", "admin_password": "globex-admin-password"}, 201)

	b := startBrowser(t, shots, "dashboard-", 3*time.Minute)
	ctx, fail, run, textOf, screenshot := b.ctx, b.fail, b.run, b.textOf, b.screenshot
	// waitStatus waits (≤ 2 s) until GET /login on host answers want.
	waitStatus := func(host string, want int) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for {
			got := s.status(host, "/login")
			if got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s.localhost/login = %d, want %d", host, got, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	run("admin login",
		chromedp.Navigate(s.url("admin", "/")),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), s.adminToken),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("tenants")))

	t.Run("search", func(t *testing.T) {
		run("search acm",
			chromedp.SendKeys(chromedp.ID("q"), "acm"),
			chromedp.Click(chromedp.CSS(`form[role=search] button[type=submit]`)),
			chromedp.WaitNotPresent(chromedp.CSS(`#tenants a[href="/tenants/globex"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#tenants a[href="/tenants/acme"]`)))
		if table := textOf("search result", "#tenants"); !strings.Contains(table, "Acme Corporation") || strings.Contains(table, "Globex") {
			t.Errorf("search for acm lists %q, want Acme Corporation only", table)
		}
		screenshot("1-search")
	})

	t.Run("rename", func(t *testing.T) {
		run("open acme",
			chromedp.Click(chromedp.CSS(`#tenants a[href="/tenants/acme"]`)),
			chromedp.WaitVisible(chromedp.CSS(`form[action="/tenants/acme/rename"]`)))
		screenshot("2-tenant")
		run("rename acme",
			chromedp.SetValue(chromedp.CSS(`form[action="/tenants/acme/rename"] input[name=subdomain]`), "acme-two"),
			chromedp.Click(chromedp.CSS(`form[action="/tenants/acme/rename"] button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`form[action="/tenants/acme-two/rename"]`)))
		if n := textOf("rename notice", ".alert.notice"); !strings.Contains(n, "now served at acme-two") {
			t.Errorf("rename notice = %q", n)
		}
		screenshot("3-renamed")
		waitStatus("acme", 404)
		waitStatus("acme-two", 200)
	})

	t.Run("maintenance", func(t *testing.T) {
		run("ask for maintenance",
			chromedp.Click(chromedp.CSS(`form[action="/tenants/acme-two/status"] input[value=maintenance] ~ button`)),
			chromedp.WaitReady(chromedp.CSS(`input[name=confirm]`)))
		if h := textOf("confirmation", "main h1"); !strings.Contains(h, "maintenance") {
			t.Errorf("confirmation heading = %q", h)
		}
		screenshot("4-confirm-maintenance")
		// Not yet: the confirmation page changed nothing.
		if got := s.status("acme-two", "/login"); got != 200 {
			t.Errorf("before confirming, acme-two = %d, want 200", got)
		}
		run("confirm maintenance",
			chromedp.Click(chromedp.CSS(`form[action="/tenants/acme-two/status"] button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`h1 .badge.maintenance`)))
		if n := textOf("maintenance notice", ".alert.notice"); !strings.Contains(n, "is now maintenance") {
			t.Errorf("maintenance notice = %q", n)
		}
		screenshot("5-maintenance")
		waitStatus("acme-two", 503)
	})

	t.Run("domain", func(t *testing.T) {
		run("add domain",
			chromedp.SendKeys(chromedp.ID("hostname"), "shop.example.com"),
			chromedp.Click(chromedp.CSS(`form[action="/tenants/acme-two/domains"] button[type=submit]`)),
			chromedp.WaitVisible(chromedp.ID("domains")))
		n := textOf("domain notice", ".alert.notice")
		row := textOf("domain row", "#domains tbody")
		if !strings.Contains(n, "_tenantgate.shop.example.com") || !strings.Contains(row, "not verified") || !strings.Contains(row, "_tenantgate.shop.example.com") {
			t.Errorf("after adding a domain: notice %q, row %q; want the TXT record and not verified", n, row)
		}
		screenshot("6-domain-added")
		run("verify domain",
			chromedp.Click(chromedp.CSS(`form[action="/tenants/acme-two/domains/shop.example.com/verify"] button`)),
			chromedp.WaitVisible(chromedp.CSS(`.alert.error`)))
		if e := textOf("verify error", ".alert.error"); !strings.Contains(e, "not verified yet") || !strings.Contains(e, "_tenantgate.shop.example.com") {
			t.Errorf("verify without the TXT record: %q", e)
		}
		screenshot("7-domain-not-verified")
	})

	t.Run("jobs", func(t *testing.T) {
		run("open the job list",
			chromedp.Click(chromedp.CSS(`nav a[href="/jobs"]`)),
			chromedp.WaitVisible(chromedp.CSS(`main h1`)))
		if h := textOf("jobs heading", "main h1"); h != "Jobs" {
			t.Errorf("job list heading = %q", h)
		}
		screenshot("9-jobs")
	})

	t.Run("api reference", func(t *testing.T) {
		run("open the API reference",
			chromedp.Click(chromedp.CSS(`nav a[href="/api/docs"]`)),
			chromedp.WaitVisible(chromedp.ID("schemas")))
		if body := textOf("api docs", "main"); !strings.Contains(body, "/api/tenants/{subdomain}/domains/{hostname}/verify") {
			t.Errorf("the API reference lacks the verify route")
		}
		// The reference is long: the first screen shows what it is.
		shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			fail("screenshot api docs", err)
		}
		if err := os.WriteFile(filepath.Join(shots, "dashboard-8-api-docs.png"), shot, 0o644); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("screenshots in %s", shots)
}
