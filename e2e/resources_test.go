package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestResources walks, in headless Chromium through caddy, each resource
// of the tenant app (issue 13) as a user without JavaScript tricks would:
// the untouched create form refused with every field's error, create,
// detail, edit, delete with its confirmation; users with their seat
// count, a role change and a deactivation; then the pages at 390 px wide
// with no sideways scrolling. Screenshots: testdata-out/e2e/<resource>-*.png.
func TestResources(t *testing.T) {
	shots, logDir := browserTestDirs(t)
	s := startStack(t, logDir)
	const password = "shop-admin-password"
	s.adminAPI("POST", "/api/tenants", map[string]any{"name": "Corner Shop", "subdomain": "shop",
		"admin_email": "admin@shop.example.com", "admin_password": password, "max_users": 3, "multi_location": true}, 201)
	s.adminAPI("POST", "/api/tenants/shop/locations", map[string]any{"name": "High Street", "code": "high-street"}, 201)

	b := startBrowser(t, shots, "", 4*time.Minute)
	ctx, fail, run, textOf, screenshot := b.ctx, b.fail, b.run, b.textOf, b.screenshot
	fill := func(values [][2]string) chromedp.Action[chromedp.Void] {
		// Values are set by script (chromedp.SetValue refuses ""); the
		// fields exist, or WaitVisible fails first.
		var acts []chromedp.Action[chromedp.Void]
		for _, kv := range values {
			id, _ := json.Marshal(kv[0])
			v, _ := json.Marshal(kv[1])
			acts = append(acts, chromedp.WaitVisible(chromedp.ID(kv[0])), chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
				_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(document.getElementById(`+string(id)+`).value = `+string(v)+`, true)`))
				return err
			}))
		}
		return chromedp.Steps(acts...)
	}
	submit := func(form string) chromedp.Action[chromedp.Void] {
		return chromedp.Click(chromedp.CSS(`form[method="post"][action$="` + form + `"] button[type=submit]`))
	}

	run("log in",
		chromedp.Navigate(s.url("shop", "/login")),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), "admin@shop.example.com"),
		chromedp.SendKeys(chromedp.ID("password"), password),
		submit("/login"),
		chromedp.WaitNotPresent(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.CSS(`main h1`)))

	type walk struct {
		name, path    string
		wantErrors    []string    // fields refused on the untouched form
		create        [][2]string // field id → value
		created       string      // shown on the detail page after the create
		edit          [][2]string
		edited        string
		beforeDelete  func()
		deletedNotice string
	}
	walks := []walk{
		{name: "customers", path: "/customers", wantErrors: []string{"name"},
			create:  [][2]string{{"name", "Wile E. Coyote"}, {"email", "wile@example.com"}, {"phone", "+1 555 0100"}},
			created: "wile@example.com", edit: [][2]string{{"name", "Wile E. Coyote, Genius"}, {"email", ""}},
			edited: "Wile E. Coyote, Genius", deletedNotice: "Customer deleted."},
		{name: "products", path: "/products", wantErrors: []string{"sku", "name", "price"},
			create:  [][2]string{{"sku", "ANVIL-1"}, {"name", "Anvil"}, {"price", "49.90"}},
			created: "49.90", edit: [][2]string{{"price", "59.00"}}, edited: "59.00", deletedNotice: "Product deleted."},
		{name: "expenses", path: "/expenses", wantErrors: []string{"description", "amount", "spent_on"},
			create:  [][2]string{{"description", "Shop window paint"}, {"amount", "120.00"}, {"spent_on", "2026-11-02"}},
			created: "Shop window paint", edit: [][2]string{{"amount", "130.50"}}, edited: "130.50", deletedNotice: "Expense deleted."},
		{name: "users", path: "/users", wantErrors: []string{"email", "password"},
			create:  [][2]string{{"email", "clerk@shop.example.com"}, {"name", "Clerk"}, {"role", "member"}, {"password", "clerk-password"}},
			created: "Member", edit: [][2]string{{"role", "admin"}}, edited: "Administrator",
			beforeDelete: func() {
				run("users deactivate",
					chromedp.Click(chromedp.CSS(`a[href$="/deactivate"]`)),
					chromedp.WaitVisible(chromedp.CSS(`form[action$="/deactivate"]`)))
				screenshot("users-5-deactivate-confirm")
				run("users deactivated", submit("/deactivate"), chromedp.WaitVisible(chromedp.ID("details")))
				if d := textOf("users detail", "#details"); !strings.Contains(d, "Inactive") {
					t.Errorf("after deactivation the user shows %q, want Inactive", d)
				}
				if n := textOf("users notice", ".alert.notice"); !strings.HasPrefix(n, "User deactivated") {
					t.Errorf("after deactivation the notice is %q", n)
				}
				screenshot("users-6-deactivated")
			},
			deletedNotice: "User deleted."},
	}
	for _, w := range walks {
		run(w.name+" list", chromedp.Navigate(s.url("shop", w.path)), chromedp.WaitVisible(chromedp.ID("q")))
		if w.name == "users" {
			if seats := textOf("seats", "#seats"); !strings.Contains(seats, "1 of 3 users") {
				t.Errorf("users page shows %q, want 1 of 3 users", seats)
			}
		}
		// The untouched form: every missing field refused at once.
		run(w.name+" empty form", submit(w.path), chromedp.WaitVisible(chromedp.CSS(`.field-error`)))
		for _, f := range w.wantErrors {
			if n, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!document.getElementById("`+f+`-error")`)); !n {
				t.Errorf("%s: the empty form shows no error beside %s", w.name, f)
			}
		}
		screenshot(w.name + "-1-invalid")
		run(w.name+" create", fill(w.create), submit(w.path), chromedp.WaitVisible(chromedp.CSS(`.alert.notice`)))
		screenshot(w.name + "-2-list")
		// The new item is listed: open it.
		link, _ := json.Marshal(w.create[0][1])
		run(w.name+" open", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			found, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const a = [...document.querySelectorAll("table a")].find(a => a.textContent.includes(`+string(link)+`)); if (a) a.click(); return !!a })()`))
			if err == nil && !found {
				err = fmt.Errorf("no link to %s in the list", link)
			}
			return err
		}), chromedp.WaitVisible(chromedp.ID("details")))
		if d := textOf(w.name+" detail", "main"); !strings.Contains(d, w.created) {
			t.Errorf("%s detail after create = %q, want %q", w.name, d, w.created)
		}
		screenshot(w.name + "-3-detail")
		run(w.name+" edit form", chromedp.Click(chromedp.CSS(`a[href$="/edit"]`)), chromedp.WaitVisible(chromedp.CSS(`form[action$="/edit"]`)))
		run(w.name+" edit", fill(w.edit))
		screenshot(w.name + "-4-edit")
		run(w.name+" save", submit("/edit"), chromedp.WaitVisible(chromedp.ID("details")))
		if d := textOf(w.name+" detail", "#details"); !strings.Contains(d, w.edited) {
			t.Errorf("%s detail after edit = %q, want %q", w.name, d, w.edited)
		}
		if w.beforeDelete != nil {
			w.beforeDelete()
		}
		run(w.name+" delete", chromedp.Click(chromedp.CSS(`a[href$="/delete"]`)), chromedp.WaitVisible(chromedp.CSS(`form[action$="/delete"]`)))
		screenshot(w.name + "-7-delete-confirm")
		run(w.name+" deleted", submit("/delete"), chromedp.WaitVisible(chromedp.CSS(`.alert.notice`)))
		if n := textOf(w.name+" notice", ".alert.notice"); n != w.deletedNotice {
			t.Errorf("%s after delete: notice %q, want %q", w.name, n, w.deletedNotice)
		}
	}

	// Locations are read-only: listed, with a detail page and no form.
	run("locations", chromedp.Navigate(s.url("shop", "/locations")), chromedp.WaitVisible(chromedp.ID("locations")),
		chromedp.Click(chromedp.CSS(`#locations tbody a`)), chromedp.WaitVisible(chromedp.ID("details")))
	if d := textOf("location detail", "#details"); !strings.Contains(d, "high-street") {
		t.Errorf("location detail = %q, want its code", d)
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("main form").length`)); n != 0 {
		t.Errorf("the location page offers %d forms, want none (read-only)", n)
	}
	screenshot("locations-1-detail")

	// 390 px wide: no page scrolls sideways, and the skip link is first.
	run("a customer to list", chromedp.Navigate(s.url("shop", "/customers")), chromedp.WaitVisible(chromedp.ID("q")),
		fill([][2]string{{"name", "Acme Anvils and Rocket-Powered Roller Skates International"}, {"email", "orders@acme-anvils.example.com"}, {"address", "1 Desert Road, Mesa"}}),
		submit("/customers"), chromedp.WaitVisible(chromedp.CSS(`.alert.notice`)))
	run("narrow", chromedp.EmulateViewport(390, 844))
	for _, p := range []string{"/customers", "/products", "/expenses", "/users", "/locations", "/settings", "/"} {
		run("narrow "+p, chromedp.Navigate(s.url("shop", p)), chromedp.WaitVisible(chromedp.CSS(`main h1`)))
		width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		if err != nil {
			fail("scrollWidth of "+p, err)
		}
		if width > 390 {
			t.Errorf("%s at 390 px wide scrolls sideways: scrollWidth %d", p, width)
		}
		if p == "/customers" {
			screenshot("customers-8-390px")
		}
	}
	first, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("body a").textContent`))
	if err != nil || first != "Skip to the content" {
		t.Errorf("the first link is %q (%v), want the skip link", first, err)
	}
	t.Logf("screenshots in %s", shots)
}
