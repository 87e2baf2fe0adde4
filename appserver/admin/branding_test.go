package admin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"image/color"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/appserver/brandlogo"
	"github.com/tenantgate/tenantgate/internal/logo"
	"github.com/tenantgate/tenantgate/internal/testenv"
)

// putRaw calls the admin API with a raw body of contentType.
func (e *adminEnv) putRaw(path, contentType string, body []byte) response {
	e.t.Helper()
	req := httptest.NewRequest(http.MethodPut, path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	req.Header.Set("Content-Type", contentType)
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	res := response{Status: rec.Code, Raw: rec.Body.Bytes(), Header: rec.Header()}
	_ = json.Unmarshal(res.Raw, &res.Body)
	return res
}

func TestAPIBranding(t *testing.T) {
	e := newAdminEnv(t)
	ctx := context.Background()
	created := e.must(http.StatusCreated, e.api(http.MethodPost, "/api/tenants", map[string]any{
		"name": "Acme", "subdomain": "acme", "admin_email": "boss@acme.example.com"}), "create acme")
	id := created.Body["id"].(string)
	if _, err := e.resB.ResolveID(ctx, id); err != nil { // another instance caches the tenant
		t.Fatal(err)
	}

	got := e.must(http.StatusOK, e.api(http.MethodGet, "/api/tenants/acme/branding", nil), "get branding")
	if got.Body["display_name"] != "" || got.Body["primary_color"] != "" || got.Body["logo"] != nil {
		t.Errorf("GET branding of a new tenant = %s, want it empty", got.Raw)
	}
	put := e.must(http.StatusOK, e.api(http.MethodPut, "/api/tenants/acme/branding", map[string]any{
		"display_name": "Acme Rockets", "primary_color": "#C0FFEE"}), "put branding")
	if put.Body["display_name"] != "Acme Rockets" || put.Body["primary_color"] != "#c0ffee" {
		t.Errorf("PUT branding = %s, want the name and the colour lower-cased", put.Raw)
	}
	if !eventually(2*time.Second, func() bool {
		tn, err := e.resB.ResolveID(ctx, id)
		return err == nil && tn.Branding.PrimaryColor == "#c0ffee" && tn.Title() == "Acme Rockets"
	}) {
		t.Error("another instance's cached tenant did not get the branding within 2 s")
	}

	for _, tc := range []struct {
		name  string
		body  any
		field string
	}{
		{"colour word", map[string]any{"primary_color": "red"}, "primary_color"},
		{"short colour", map[string]any{"primary_color": "#fff"}, "primary_color"},
		{"style break-out", map[string]any{"primary_color": "#000000;}body{display:none}"}, "primary_color"},
		{"long name", map[string]any{"display_name": strings.Repeat("n", 101)}, "display_name"},
		{"control character", map[string]any{"display_name": "a\u0007b"}, "display_name"},
		{"wrong type", map[string]any{"display_name": 7}, "display_name"},
	} {
		res := e.api(http.MethodPut, "/api/tenants/acme/branding", tc.body)
		if res.Status != http.StatusBadRequest || res.errorField() != tc.field {
			t.Errorf("PUT branding (%s) = %d field %q, want 400 naming %s; %s", tc.name, res.Status, res.errorField(), tc.field, res.Raw)
		}
	}
	if res := e.api(http.MethodPut, "/api/tenants/nope/branding", map[string]any{}); res.Status != http.StatusNotFound {
		t.Errorf("PUT branding of an unknown tenant = %d, want 404", res.Status)
	}

	pngData := testenv.PNG(16, 8, color.RGBA{B: 255, A: 255})
	sum := sha256.Sum256(pngData)
	up := e.must(http.StatusOK, e.putRaw("/api/tenants/acme/branding/logo", "image/png", pngData), "put logo")
	lg, _ := up.Body["logo"].(map[string]any)
	if lg["sha256"] != hex.EncodeToString(sum[:]) || lg["url"] != "/branding/logo?v="+hex.EncodeToString(sum[:]) {
		t.Errorf("PUT logo = %s, want its sha256 and URL", up.Raw)
	}

	t.Run("logo refusals", func(t *testing.T) {
		for _, tc := range []struct {
			name, ct string
			body     []byte
			status   int
			code     string
		}{
			{"too large", "image/png", make([]byte, logo.MaxBytes+1), http.StatusRequestEntityTooLarge, "logo_too_large"},
			{"gif", "image/gif", []byte("GIF89a......"), http.StatusUnsupportedMediaType, "unsupported_media_type"},
			{"html", "text/html", []byte("<script>alert(1)</script>"), http.StatusUnsupportedMediaType, "unsupported_media_type"},
			{"no type", "", pngData, http.StatusUnsupportedMediaType, "unsupported_media_type"},
			{"svg sent as png", "image/png", []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`), http.StatusBadRequest, "invalid_field"},
			{"svg with a doctype", "image/svg+xml", []byte(`<!DOCTYPE svg [<!ENTITY a "b">]><svg xmlns="http://www.w3.org/2000/svg"/>`), http.StatusBadRequest, "invalid_field"},
			{"empty", "image/png", nil, http.StatusBadRequest, "invalid_field"},
		} {
			res := e.putRaw("/api/tenants/acme/branding/logo", tc.ct, tc.body)
			if res.Status != tc.status || res.errorCode() != tc.code || res.errorField() != "logo" {
				t.Errorf("PUT logo (%s) = %d %s field %q, want %d %s naming logo", tc.name, res.Status, res.errorCode(), res.errorField(), tc.status, tc.code)
			}
		}
		// The refusals left the stored logo alone.
		if b := e.api(http.MethodGet, "/api/tenants/acme/branding", nil); b.Body["logo"].(map[string]any)["sha256"] != hex.EncodeToString(sum[:]) {
			t.Errorf("after refused uploads, branding = %s, want the PNG kept", b.Raw)
		}
	})

	t.Run("logo is served safely", func(t *testing.T) {
		res := e.api(http.MethodGet, "/api/tenants/acme/branding/logo", nil)
		if res.Status != http.StatusOK || !bytes.Equal(res.Raw, pngData) || res.Header.Get("Content-Type") != "image/png" {
			t.Fatalf("GET logo = %d %q, want the PNG", res.Status, res.Header.Get("Content-Type"))
		}
		if res.Header.Get("Content-Security-Policy") != brandlogo.CSP || res.Header.Get("X-Content-Type-Options") != "nosniff" ||
			res.Header.Get("ETag") != `"`+hex.EncodeToString(sum[:])+`"` {
			t.Errorf("GET logo headers = %v", res.Header)
		}
	})

	t.Run("svg is stored sanitised", func(t *testing.T) {
		e.must(http.StatusOK, e.putRaw("/api/tenants/acme/branding/logo", "image/svg+xml",
			[]byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script><circle r="4"/></svg>`)), "put svg")
		res := e.api(http.MethodGet, "/api/tenants/acme/branding/logo", nil)
		if strings.Contains(string(res.Raw), "alert") || !strings.Contains(string(res.Raw), "<circle") {
			t.Errorf("stored SVG = %s, want it without script", res.Raw)
		}
	})

	del := e.must(http.StatusOK, e.api(http.MethodDelete, "/api/tenants/acme/branding/logo", nil), "delete logo")
	if del.Body["logo"] != nil {
		t.Errorf("DELETE logo = %s, want no logo", del.Raw)
	}
	if res := e.api(http.MethodGet, "/api/tenants/acme/branding/logo", nil); res.Status != http.StatusNotFound {
		t.Errorf("GET logo after DELETE = %d, want 404", res.Status)
	}
}

