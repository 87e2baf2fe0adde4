package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// TestBrowserInvoiceLifecycle walks an invoice's life in Chromium through
// caddy: a form with two lines whose total follows the typing (the app's
// own script adds and removes rows), issued, paid, its printable view (and
// PDF); the form at 390 px; the reports page and its CSV download; and the
// demo data of `make run` on the reports. Screenshots: invoice-*.png and
// reports-*.png under testdata-out/e2e/.
func TestBrowserInvoiceLifecycle(t *testing.T) {
	shots, logDir := browserTestDirs(t)
	s := startStack(t, logDir)
	const password = "shop-admin-password"
	s.adminAPI("POST", "/api/tenants", map[string]any{"name": "Corner Shop", "subdomain": "shop",
		"admin_email": "admin@shop.example.com", "admin_password": password, "multi_location": true}, 201)
	s.adminAPI("POST", "/api/tenants/shop/locations", map[string]any{"name": "Harbour", "code": "harbour"}, 201)

	b := startBrowser(t, shots, "", 3*time.Minute)
	ctx, fail, run, textOf := b.ctx, b.fail, b.run, b.textOf
	eval := func(step, js string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
		if err != nil {
			fail(step, err)
		}
		return v
	}
	screenshot := b.screenshot
	click := func(css string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(css)) }

	run("log in",
		chromedp.Navigate(s.url("shop", "/login")),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), "admin@shop.example.com"),
		chromedp.SendKeys(chromedp.ID("password"), password),
		click(`form[action="/login"] button[type=submit]`),
		chromedp.WaitNotPresent(chromedp.ID("password")))
	run("a customer",
		chromedp.Navigate(s.url("shop", "/customers")),
		chromedp.WaitVisible(chromedp.ID("name")),
		chromedp.SendKeys(chromedp.ID("name"), "Harbour Café"),
		click(`form[action="/customers"] button[type=submit]`),
		chromedp.WaitVisible(chromedp.CSS(".alert.notice")))
	for _, p := range [][3]string{{"TEA-1", "Green tea", "12.50"}, {"CUP-2", "Cup", "4.00"}} {
		run("product "+p[0],
			chromedp.Navigate(s.url("shop", "/products")),
			chromedp.WaitVisible(chromedp.ID("sku")),
			chromedp.SendKeys(chromedp.ID("sku"), p[0]),
			chromedp.SendKeys(chromedp.ID("name"), p[1]),
			chromedp.SendKeys(chromedp.ID("price"), p[2]),
			click(`form[action="/products"] button[type=submit]`),
			// The notice is on the page after the post, not the one before.
			chromedp.WaitVisible(chromedp.CSS(".alert.notice")))
	}

	t.Run("create with two lines", func(t *testing.T) {
		run("invoice form",
			chromedp.Navigate(s.url("shop", "/invoices")),
			chromedp.WaitVisible(chromedp.ID("invoice-save")))
		// The script adds a third row in place, and removes it again.
		run("add a row", click(`button[name="add"]`), chromedp.WaitVisible(chromedp.CSS(`[name="lines[2].product_id"]`)))
		run("remove it", click(`button[name="remove"][value="2"]`), chromedp.WaitNotPresent(chromedp.CSS(`[name="lines[2].product_id"]`)))
		// Choose the products as a user does; the total follows.
		eval("choose products", `(() => {
			const pick = (name, sku) => {
				const s = document.querySelector('[name="' + name + '"]');
				s.value = [...s.options].find(o => o.text.startsWith(sku)).value;
				s.dispatchEvent(new Event("change", {bubbles: true}));
			};
			pick("lines[0].product_id", "TEA-1");
			pick("lines[1].product_id", "CUP-2");
			document.querySelector('[name="location_id"]').selectedIndex = 1; // Harbour
			return "";
		})()`)
		// Type the quantities (the rows start at 1: select it, type over it).
		for _, q := range [][2]string{{"lines[0].quantity", "2"}, {"lines[1].quantity", "1.5"}} {
			sel := fmt.Sprintf(`[name=%q]`, q[0])
			eval("select "+q[0], fmt.Sprintf(`(document.querySelector(%q).select(), "")`, sel))
			run("type "+q[0], chromedp.SendKeys(chromedp.CSS(sel), q[1]))
		}
		// 2 × 12.50 + 1.5 × 4.00 = 31.00
		if got := textOf("live total", "#invoice-total"); got != "31.00" {
			t.Errorf("live total = %q, want 31.00", got)
		}
		if shown := eval("no-script button", `getComputedStyle(document.querySelector('button[name="recalc"]')).display`); shown != "none" {
			t.Errorf("with the script, the Update total button shows (display %q)", shown)
		}
		screenshot("invoice-1-form")
		// Enter in a field saves (the form's default button), as in any form.
		run("create with Enter", chromedp.SendKeys(chromedp.CSS(`[name="lines[1].quantity"]`), "\r"), chromedp.WaitVisible(chromedp.ID("invoices")))
		if list := textOf("list", "#invoices"); !strings.Contains(list, "31.00") || !strings.Contains(list, "draft") {
			t.Errorf("invoice list = %q, want the draft of 31.00", list)
		}
	})

	t.Run("390 px wide", func(t *testing.T) {
		run("narrow", chromedp.EmulateViewport(390, 844), chromedp.Navigate(s.url("shop", "/invoices")), chromedp.WaitVisible(chromedp.ID("invoice-save")))
		// The invoice pages' own content (main) fits; the header is the layout's.
		if w := eval("content width", `(m => m.scrollWidth + "/" + m.clientWidth)(document.querySelector("main"))`); w != "390/390" {
			t.Errorf("/invoices at 390 px: main is %s px (scroll/client), want it to fit", w)
		}
		screenshot("invoice-5-form-390px")
		run("wide again", chromedp.EmulateViewport(1280, 900))
	})

	t.Run("issue, pay, print", func(t *testing.T) {
		run("open it", click(`#invoices tbody a`), chromedp.WaitVisible(chromedp.ID("invoice-status")))
		if main := textOf("detail", "main"); !strings.Contains(main, "Harbour Café") || !strings.Contains(main, "1.5") || !strings.Contains(main, "31.00") {
			t.Errorf("invoice detail = %q, want the customer, quantity 1.5 and the total 31.00", main)
		}
		screenshot("invoice-2-draft")
		for _, to := range []string{"issued", "paid"} {
			run("status "+to,
				click(fmt.Sprintf(`form[action$="/status"] input[value=%q] + button`, to)),
				chromedp.WaitVisible(chromedp.CSS("#invoice-status."+to)))
		}
		if main := textOf("paid", "main"); !strings.Contains(main, "Invoice marked as paid.") || strings.Contains(main, "Void") || strings.Contains(main, "Edit") {
			t.Errorf("paid invoice page = %q, want the notice and no void or edit", main)
		}
		screenshot("invoice-3-paid")
		run("print view", click("#print-link"), chromedp.WaitVisible(chromedp.CSS(".print-sheet")))
		if sheet := textOf("print sheet", ".print-sheet"); !strings.Contains(sheet, "Corner Shop") || !strings.Contains(sheet, "Harbour Café") || !strings.Contains(sheet, "31.00") {
			t.Errorf("print view = %q, want the shop, the customer and the total", sheet)
		}
		if hidden := eval("print media", `matchMedia("print").matches ? "print" : getComputedStyle(document.querySelector("header.top")).display`); hidden == "" {
			t.Errorf("print view: no header style")
		}
		screenshot("invoice-4-print")
		// The browser's print to PDF is the invoice's PDF.
		pdf, err := chromedp.Run(ctx, chromedp.PrintToPDF(chromedp.PDFPaper(chromedp.PaperA4)))
		if err != nil || !strings.HasPrefix(string(pdf), "%PDF") {
			fail("print to PDF", fmt.Errorf("%d bytes: %v", len(pdf), err))
		}
		if err := os.WriteFile(filepath.Join(shots, "invoice-4-print.pdf"), pdf, 0o644); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("reports and CSV", func(t *testing.T) {
		run("reports", chromedp.Navigate(s.url("shop", "/reports")), chromedp.WaitVisible(chromedp.ID("report-locations")))
		if table := textOf("per location", "#report-locations"); !strings.Contains(table, "31.00") {
			t.Errorf("reports per location = %q, want the paid 31.00", table)
		}
		if days := textOf("per day", "#report-days"); !strings.Contains(days, time.Now().UTC().Format(time.DateOnly)) && !strings.Contains(days, "31.00") {
			t.Errorf("reports per day = %q, want today's 31.00", days)
		}
		screenshot("reports-1-page")
		// Download the per-location CSV as a user does: click its link.
		downloads := t.TempDir()
		if _, err := chromedp.CallBrowser(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
			Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads}); err != nil {
			fail("allow downloads", err)
		}
		run("download CSV", click(`#report-locations ~ p a[download], a[href^="/reports.csv"][href*="table=locations"]`))
		var body []byte
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && body == nil; time.Sleep(100 * time.Millisecond) {
			files, _ := filepath.Glob(filepath.Join(downloads, "sales-locations-*.csv"))
			if len(files) == 1 {
				body, _ = os.ReadFile(files[0])
			}
		}
		if body == nil {
			fail("download CSV", fmt.Errorf("no sales-locations-*.csv in %s", downloads))
		}
		if csv := string(body); !strings.HasPrefix(csv, "location,invoices,sales,paid,outstanding,expenses,margin\n") || !strings.Contains(csv, "Harbour,1,31.00,31.00,0.00,0.00,31.00") {
			t.Errorf("downloaded CSV = %q, want the header and Harbour's row", csv)
		}
	})
	// The demo data of `make run` gives the reports months of history:
	// demoseed fills a tenant through the edge, and a second run adds nothing.
	t.Run("demo data", func(t *testing.T) {
		const demoPassword = "demo-admin-password"
		s.adminAPI("POST", "/api/tenants", map[string]any{"name": "Demo Shop", "subdomain": "demo",
			"admin_email": "admin@demo.example", "admin_password": demoPassword, "multi_location": true}, 201)
		s.adminAPI("POST", "/api/tenants/demo/locations", map[string]any{"name": "Uptown", "code": "uptown"}, 201)
		s.adminAPI("POST", "/api/tenants/demo/locations", map[string]any{"name": "Riverside", "code": "riverside"}, 201)
		seeder := filepath.Join(t.TempDir(), "demoseed")
		if out, err := exec.Command("go", "build", "-o", seeder, "../scripts/demoseed").CombinedOutput(); err != nil {
			t.Fatalf("building demoseed: %v\n%s", err, out)
		}
		seed := func() string {
			cmd := exec.Command(seeder, "-edge", fmt.Sprintf("http://127.0.0.1:%d", s.httpPort), "-base-domain", "localhost", "demo")
			cmd.Env = append(os.Environ(), "DEMO_PASSWORD="+demoPassword)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("demoseed: %v\n%s", err, out)
			}
			return string(out)
		}
		if out := seed(); !strings.Contains(out, "records added") {
			t.Fatalf("first demoseed run = %q, want records added", out)
		}
		if out := seed(); !strings.Contains(out, "already there") {
			t.Errorf("second demoseed run = %q, want nothing added", out)
		}
		run("demo login",
			chromedp.Navigate(s.url("demo", "/login")),
			chromedp.WaitVisible(chromedp.ID("email")),
			chromedp.SendKeys(chromedp.ID("email"), "admin@demo.example"),
			chromedp.SendKeys(chromedp.ID("password"), demoPassword),
			click(`form[action="/login"] button[type=submit]`),
			chromedp.WaitNotPresent(chromedp.ID("password")))
		now := time.Now().UTC()
		from := now.AddDate(0, 0, -180).Format(time.DateOnly)
		run("demo reports", chromedp.Navigate(s.url("demo", "/reports?from="+from+"&to="+now.Format(time.DateOnly))), chromedp.WaitVisible(chromedp.ID("report-locations")))
		for _, loc := range []string{"Uptown", "Riverside"} {
			row := eval("row "+loc, fmt.Sprintf(`[...document.querySelectorAll("#report-locations tbody tr")].map(r => r.innerText).find(t => t.startsWith(%q)) || ""`, loc))
			cells := strings.Split(row, "\t")
			// location, invoices, sales, paid, outstanding, expenses, margin
			if len(cells) != 7 || cells[3] == "0.00" || cells[4] == "0.00" || cells[5] == "0.00" {
				t.Errorf("demo reports at %s = %q, want paid, outstanding and expenses", loc, row)
			}
		}
		if days := eval("days", `String(document.querySelectorAll("#report-days tbody tr").length)`); len(days) < 2 {
			t.Errorf("demo reports: %s days with sales, want months of them (at least 10)", days)
		}
		screenshot("reports-2-demo-data")
	})
}
