package admin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// browse is a browser-like request to the dashboard: form body, cookie, and
// the fetch metadata a same-origin form post carries.
func (e *adminEnv) browse(method, path string, form url.Values, cookie string, header map[string]string) *httptest.ResponseRecorder {
	e.t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req := httptest.NewRequest(method, "http://admin.localhost"+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.Header.Set("Origin", "http://admin.localhost")
	}
	if cookie != "" {
		req.Header.Set("Cookie", Cookie+"="+cookie)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	return rec
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func TestAdminDashboard(t *testing.T) {
	e := newAdminEnv(t)
	e.must(http.StatusCreated, e.api(http.MethodPost, "/api/tenants", map[string]any{
		"name": "Acme Corp", "subdomain": "acme", "admin_email": "boss@acme.example.com", "max_users": 5, "multi_location": true}), "create acme")
	e.must(http.StatusCreated, e.api(http.MethodPost, "/api/tenants/acme/locations", map[string]any{"name": "Main store", "code": "main"}), "add location")

	rec := e.browse(http.MethodGet, "/", nil, "", nil)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `<label for="token">`) {
		t.Fatalf("GET / without a session = %d, want the token login form", rec.Code)
	}
	rec = e.browse(http.MethodPost, "/login", url.Values{"token": {"wrong"}}, "", nil)
	if rec.Code != http.StatusUnauthorized || fieldErrorOf(rec.Body.String(), "token") == "" {
		t.Errorf("POST /login with a wrong token = %d, want 401 with the error beside the token", rec.Code)
	}
	rec = e.browse(http.MethodPost, "/login", url.Values{"token": {testAdminToken}}, "", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"})
	if rec.Code != http.StatusForbidden {
		t.Errorf("cross-site POST /login = %d, want 403", rec.Code)
	}
	rec = e.browse(http.MethodPost, "/login", url.Values{"token": {testAdminToken}}, "", nil)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("POST /login = %d, want 303", rec.Code)
	}
	var session string
	for _, c := range rec.Result().Cookies() {
		if c.Name == Cookie {
			session = c.Value
			if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode {
				t.Errorf("admin cookie HttpOnly=%v Secure=%v SameSite=%v, want HttpOnly, Secure, Strict", c.HttpOnly, c.Secure, c.SameSite)
			}
		}
	}
	if session == "" || strings.Contains(session, testAdminToken) {
		t.Fatalf("admin cookie = %q, want a session that does not hold the token", session)
	}

	rec = e.browse(http.MethodGet, "/", nil, session, nil)
	page := rec.Body.String()
	for _, want := range []string{"Acme Corp", "acme", `badge active`, `badge ok`, "1 / 5", "Main store (main)", "New tenant"} {
		if !strings.Contains(page, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("dashboard forms carry no CSRF token")
	}
	csrf := m[1]
	if rec := e.browse(http.MethodGet, "/", nil, session+"x", nil); !strings.Contains(rec.Body.String(), `<label for="token">`) {
		t.Errorf("a tampered session cookie is accepted")
	}

	forms := []struct {
		name     string
		path     string
		form     url.Values
		header   map[string]string
		status   int
		errField string
	}{
		{"no CSRF token", "/tenants", url.Values{"name": {"Initech"}, "subdomain": {"initech"}, "admin_email": {"bill@initech.example"}}, nil, http.StatusForbidden, ""},
		{"cross-site", "/tenants", url.Values{"csrf": {csrf}, "name": {"Initech"}, "subdomain": {"initech"}, "admin_email": {"bill@initech.example"}}, map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden, ""},
		{"bad subdomain", "/tenants", url.Values{"csrf": {csrf}, "name": {"Initech"}, "subdomain": {"-bad-"}, "admin_email": {"bill@initech.example"}}, nil, http.StatusBadRequest, "subdomain"},
		{"bad max users", "/tenants", url.Values{"csrf": {csrf}, "name": {"Initech"}, "subdomain": {"initech"}, "admin_email": {"bill@initech.example"}, "max_users": {"lots"}}, nil, http.StatusBadRequest, "max_users"},
		{"taken subdomain", "/tenants", url.Values{"csrf": {csrf}, "name": {"Initech"}, "subdomain": {"acme"}, "admin_email": {"bill@initech.example"}}, nil, http.StatusConflict, "subdomain"},
		{"create", "/tenants", url.Values{"csrf": {csrf}, "name": {"Initech"}, "subdomain": {"initech"}, "admin_email": {"bill@initech.example"}}, nil, http.StatusCreated, ""},
		{"suspend asks first", "/tenants/acme/status", url.Values{"csrf": {csrf}, "status": {"suspended"}}, nil, http.StatusOK, ""},
		{"suspend", "/tenants/acme/status", url.Values{"csrf": {csrf}, "status": {"suspended"}, "confirm": {"yes"}}, nil, http.StatusSeeOther, ""},
		{"bad status", "/tenants/acme/status", url.Values{"csrf": {csrf}, "status": {"deleted"}}, nil, http.StatusBadRequest, ""},
	}
	for _, tc := range forms {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.browse(http.MethodPost, tc.path, tc.form, session, tc.header)
			if rec.Code != tc.status {
				t.Fatalf("POST %s (%s) = %d, want %d; body %.300s", tc.path, tc.name, rec.Code, tc.status, rec.Body.String())
			}
			if tc.errField != "" && fieldErrorOf(rec.Body.String(), tc.errField) == "" {
				t.Errorf("POST %s (%s): no error beside %s", tc.path, tc.name, tc.errField)
			}
		})
	}
	created := e.browse(http.MethodGet, "/", nil, session, nil).Body.String()
	if !strings.Contains(created, "Initech") {
		t.Errorf("dashboard does not list the tenant created from its form")
	}
	if tn, err := e.m.Get(context.Background(), "acme"); err != nil || tn.Status != "suspended" {
		t.Errorf("acme after the suspend button: %v, %v; want suspended", tn, err)
	}
	if rec := e.browse(http.MethodGet, "/?status=suspended", nil, session, nil); !strings.Contains(rec.Body.String(), ">Activate</button>") || strings.Contains(rec.Body.String(), "Initech") {
		t.Errorf("?status=suspended: want acme with an Activate button and not Initech")
	}

	rec = e.browse(http.MethodPost, "/logout", url.Values{"csrf": {csrf}}, session, nil)
	if rec.Code != http.StatusSeeOther {
		t.Errorf("POST /logout = %d, want 303", rec.Code)
	}
}

