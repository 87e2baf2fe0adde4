package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowser drives the real stack through caddy in headless Chromium: log
// in on acme, create a customer and see it listed; log in on globex and not
// see it; the admin dashboard lists both tenants. Screenshots of every step
// are written to testdata-out/e2e/ at the module root (git-ignored).
func TestBrowser(t *testing.T) {
	shots, logDir := browserTestDirs(t)
	s := startStack(t, logDir)

	const acmePassword, globexPassword = "acme-admin-password", "globex-admin-password"
	s.adminAPI("POST", "/api/tenants", map[string]any{"name": "Acme Corporation", "subdomain": "acme",
		"admin_email": "admin@acme.example.com", "admin_password": acmePassword, "multi_location": true}, 201)
	s.adminAPI("POST", "/api/tenants/acme/locations", map[string]any{"name": "Downtown", "code": "downtown"}, 201)
	s.adminAPI("POST", "/api/tenants/acme/locations", map[string]any{"name": "Airport", "code": "airport"}, 201)
	s.adminAPI("POST", "/api/tenants", map[string]any{"name": "Globex", "subdomain": "globex",
		"admin_email": "admin@globex.example.com", "admin_password": globexPassword, "max_users": 5}, 201)

	b := startBrowser(t, shots, "", 3*time.Minute)
	ctx, fail, run, textOf, screenshot := b.ctx, b.fail, b.run, b.textOf, b.screenshot
	submit := func(form string) chromedp.Action[chromedp.Void] {
		return chromedp.Click(chromedp.CSS(`form[action="` + form + `"] button[type=submit]`))
	}
	login := func(tenant, password string) {
		t.Helper()
		run("open "+tenant+" login",
			chromedp.Navigate(s.url(tenant, "/login")),
			chromedp.WaitVisible(chromedp.ID("email")))
		screenshot(tenant + "-1-login")
		run("log in on "+tenant,
			chromedp.SendKeys(chromedp.ID("email"), "admin@"+tenant+".example.com"),
			chromedp.SendKeys(chromedp.ID("password"), password),
			submit("/login"),
			// The login page has a main h1 too: wait for it to be gone
			// before reading the page the login lands on.
			chromedp.WaitNotPresent(chromedp.ID("password")),
			chromedp.WaitVisible(chromedp.CSS(`main h1`)))
		if h := textOf("after login on "+tenant, "main h1"); h != "Dashboard" {
			fail("log in on "+tenant, fmt.Errorf("landed on %q, want the Dashboard", h))
		}
	}

	// acme: log in, a refused customer form, a customer, a product, an
	// issued invoice, and the dashboard with its chart.
	login("acme", acmePassword)
	if h := textOf("acme header", "header .org"); !strings.Contains(h, "Acme Corporation") {
		t.Errorf("acme header = %q, want the organization's name", h)
	}
	run("acme customers",
		chromedp.Navigate(s.url("acme", "/customers")),
		chromedp.WaitVisible(chromedp.ID("name")),
		chromedp.SendKeys(chromedp.ID("email"), "not-an-address"),
		submit("/customers"),
		chromedp.WaitVisible(chromedp.ID("name-error")))
	screenshot("acme-2-customer-error")
	// The refused form keeps what was typed; empty the bad e-mail.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(document.getElementById("email").value = "", true)`)); err != nil {
		fail("clear e-mail", err)
	}
	run("acme create customer",
		chromedp.SendKeys(chromedp.ID("name"), "Wile E. Coyote"),
		chromedp.SendKeys(chromedp.ID("email"), "wile@acme.example.com"),
		chromedp.SendKeys(chromedp.ID("phone"), "+1 555 0100"),
		submit("/customers"),
		chromedp.WaitVisible(chromedp.ID("customers")))
	if list := textOf("acme customers list", "#customers"); !strings.Contains(list, "Wile E. Coyote") {
		t.Fatalf("acme /customers after creating one = %q, want Wile E. Coyote listed", list)
	}
	screenshot("acme-3-customers")
	run("acme create product",
		chromedp.Navigate(s.url("acme", "/products")),
		chromedp.WaitVisible(chromedp.ID("sku")),
		chromedp.SendKeys(chromedp.ID("sku"), "ROCKET-1"),
		chromedp.SendKeys(chromedp.ID("name"), "Rocket skates"),
		chromedp.SendKeys(chromedp.ID("price"), "149.90"),
		submit("/products"),
		chromedp.WaitVisible(chromedp.ID("products")))
	run("acme invoice form",
		chromedp.Navigate(s.url("acme", "/invoices")),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/invoices"]`)))
	chosen, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
		for (const n of ["lines[0].product_id", "location_id"]) {
			document.querySelector('[name="' + n + '"]').selectedIndex = 1;
		}
		return document.querySelector('[name="lines[0].product_id"]').value;
	})()`))
	if err != nil || chosen == "" {
		fail("choose the product", fmt.Errorf("chose %q: %v", chosen, err))
	}
	run("acme create invoice",
		chromedp.SetValue(chromedp.ID("status"), "issued"),
		chromedp.SetValue(chromedp.CSS(`[name="lines[0].quantity"]`), "2"),
		chromedp.Click(chromedp.ID("invoice-save")),
		chromedp.WaitVisible(chromedp.ID("invoices")))
	if list := textOf("acme invoices list", "#invoices"); !strings.Contains(list, "299.80") {
		t.Errorf("acme /invoices = %q, want the invoice of 2 × 149.90 = 299.80", list)
	}
	screenshot("acme-4-invoices")
	run("acme dashboard",
		chromedp.Navigate(s.url("acme", "/")),
		chromedp.WaitVisible(chromedp.CSS(`svg.chart`)))
	if main := textOf("acme dashboard text", "main"); !strings.Contains(main, "Downtown") || !strings.Contains(main, "Airport") || !strings.Contains(main, "299.80") {
		t.Errorf("acme dashboard = %q, want both locations and the sale of 299.80", main)
	}
	screenshot("acme-5-dashboard")

	// globex: the same browser, another tenant; acme's customer is not there.
	login("globex", globexPassword)
	run("globex customers",
		chromedp.Navigate(s.url("globex", "/customers")),
		chromedp.WaitVisible(chromedp.CSS(`main h1`)))
	if main := textOf("globex customers text", "main"); strings.Contains(main, "Wile E. Coyote") || !strings.Contains(main, "No customers yet") {
		t.Errorf("globex /customers = %q, want no customers (and not acme's)", main)
	}
	screenshot("globex-1-customers")

	// The operators' dashboard lists both tenants.
	run("admin login",
		chromedp.Navigate(s.url("admin", "/")),
		chromedp.WaitVisible(chromedp.ID("token")))
	screenshot("admin-1-login")
	run("admin dashboard",
		chromedp.SendKeys(chromedp.ID("token"), s.adminToken),
		submit("/login"),
		chromedp.WaitVisible(chromedp.ID("tenants")))
	table := textOf("admin tenants", "#tenants")
	for _, want := range []string{"Acme Corporation", "acme", "Globex", "globex", "Downtown (downtown)", "1 / 50", "1 / 5"} {
		if !strings.Contains(table, want) {
			t.Errorf("admin dashboard lacks %q: %q", want, table)
		}
	}
	screenshot("admin-2-dashboard")

	// A rename through the admin API reaches caddy's resolver (another
	// process) over the invalidation channel: within a second the old host
	// is unknown (404) and the new one is served.
	s.adminAPI("PATCH", "/api/tenants/globex", map[string]any{"subdomain": "globex-two"}, 200)
	deadline := time.Now().Add(time.Second)
	for {
		oldStatus, newStatus := s.status("globex", "/login"), s.status("globex-two", "/login")
		if oldStatus == 404 && newStatus == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("1 s after the rename: globex.localhost = %d, globex-two.localhost = %d; want 404 and 200", oldStatus, newStatus)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("screenshots in %s", shots)
}

// browserTestDirs starts a browser test: it skips under -short, makes the
// screenshot directory (testdata-out/e2e/ at the module root) and a log
// directory for the stack, whose logs are copied beside the screenshots if
// the test fails.
func browserTestDirs(t *testing.T) (shots, logDir string) {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test: skipped under -short")
	}
	shots = filepath.Join(repoRoot, "testdata-out", "e2e")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	logDir = t.TempDir()
	t.Cleanup(func() {
		if t.Failed() {
			copyLogs(t, logDir, shots)
		}
	})
	return shots, logDir
}

// copyLogs keeps the stack's logs beside the screenshots of a failed run.
func copyLogs(t *testing.T, from, to string) {
	entries, _ := os.ReadDir(from)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err == nil {
			_ = os.WriteFile(filepath.Join(to, e.Name()), b, 0o644)
		}
	}
	t.Logf("stack logs copied to %s", to)
}
