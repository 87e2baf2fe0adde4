package appserver

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"image/color"
	"net/http"
	"strings"
	"testing"

	"github.com/tenantgate/tenantgate/appserver/brandlogo"
	"github.com/tenantgate/tenantgate/appserver/tenantpool"
	"github.com/tenantgate/tenantgate/internal/testenv"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// brand gives f's tenant a branding and, with data, a logo, as the control
// plane and the resolver would hand them out.
func (e *env) brand(f *tenantFixture, b tenantstore.Branding, data []byte) string {
	e.t.Helper()
	cp := *f.Tenant
	var sum string
	if data != nil {
		h := sha256.Sum256(data)
		sum = hex.EncodeToString(h[:])
		b.LogoSHA256, b.LogoType = sum, "image/png"
		e.dir.mu.Lock()
		e.dir.logos[f.ID] = &tenantstore.Logo{ContentType: "image/png", SHA256: sum, Data: data}
		e.dir.mu.Unlock()
	}
	cp.Branding = b
	e.dir.put(&cp)
	f.Tenant = &cp
	return sum
}

func TestLogoServedByHash(t *testing.T) {
	e := newEnv(t, tenantpool.Config{})
	acme := e.addTenant("acme", 10)
	globex := e.addTenant("globex", 10)
	pngData := testenv.PNG(12, 6, color.RGBA{G: 200, A: 255})
	sum := e.brand(acme, tenantstore.Branding{DisplayName: "Acme Rockets"}, pngData)
	get := func(f *tenantFixture, path string, h http.Header) response {
		return e.do(f, call{method: http.MethodGet, path: path, noSession: true, header: h})
	}

	res := get(acme, brandlogo.Path+"?v="+sum, nil)
	if res.Status != http.StatusOK || !bytes.Equal(res.Raw, pngData) {
		t.Fatalf("GET %s?v=<hash> = %d (%d bytes), want the PNG without a session", brandlogo.Path, res.Status, len(res.Raw))
	}
	for k, want := range map[string]string{
		"Content-Type":            "image/png",
		"ETag":                    `"` + sum + `"`,
		"Cache-Control":           "public, max-age=31536000, immutable",
		"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
		"X-Content-Type-Options":  "nosniff",
	} {
		if got := res.Header.Get(k); got != want {
			t.Errorf("GET logo: %s = %q, want %q", k, got, want)
		}
	}
	// Without the hash in the URL (or with an old one) it is revalidated.
	for _, path := range []string{brandlogo.Path, brandlogo.Path + "?v=" + strings.Repeat("0", 64)} {
		if res := get(acme, path, nil); res.Status != http.StatusOK || res.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("GET %s = %d, Cache-Control %q; want 200, no-cache", path, res.Status, res.Header.Get("Cache-Control"))
		}
	}
	res = get(acme, brandlogo.Path, http.Header{"If-None-Match": {`"` + sum + `"`}})
	if res.Status != http.StatusNotModified || len(res.Raw) != 0 {
		t.Errorf("GET logo with a matching If-None-Match = %d (%d bytes), want 304 and no body", res.Status, len(res.Raw))
	}
	if res := get(acme, brandlogo.Path, http.Header{"If-None-Match": {`W/"` + sum + `", "other"`}}); res.Status != http.StatusNotModified {
		t.Errorf("GET logo with a weak match in a list = %d, want 304", res.Status)
	}
	if res := get(acme, brandlogo.Path, http.Header{"If-None-Match": {`"other"`}}); res.Status != http.StatusOK {
		t.Errorf("GET logo with another If-None-Match = %d, want 200", res.Status)
	}
	if n := e.dir.logoLoads; n != 1 {
		t.Errorf("%d logo loads from the control plane for 6 requests, want 1 (kept in memory by hash)", n)
	}

	// Another tenant's host: its own (no) logo, never acme's.
	if res := get(globex, brandlogo.Path, nil); res.Status != http.StatusNotFound || bytes.Equal(res.Raw, pngData) {
		t.Errorf("GET logo on globex's host = %d, want 404", res.Status)
	}
	// acme's token presented on globex's host is refused.
	res = e.do(acme, call{method: http.MethodGet, path: brandlogo.Path, host: globex.Host, noSession: true})
	if res.Status != http.StatusUnauthorized || bytes.Equal(res.Raw, pngData) {
		t.Errorf("GET logo with acme's token on globex's host = %d, want 401", res.Status)
	}
	if res := e.do(acme, call{method: http.MethodGet, path: brandlogo.Path, noToken: true, noSession: true}); res.Status != http.StatusUnauthorized {
		t.Errorf("GET logo without a tenant token = %d, want 401", res.Status)
	}

	// A new logo has a new hash, so nothing stale is served.
	newPNG := testenv.PNG(3, 3, color.Black)
	newSum := e.brand(acme, acme.Branding, newPNG)
	if res := get(acme, brandlogo.Path+"?v="+newSum, nil); !bytes.Equal(res.Raw, newPNG) || res.Header.Get("ETag") != `"`+newSum+`"` {
		t.Errorf("GET the new logo = %d, ETag %s; want the new bytes", res.Status, res.Header.Get("ETag"))
	}
}

func TestBrandingOnPages(t *testing.T) {
	e := newEnv(t, tenantpool.Config{})
	acme := e.addTenant("acme", 10)
	sum := e.brand(acme, tenantstore.Branding{DisplayName: `Acme <i>Rockets</i>`, PrimaryColor: "#c0ffee"}, testenv.PNG(2, 2, color.White))
	style := ":root{--brand:#c0ffee;--brand-ink:#1d2433}" // a light colour: dark text
	h := sha256.Sum256([]byte(style))
	styleSrc := "'sha256-" + base64.StdEncoding.EncodeToString(h[:]) + "'"

	for _, path := range []string{"/login", "/"} {
		cookie := ""
		if path == "/" {
			cookie = acme.Session
		}
		res := e.do(acme, pageCall(acme, http.MethodGet, path, nil, cookie))
		body := string(res.Raw)
		if res.Status != http.StatusOK {
			t.Fatalf("GET %s = %d, want 200", path, res.Status)
		}
		for _, want := range []string{"<style>" + style + "</style>", `<span id="brand-name">Acme &lt;i&gt;Rockets&lt;/i&gt;</span>`,
			`src="/branding/logo?v=` + sum + `"`, `· Acme &lt;i&gt;Rockets&lt;/i&gt;</title>`} {
			if !strings.Contains(body, want) {
				t.Errorf("GET %s lacks %q", path, want)
			}
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "style-src "+styleSrc+" 'sha256-") {
			t.Errorf("GET %s: CSP %q does not allow the brand style %s", path, csp, styleSrc)
		}
	}

	// A colour that is not #rrggbb never reaches the page, whatever the
	// cache holds.
	e.brand(acme, tenantstore.Branding{PrimaryColor: "#000;}</style><script>alert(1)</script>"}, nil)
	res := e.do(acme, pageCall(acme, http.MethodGet, "/login", nil, ""))
	if body := string(res.Raw); strings.Contains(body, "--brand:") || strings.Contains(body, "<script>") {
		t.Errorf("GET /login with a hostile colour in the cache put it on the page")
	}
	if !strings.Contains(string(res.Raw), `<span id="brand-name">acme</span>`) {
		t.Errorf("GET /login without a display name does not show the tenant's name")
	}
}
