package appserver

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantgate/tenantgate/appserver/admin"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// impersonationStack is a control stack whose impersonation links point at
// http://<sub>.localhost and whose tenant room consumes them.
func impersonationStack(t *testing.T) *controlStack {
	var s *controlStack
	s = newControlStack(t, func(a *admin.Config, c *Config) {
		a.TenantOrigin = func(sub string) string { return "http://" + sub + ".localhost" }
		c.Impersonations = storeRef{&s}
	})
	return s
}

// storeRef hands the stack's store to the appserver, which is configured
// before the store exists in the closure above.
type storeRef struct{ s **controlStack }

func (r storeRef) ConsumeImpersonation(ctx context.Context, t *tenantstore.Tenant, token string) (string, error) {
	return (*r.s).store.ConsumeImpersonation(ctx, t, token)
}

// createTenant creates sub through the admin API with its admin's
// password and returns the fixture for requests to its host.
func (s *controlStack) createTenant(sub, password string) *tenantFixture {
	s.t.Helper()
	res := s.api(http.MethodPost, "/api/tenants", map[string]any{"name": "Org " + sub, "subdomain": sub,
		"admin_email": "boss@" + sub + ".example.com", "admin_password": password})
	if res.Status != http.StatusCreated {
		s.t.Fatalf("create %s = %d %s", sub, res.Status, res.Raw)
	}
	ten, err := s.store.GetBySubdomain(context.Background(), sub)
	if err != nil {
		s.t.Fatal(err)
	}
	return &tenantFixture{Tenant: ten, Host: sub + ".localhost"}
}

// issue asks the admin API for an impersonation link as email and returns
// the link's path.
func (s *controlStack) issue(sub, email string) string {
	s.t.Helper()
	res := s.api(http.MethodPost, "/api/tenants/"+sub+"/impersonate", map[string]string{"email": email})
	if res.Status != http.StatusCreated {
		s.t.Fatalf("impersonate %s on %s = %d %s", email, sub, res.Status, res.Raw)
	}
	link, _ := res.Body["url"].(string)
	u, err := url.Parse(link)
	if err != nil || u.Host != sub+".localhost" || !strings.HasPrefix(u.Path, "/impersonate/") {
		s.t.Fatalf("impersonation url = %q, want http://%s.localhost/impersonate/<token>", link, sub)
	}
	exp, err := time.Parse(time.RFC3339Nano, res.Body["expires_at"].(string))
	if err != nil || time.Until(exp) > 61*time.Second || time.Until(exp) < 30*time.Second {
		s.t.Errorf("expires_at = %v, want about 60 s from now", res.Body["expires_at"])
	}
	return u.Path
}

// use posts the link's form on f's host (as the page's button does).
func (s *controlStack) use(f *tenantFixture, path string) response {
	s.t.Helper()
	return s.app.do(f, call{method: http.MethodPost, path: path, noSession: true,
		header: http.Header{"Origin": {"http://" + f.Host}}})
}

