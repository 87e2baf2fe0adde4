package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browser is one headless Chromium for one test, with the steps every
// browser test takes: each failed step leaves a screenshot named after it
// in shots and fails the test.
type browser struct {
	t *testing.T
	// ctx drives the browser; it ends at the test's browser deadline.
	ctx    context.Context
	shots  string // the screenshot directory
	prefix string // starts this test's screenshot names
}

// startBrowser starts Chromium with the flags this machine needs (no
// background networking, which its closed network refuses), a new profile
// and a 1280×900 window; it is stopped when the test ends. Every step must
// finish within timeout.
func startBrowser(t *testing.T, shots, prefix string, timeout time.Duration) *browser {
	t.Helper()
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	t.Cleanup(cancelAlloc)
	tab, cancelTab := chromedp.NewContext(alloc)
	t.Cleanup(cancelTab)
	// The first call starts the browser; it gets no deadline (that would
	// stop the browser), the steps after it do.
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	ctx, cancel := context.WithTimeout(tab, timeout)
	t.Cleanup(cancel)
	return &browser{t: t, ctx: ctx, shots: shots, prefix: prefix}
}

// fail saves a screenshot named after step and fails the test.
func (b *browser) fail(step string, err error) {
	b.t.Helper()
	if shot, _ := chromedp.Run(b.ctx, chromedp.FullScreenshot(100)); len(shot) > 0 {
		_ = os.WriteFile(filepath.Join(b.shots, "failed-"+b.prefix+strings.ReplaceAll(step, " ", "-")+".png"), shot, 0o644)
	}
	b.t.Fatalf("%s: %v (screenshots in %s)", step, err, b.shots)
}

// run runs actions as step.
func (b *browser) run(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.fail(step, err)
	}
}

// textOf returns the text of the first element matching css.
func (b *browser) textOf(step, css string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		b.fail(step, err)
	}
	return s
}

// screenshot saves the whole page as shots/<prefix><name>.png.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	shot, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.fail("screenshot "+name, err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, b.prefix+name+".png"), shot, 0o644); err != nil {
		b.t.Fatal(err)
	}
}
