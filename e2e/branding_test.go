package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"github.com/tenantgate/tenantgate/internal/testenv"
)

// TestBrowserBranding sets a tenant's branding through the admin API and
// looks at it in Chromium through caddy: the colour (computed style of the
// navigation bar and of the printed invoice's rule), the display name and
// the logo (loaded: naturalWidth > 0) on the login page, the navigation
// and the printable invoice. Then it proves an SVG cannot run script: a
// hostile SVG uploaded through the API is stored without its script, and
// even one written into the control plane unsanitised (as if the sanitiser
// had a hole) runs nothing when opened on its own, thanks to the logo's
// sandboxing CSP: its script would set the title and call a recorder.
// Screenshots: testdata-out/e2e/branding-*.png.
func TestBrowserBranding(t *testing.T) {
	shots, logDir := browserTestDirs(t)
	// The recorder counts every request a script would make.
	var hits atomic.Int64
	recorder := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.Header().Set("Access-Control-Allow-Origin", "*")
	}))
	t.Cleanup(recorder.Close)

	s := startStack(t, logDir)
	const password = "brand-admin-password"
	s.adminAPI("POST", "/api/tenants", map[string]any{"name": "Plain Name", "subdomain": "brand",
		"admin_email": "admin@brand.example.com", "admin_password": password}, 201)
	s.adminAPI("PUT", "/api/tenants/brand/branding", map[string]any{"display_name": "Brand & Co", "primary_color": "#b4141e"}, 200)
	const wantColor = "rgb(180, 20, 30)"
	s.adminRaw("PUT", "/api/tenants/brand/branding/logo", "image/png", testenv.PNG(96, 32, color.RGBA{R: 255, G: 200, B: 40, A: 255}), 200)

	b := startBrowser(t, shots, "branding-", 3*time.Minute)
	ctx, run, screenshot := b.ctx, b.run, b.screenshot
	eval := func(step, js string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
		if err != nil {
			b.fail(step, err)
		}
		return v
	}
	// shows checks the page's brand: the computed colour of css, the
	// display name in nameCSS and a loaded logo in logoCSS.
	shows := func(page, colorCSS, colorProp, nameCSS, logoCSS string) {
		t.Helper()
		if got := eval(page+" colour", fmt.Sprintf(`getComputedStyle(document.querySelector(%q)).%s`, colorCSS, colorProp)); got != wantColor {
			t.Errorf("%s: %s %s = %q, want %s", page, colorCSS, colorProp, got, wantColor)
		}
		if got := b.textOf(page+" name", nameCSS); !strings.Contains(got, "Brand & Co") {
			t.Errorf("%s: %s = %q, want the display name", page, nameCSS, got)
		}
		js := fmt.Sprintf(`(async () => { const i = document.querySelector(%q); if (!i) return "no image";
			if (!i.complete) await new Promise(r => { i.onload = r; i.onerror = r; }); return String(i.naturalWidth); })()`, logoCSS)
		if got := eval(page+" logo", js); got == "no image" || got == "0" {
			t.Errorf("%s: logo %s naturalWidth = %s, want > 0", page, logoCSS, got)
		}
	}

	run("login page", chromedp.Navigate(s.url("brand", "/login")), chromedp.WaitVisible(chromedp.ID("email")))
	shows("login page", "header.top", "backgroundColor", "header.top #brand-name", "#login-logo")
	if got := b.textOf("login heading", "h1"); got != "Log in to Brand & Co" {
		t.Errorf("login heading = %q, want the display name", got)
	}
	screenshot("login")

	run("log in",
		chromedp.SendKeys(chromedp.ID("email"), "admin@brand.example.com"),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`nav[aria-label="Main"]`)))
	shows("navigation", "header.top", "backgroundColor", "header.top #brand-name", "#brand-logo")
	screenshot("navigation")

	// An invoice through the tenant API (the pages' CSP forbids fetch).
	api := func(token, path string, body any) map[string]any {
		t.Helper()
		raw, _ := json.Marshal(body)
		want := http.StatusCreated
		if path == "/api/auth/login" {
			want = http.StatusOK
		}
		return s.call("brand", token, "POST", path, "application/json", raw, want)
	}
	token, _ := api("", "/api/auth/login", map[string]any{"email": "admin@brand.example.com", "password": password})["token"].(string)
	cust := api(token, "/api/customers", map[string]any{"name": "Road Runner", "address": "1 Desert Rd"})["id"]
	prod := api(token, "/api/products", map[string]any{"sku": "SEED", "name": "Bird seed", "price": "2.50"})["id"]
	id, _ := api(token, "/api/invoices", map[string]any{"customer_id": cust, "lines": []map[string]any{{"product_id": prod, "quantity": "4"}}})["id"].(string)
	run("printable invoice", chromedp.Navigate(s.url("brand", "/invoices/"+id+"/print")), chromedp.WaitVisible(chromedp.ID("print-total")))
	shows("printable invoice", ".print-sheet", "borderTopColor", ".print-org", "#print-logo")
	screenshot("invoice-print")

	t.Run("svg script never runs", func(t *testing.T) {
		hostile := fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="64" height="32" onload="document.title='pwned-onload';fetch('%[1]s/onload')">
<script>document.title='pwned';fetch('%[1]s/script')</script>
<rect width="64" height="32" rx="8" fill="#ffc828"/><circle cx="16" cy="16" r="10" fill="#ffffff"/>
<foreignObject width="10" height="10"><iframe xmlns="http://www.w3.org/1999/xhtml" src="%[1]s/iframe"></iframe></foreignObject>
<image href="%[1]s/image.png" width="1" height="1"/>
</svg>`, recorder.URL)
		// Through the API: stored without its script.
		res := s.adminRaw("PUT", "/api/tenants/brand/branding/logo", "image/svg+xml", []byte(hostile), 200)
		logo, _ := res["logo"].(map[string]any)
		checkNoScript := func(step string) {
			t.Helper()
			run(step, chromedp.Navigate(s.url("brand", "/branding/logo")), chromedp.Sleep(500*time.Millisecond))
			if title := eval(step+" title", `document.title`); strings.Contains(title, "pwned") {
				t.Errorf("%s: document.title = %q: the SVG's script ran", step, title)
			}
			run(step+" login", chromedp.Navigate(s.url("brand", "/login")), chromedp.WaitVisible(chromedp.ID("login-logo")), chromedp.Sleep(500*time.Millisecond))
			if title := eval(step+" login title", `document.title`); strings.Contains(title, "pwned") {
				t.Errorf("%s: the login page's title = %q: the SVG's script ran", step, title)
			}
			if n := hits.Load(); n != 0 {
				t.Errorf("%s: the recorder got %d requests from the SVG", step, n)
			}
		}
		checkNoScript("sanitised svg")
		screenshot("svg-login")

		// Straight into the control plane, unsanitised: only the CSP and
		// <img> stand between it and the browser.
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, s.controlDB)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		sum := sha256.Sum256([]byte(hostile))
		hash := hex.EncodeToString(sum[:])
		if _, err := conn.Exec(ctx, `UPDATE tenant_logos SET data = $1, sha256 = $2`, []byte(hostile), hash); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, `UPDATE tenants SET logo_sha256 = $1 WHERE subdomain = 'brand'`, hash); err != nil {
			t.Fatal(err)
		}
		// Any branding change tells every cache; the pages then ask for the new hash.
		s.adminAPI("PUT", "/api/tenants/brand/branding", map[string]any{"display_name": "Brand & Co", "primary_color": "#b4141e"}, 200)
		if logo["sha256"] == hash {
			t.Fatal("the API stored the hostile SVG unchanged")
		}
		time.Sleep(time.Second) // within a second on every instance
		checkNoScript("unsanitised svg")
		served, err := s.client.Get(s.url("brand", "/branding/logo"))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(served.Body)
		served.Body.Close()
		if !strings.Contains(string(raw), "<script>") {
			t.Errorf("the unsanitised SVG was not what the appserver served (%.80q): the test proved nothing", raw)
		}
		screenshot("svg-unsanitised-login")
	})

	t.Run("dashboard section", func(t *testing.T) {
		run("admin login",
			chromedp.Navigate(s.url("admin", "/")),
			chromedp.WaitVisible(chromedp.ID("token")),
			chromedp.SendKeys(chromedp.ID("token"), s.adminToken),
			chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
			chromedp.WaitVisible(chromedp.ID("tenants")))
		run("tenant page", chromedp.Navigate(s.url("admin", "/tenants/brand")), chromedp.WaitVisible(chromedp.ID("branding")),
			chromedp.ScrollIntoView(chromedp.ID("branding")))
		if got := eval("preview colour", `document.getElementById("brand-swatch").getAttribute("fill")`); got != "#b4141e" {
			t.Errorf("dashboard preview colour = %q, want #b4141e", got)
		}
		if got := eval("preview logo", `String(document.getElementById("brand-logo-preview").naturalWidth)`); got == "0" {
			t.Errorf("dashboard preview logo naturalWidth = %s, want > 0", got)
		}
		screenshot("dashboard-section")
	})
}