func TestImpersonation(t *testing.T) {
	s := impersonationStack(t)
	ctx := context.Background()
	acme := s.createTenant("acme", "acme-admin-pw-1")
	globex := s.createTenant("globex", "globex-admin-pw-1")

	t.Run("refused issues", func(t *testing.T) {
		for _, tc := range []struct {
			name, sub, email string
			status           int
			field            string
		}{
			{"unknown user", "acme", "nobody@acme.example.com", http.StatusBadRequest, "email"},
			{"user of another tenant", "acme", "boss@globex.example.com", http.StatusBadRequest, "email"},
			{"not an e-mail", "acme", "boss", http.StatusBadRequest, "email"},
			{"unknown tenant", "initech", "boss@acme.example.com", http.StatusNotFound, ""},
		} {
			res := s.api(http.MethodPost, "/api/tenants/"+tc.sub+"/impersonate", map[string]string{"email": tc.email})
			if res.Status != tc.status || res.errorField() != tc.field {
				t.Errorf("%s: impersonate = %d field %q, want %d %q; %s", tc.name, res.Status, res.errorField(), tc.status, tc.field, res.Raw)
			}
		}
		req, _ := http.NewRequest(http.MethodPost, "/api/tenants/acme/impersonate", strings.NewReader(`{"email":"boss@acme.example.com"}`))
		rec := newRecorder()
		s.admin.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("impersonate without a token = %d, want 401", rec.Code)
		}
	})

	path := s.issue("acme", "boss@acme.example.com")
	// A GET (a link previewer) shows the button and does not use the link.
	page := s.app.do(acme, call{method: http.MethodGet, path: path, noSession: true})
	if page.Status != http.StatusOK || !strings.Contains(string(page.Raw), `action="`+path+`"`) {
		t.Fatalf("GET the link = %d %s, want the page with its button", page.Status, page.Raw)
	}
	// On another tenant's host: refused, and the link still works at home.
	if res := s.use(globex, path); res.Status != http.StatusGone || strings.Contains(strings.Join(res.Header.Values("Set-Cookie"), ";"), "session=") {
		t.Errorf("link used on globex's host = %d (cookies %q), want 410 and no session", res.Status, res.Header.Values("Set-Cookie"))
	}
	if res := s.use(acme, strings.Replace(path, "/impersonate/", "/impersonate/x", 1)); res.Status != http.StatusGone {
		t.Errorf("unknown link = %d, want 410", res.Status)
	}
	if res := s.app.do(acme, call{method: http.MethodPost, path: path, noSession: true, header: http.Header{"Origin": {"http://evil.example"}}}); res.Status != http.StatusForbidden {
		t.Errorf("link posted from another origin = %d, want 403", res.Status)
	}
	res := s.use(acme, path)
	if res.Status != http.StatusSeeOther {
		t.Fatalf("use the link on acme = %d %s, want 303 to /", res.Status, res.Raw)
	}
	var session string
	for _, c := range (&http.Response{Header: res.Header}).Cookies() {
		if c.Name == "session" {
			session = c.Value
			if !c.Expires.IsZero() || c.MaxAge != 0 || !c.HttpOnly {
				t.Errorf("support session cookie %+v, want a browser-session HttpOnly cookie (no Expires: no remember)", c)
			}
		}
	}
	if !strings.HasPrefix(session, "imp.") {
		t.Fatalf("support session cookie = %q, want an impersonation session", session)
	}
	// Second use: refused.
	if res := s.use(acme, path); res.Status != http.StatusGone || !strings.Contains(string(res.Raw), "not valid") {
		t.Errorf("second use = %d %s, want 410 with an explanation", res.Status, res.Raw)
	}

	// The session: banner on every page, marked in /api/me, 15 minutes,
	// no password change.
	cookie := http.Header{"Cookie": {"session=" + session}}
	for _, p := range []string{"/", "/customers", "/invoices"} {
		pg := s.app.do(acme, call{method: http.MethodGet, path: p, noSession: true, header: cookie})
		if pg.Status != http.StatusOK || !strings.Contains(string(pg.Raw), `id="support-banner"`) ||
			!strings.Contains(string(pg.Raw), "Support session as boss@acme.example.com") || !strings.Contains(string(pg.Raw), "ends at") {
			t.Errorf("GET %s in the support session = %d, want the banner; %.300s", p, pg.Status, pg.Raw)
		}
	}
	me := s.app.must(http.StatusOK, s.app.do(acme, call{method: http.MethodGet, path: "/api/me", session: session}), "me")
	support, _ := me.Body["user"].(map[string]any)["support_session"].(map[string]any)
	ends, err := time.Parse(time.RFC3339Nano, func() string { v, _ := support["ends_at"].(string); return v }())
	if err != nil || time.Until(ends) > 15*time.Minute+5*time.Second || time.Until(ends) < 14*time.Minute {
		t.Errorf("/api/me support_session = %v, want ends_at about 15 minutes from now", support)
	}
	pw := s.app.do(acme, call{method: http.MethodPost, path: "/api/me/password", session: session,
		body: map[string]string{"current_password": "acme-admin-pw-1", "new_password": "taken-over-pw-1"}})
	if pw.Status != http.StatusForbidden || pw.errorCode() != "support_session" {
		t.Errorf("password change in a support session = %d %s, want 403 support_session", pw.Status, pw.Raw)
	}
	// An ordinary login shows no banner.
	login := s.app.must(http.StatusOK, s.app.do(acme, call{method: http.MethodPost, path: "/api/auth/login", noSession: true,
		body: map[string]string{"email": "boss@acme.example.com", "password": "acme-admin-pw-1"}}), "login")
	plain := s.app.do(acme, call{method: http.MethodGet, path: "/", noSession: true, header: http.Header{"Cookie": {"session=" + login.Body["token"].(string)}}})
	if plain.Status != http.StatusOK || strings.Contains(string(plain.Raw), `id="support-banner"`) {
		t.Errorf("an ordinary session shows the support banner")
	}

	// Expired: a link past its 60 s is refused.
	expired := s.issue("acme", "boss@acme.example.com")
	cp, err := pgx.Connect(ctx, s.controlURL)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close(ctx)
	if _, err := cp.Exec(ctx, `UPDATE impersonation_tokens SET expires_at = now() - interval '1 second' WHERE used_at IS NULL`); err != nil {
		t.Fatal(err)
	}
	if res := s.use(acme, expired); res.Status != http.StatusGone {
		t.Errorf("expired link = %d, want 410", res.Status)
	}
	var stored int
	token := strings.TrimPrefix(path, "/impersonate/")
	if err := cp.QueryRow(ctx, `SELECT count(*) FROM impersonation_tokens WHERE position($1::bytea in token_hash) > 0 OR encode(token_hash, 'escape') LIKE '%' || $2 || '%'`,
		[]byte(token), token).Scan(&stored); err != nil || stored != 0 {
		t.Errorf("impersonation_tokens holds the token itself (%d rows, %v), want only its hash", stored, err)
	}

	// Every issue and use is audited, as the admin token, refusals with why.
	entries, _, err := s.store.ListAudit(ctx, tenantstore.AuditListOptions{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		if strings.HasPrefix(e.Action, "impersonate.") {
			reason := ""
			if strings.Contains(string(e.After), `"reason"`) {
				reason = "/" + strings.Split(strings.Split(string(e.After), `"reason": "`)[1], `"`)[0]
			}
			got = append([]string{e.Action + reason + ":" + e.Subdomain}, got...)
			if e.Actor.Kind != "admin-token" || !strings.HasPrefix(e.Actor.ID, "tok_") {
				t.Errorf("%s actor = %+v, want the admin token that issued the link", e.Action, e.Actor)
			}
		}
	}
	want := "impersonate.issue:acme,impersonate.refused/wrong_tenant:acme,impersonate.use:acme,impersonate.refused/used:acme," +
		"impersonate.issue:acme,impersonate.refused/expired:acme"
	if strings.Join(got, ",") != want {
		t.Errorf("impersonation audit =\n%s\nwant\n%s", strings.Join(got, ","), want)
	}
}