// TestAdminLoginThrottled: the dashboard's token login is throttled per
// client IP, the right token included, and other IPs are not.
func TestAdminLoginThrottled(t *testing.T) {
	e := newAdminEnv(t)
	from := func(ip string) map[string]string { return map[string]string{"X-Forwarded-For": ip} }
	for i := range LoginIPRule.Max {
		rec := e.browse(http.MethodPost, "/login", url.Values{"token": {"wrong-" + strconv.Itoa(i)}}, "", nil)
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("wrong token %d = %d, want 401", i+1, rec.Code)
		}
	}
	rec := e.browse(http.MethodPost, "/login", url.Values{"token": {testAdminToken}}, "", nil)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" || fieldErrorOf(rec.Body.String(), "token") == "" {
		t.Errorf("the right token after %d wrong ones = %d (Retry-After %q), want 429 with Retry-After and the error beside the token",
			LoginIPRule.Max, rec.Code, rec.Header().Get("Retry-After"))
	}
	// httptest's peer (192.0.2.1) is no trusted proxy: its X-Forwarded-For
	// does not make it another client.
	if rec := e.browse(http.MethodPost, "/login", url.Values{"token": {testAdminToken}}, "", from("198.51.100.9")); rec.Code != http.StatusTooManyRequests {
		t.Errorf("the right token with a forged X-Forwarded-For = %d, want 429", rec.Code)
	}
}