func TestDashboardBranding(t *testing.T) {
	e := newAdminEnv(t)
	e.must(http.StatusCreated, e.api(http.MethodPost, "/api/tenants", map[string]any{
		"name": "Acme", "subdomain": "acme", "admin_email": "boss@acme.example.com"}), "create acme")
	session, csrf := e.login()

	rec := e.browse(http.MethodPost, "/tenants/acme/branding", map[string][]string{"csrf": {csrf}, "display_name": {"Acme Rockets"}, "primary_color": {"#12ab34"}}, session, nil)
	page := e.follow(rec, session, "/tenants/acme")
	if !strings.Contains(page, `fill="#12ab34"`) || !strings.Contains(page, "<strong>Acme Rockets</strong>") {
		t.Errorf("tenant page after saving the branding lacks the preview:\n%s", between(page, `id="branding"`, "</figure>"))
	}
	rec = e.browse(http.MethodPost, "/tenants/acme/branding", map[string][]string{"csrf": {csrf}, "display_name": {"x"}, "primary_color": {"blue"}}, session, nil)
	if rec.Code != http.StatusBadRequest || fieldErrorOf(rec.Body.String(), "primary_color") == "" {
		t.Errorf("POST branding with a bad colour = %d, want 400 with the error beside primary_color", rec.Code)
	}
	if rec := e.browse(http.MethodPost, "/tenants/acme/branding", map[string][]string{"primary_color": {"#000000"}}, session, nil); rec.Code != http.StatusForbidden {
		t.Errorf("POST branding without the CSRF token = %d, want 403", rec.Code)
	}

	upload := func(csrf, filename, contentType string, data []byte) *httptest.ResponseRecorder {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		_ = mw.WriteField("csrf", csrf)
		h := make(map[string][]string)
		h["Content-Disposition"] = []string{`form-data; name="logo"; filename="` + filename + `"`}
		h["Content-Type"] = []string{contentType}
		part, _ := mw.CreatePart(h)
		_, _ = part.Write(data)
		_ = mw.Close()
		req := httptest.NewRequest(http.MethodPost, "http://admin.localhost/tenants/acme/branding/logo", &body)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.Header.Set("Origin", "http://admin.localhost")
		req.Header.Set("Cookie", Cookie+"="+session)
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, req)
		return rec
	}
	svg := []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10" fill="#f00"/></svg>`)
	if rec := upload("wrong", "logo.svg", "image/svg+xml", svg); rec.Code != http.StatusForbidden {
		t.Errorf("upload with a wrong CSRF token = %d, want 403", rec.Code)
	}
	page = e.follow(upload(csrf, "logo.svg", "image/svg+xml", svg), session, "/tenants/acme")
	if !strings.Contains(page, `id="brand-logo-preview" src="/tenants/acme/branding/logo?v=`) {
		t.Errorf("tenant page after the upload shows no logo preview")
	}
	if rec := e.browse(http.MethodGet, "/tenants/acme/branding/logo", nil, session, nil); rec.Code != http.StatusOK || rec.Header().Get("Content-Security-Policy") != brandlogo.CSP {
		t.Errorf("GET the preview = %d CSP %q, want 200 with the logo CSP", rec.Code, rec.Header().Get("Content-Security-Policy"))
	}
	if rec := e.browse(http.MethodGet, "/tenants/acme/branding/logo", nil, "", nil); rec.Code != http.StatusUnauthorized {
		t.Errorf("GET the preview without a session = %d, want 401", rec.Code)
	}
	rec = upload(csrf, "logo.gif", "image/gif", []byte("GIF89a"))
	if rec.Code != http.StatusUnsupportedMediaType || fieldErrorOf(rec.Body.String(), "logo") == "" {
		t.Errorf("upload of a GIF = %d, want 415 with the error beside the file input", rec.Code)
	}
	if rec := upload(csrf, "big.png", "image/png", make([]byte, logo.MaxBytes+20<<10)); rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("upload of a too large file = %d, want 413", rec.Code)
	}
	rec = e.browse(http.MethodPost, "/tenants/acme/branding/logo/delete", map[string][]string{"csrf": {csrf}}, session, nil)
	if page := e.follow(rec, session, "/tenants/acme"); strings.Contains(page, "brand-logo-preview") {
		t.Error("tenant page still shows a logo after removing it")
	}
}
