package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// TestBrowserHTTPSRefusalPages opens, in headless Chromium over HTTPS, a
// suspended tenant, one in maintenance and an unknown name through the
// real bin/caddy: the first two show the edge's 403 and 503 pages (their
// handshake succeeds), the unknown name fails the handshake. Screenshots of
// the two pages go to testdata-out/e2e/https-suspended.png and
// https-maintenance.png at the module root.
func TestBrowserHTTPSRefusalPages(t *testing.T) {
	const chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("this test needs Debian's Chromium (apt-get install chromium): %v", err)
	}
	w := newWorld(t, "")
	if err := w.store.Insert(context.Background(), &tenantstore.Tenant{Name: "Initech", Subdomain: "initech",
		AdminEmail: "boss@initech.test", Status: tenantstore.StatusMaintenance, MaxUsers: 5, DatabaseName: "x_initech"}); err != nil {
		t.Fatalf("inserting tenant initech: %v", err)
	}
	shots := filepath.Join(repoRoot, "testdata-out", "e2e")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}

	alloc, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		// The edge's local CA is not in Chromium's trust store; a name
		// the edge has no certificate for still fails the handshake.
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1024, 700),
	)
	defer cancel()
	browser, cancel := chromedp.NewContext(alloc)
	defer cancel()
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("starting %s: %v", chromium, err)
	}
	ctx, cancel := context.WithTimeout(browser, 2*time.Minute)
	defer cancel()

	for _, tt := range []struct {
		host, shot, want string
	}{
		{"umbrella.localhost", "https-suspended.png", "suspended"},
		{"initech.localhost", "https-maintenance.png", "maintenance"},
	} {
		t.Run(tt.host, func(t *testing.T) {
			url := fmt.Sprintf("https://%s:%d/invoices", tt.host, w.edge.httpsPort)
			if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
				t.Fatalf("opening %s: %v, want the handshake to succeed and the page shown", url, err)
			}
			body, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
			if err != nil {
				t.Fatalf("reading %s: %v", url, err)
			}
			shot, _ := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			_ = os.WriteFile(filepath.Join(shots, tt.shot), shot, 0o644)
			if !strings.Contains(strings.ToLower(body), tt.want) {
				t.Errorf("%s shows %q, want the page saying %q", url, body, tt.want)
			}
		})
	}

	t.Run("unknown name", func(t *testing.T) {
		url := fmt.Sprintf("https://nobody.localhost:%d/", w.edge.httpsPort)
		err := chromedp.Do(ctx, chromedp.Navigate(url))
		if err == nil || !strings.Contains(err.Error(), "ERR_") {
			t.Errorf("opening %s = %v, want a failed handshake (net::ERR_…)", url, err)
		}
	})
}
