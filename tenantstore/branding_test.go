package tenantstore

import (
	"bytes"
	"context"
	"errors"
	"image/color"
	"strings"
	"testing"

	"github.com/tenantgate/tenantgate/internal/logo"
	"github.com/tenantgate/tenantgate/internal/testenv"
)

func TestNormalizeColor(t *testing.T) {
	for _, tc := range []struct{ in, want string }{{"", ""}, {"#1A2b3C", "#1a2b3c"}, {"#000000", "#000000"}} {
		if got, err := NormalizeColor(tc.in); err != nil || got != tc.want {
			t.Errorf("NormalizeColor(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"red", "#fff", "#12345g", "#1234567", "1234567", "#12345", "#12;}x{", "#ab\ncdef", "＃123456"} {
		if got, err := NormalizeColor(in); fieldOf(err) != "invalid primary_color" {
			t.Errorf("NormalizeColor(%q) = %q, %v; want invalid primary_color", in, got, err)
		}
	}
}

func TestBrandingRoundTrip(t *testing.T) {
	m := newTestManager(t, nil)
	ctx := context.Background()
	rec := &recorder{}
	m.store.SetNotifier(rec)
	a := insertTenant(t, m.store, "acme")

	name, colour := "  Acme Corp  ", "#AA3300"
	got, err := m.SetBranding(ctx, "acme", BrandingPatch{DisplayName: &name, PrimaryColor: &colour})
	if err != nil {
		t.Fatalf("SetBranding: %v", err)
	}
	if got.Branding.DisplayName != "Acme Corp" || got.Branding.PrimaryColor != "#aa3300" || got.Version != a.Version+1 {
		t.Errorf("SetBranding = %+v (version %d), want Acme Corp, #aa3300 at version %d", got.Branding, got.Version, a.Version+1)
	}
	if c := rec.last(); c.TenantID != a.ID || len(c.Subdomains) != 1 || c.Subdomains[0] != "acme" {
		t.Errorf("SetBranding notified %+v, want the tenant's subdomain", c)
	}
	// A patch of only the colour keeps the name.
	blue := "#0000ff"
	if got, err = m.SetBranding(ctx, "acme", BrandingPatch{PrimaryColor: &blue}); err != nil || got.Branding.DisplayName != "Acme Corp" {
		t.Errorf("SetBranding(colour only) = %+v, %v; want the name kept", got, err)
	}

	for _, tc := range []struct {
		name  string
		patch BrandingPatch
		field string
	}{
		{"long name", BrandingPatch{DisplayName: ptr(strings.Repeat("x", MaxDisplayNameLength+1))}, "invalid display_name"},
		{"control character", BrandingPatch{DisplayName: ptr("Acme\x00Corp")}, "invalid display_name"},
		{"bidi override", BrandingPatch{DisplayName: ptr("Acme\u202eproC")}, "invalid display_name"},
		{"css break-out", BrandingPatch{PrimaryColor: ptr("#000;}body{display:none")}, "invalid primary_color"},
	} {
		if _, err := m.SetBranding(ctx, "acme", tc.patch); fieldOf(err) != tc.field {
			t.Errorf("SetBranding(%s) error = %v, want %s", tc.name, err, tc.field)
		}
	}
	if _, err := m.SetBranding(ctx, "nope", BrandingPatch{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetBranding(unknown tenant) = %v, want ErrNotFound", err)
	}

	// Logo: stored bytes and hash; the tenant carries the hash, not the bytes.
	pngData := testenv.PNG(8, 4, color.RGBA{R: 200, A: 255})
	got, err = m.SetLogo(ctx, "acme", "image/png", pngData)
	if err != nil {
		t.Fatalf("SetLogo(png): %v", err)
	}
	l, err := m.Logo(ctx, "acme")
	if err != nil || !bytes.Equal(l.Data, pngData) || l.SHA256 != got.Branding.LogoSHA256 || l.ContentType != "image/png" {
		t.Fatalf("Logo = %+v, %v; want the PNG with hash %s", l, err, got.Branding.LogoSHA256)
	}
	if again, _ := m.Get(ctx, "acme"); again.Branding != got.Branding {
		t.Errorf("Get after SetLogo: branding %+v, want %+v", again.Branding, got.Branding)
	}
	// An SVG is stored sanitised.
	got, err = m.SetLogo(ctx, "acme", "image/svg+xml; charset=utf-8", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script><rect width="4" height="4"/></svg>`))
	if err != nil {
		t.Fatalf("SetLogo(svg): %v", err)
	}
	if l, _ = m.Logo(ctx, "acme"); strings.Contains(string(l.Data), "alert") || got.Branding.LogoType != "image/svg+xml" {
		t.Errorf("stored SVG = %s (%s), want it sanitised", l.Data, got.Branding.LogoType)
	}

	refused := []struct {
		name, ct string
		data     []byte
		want     string
	}{
		{"too large", "image/png", make([]byte, logo.MaxBytes+1), "too large"},
		{"wrong type", "image/gif", []byte("GIF89a"), "unsupported"},
		{"png that is not", "image/png", []byte("<svg/>"), "invalid logo"},
		{"svg with doctype", "image/svg+xml", []byte(`<!DOCTYPE svg><svg xmlns="http://www.w3.org/2000/svg"/>`), "invalid logo"},
		{"huge png", "image/png", testenv.PNG(logo.MaxDimension+1, 1, color.Black), "invalid logo"},
	}
	for _, tc := range refused {
		_, err := m.SetLogo(ctx, "acme", tc.ct, tc.data)
		var what string
		switch {
		case errors.Is(err, logo.ErrTooLarge):
			what = "too large"
		case errors.Is(err, logo.ErrUnsupported):
			what = "unsupported"
		case fieldOf(err) == "invalid logo":
			what = "invalid logo"
		}
		if what != tc.want {
			t.Errorf("SetLogo(%s) error = %v, want %s", tc.name, err, tc.want)
		}
	}

	if got, err = m.DeleteLogo(ctx, "acme"); err != nil || got.Branding.LogoSHA256 != "" || got.Branding.LogoType != "" {
		t.Fatalf("DeleteLogo = %+v, %v; want no logo", got, err)
	}
	if _, err := m.Logo(ctx, "acme"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Logo after DeleteLogo = %v, want ErrNotFound", err)
	}
	if _, err := m.store.Logo(ctx, "not-a-uuid"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Store.Logo(not-a-uuid) = %v, want ErrNotFound", err)
	}
}
