package admin

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/gorilla/mux"

	"github.com/tenantgate/tenantgate/appserver/httpapi"
	"github.com/tenantgate/tenantgate/appserver/reqctx"
	"github.com/tenantgate/tenantgate/appserver/webpage"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// Cookie is the dashboard's session cookie.
const Cookie = "tg_admin"

// Dashboard limits.
const (
	dashboardPageSize     = 50
	dashboardParallel     = 8
	dashboardProbeTimeout = 2 * time.Second
)

// adminPages are the dashboard's templates (web/admin), the tenant page
// with its sections (web/tenant_*.html).
var adminPages = withSections(webpage.MustParse(web, "web"), "tenant")

func (a *Server) dashboardRoutes(r *mux.Router) {
	get := []string{http.MethodGet, http.MethodHead}
	r.Handle("/", a.dashboard(a.dashboardPage)).Methods(get...)
	r.Handle("/login", a.csrf.Handler(http.HandlerFunc(a.loginSubmit))).Methods(http.MethodPost)
	r.Handle("/logout", a.form(a.logoutSubmit)).Methods(http.MethodPost)
	r.Handle("/tenants", a.form(a.createSubmit)).Methods(http.MethodPost)
	r.Handle("/tenants/{subdomain}/status", a.form(a.statusSubmit)).Methods(http.MethodPost)
	a.tenantPageRoutes(r)
}

// The dashboard session is stateless, so any appserver instance accepts it:
// the cookie is "v1.<expiry unix>.<mac>", the mac an HMAC-SHA256 of the
// expiry keyed by (the hash of) the admin token that logged in. The token
// itself is never stored in the browser, removing it from ADMIN_TOKENS ends
// its sessions, and a session cannot be extended without a token.
func sessionMAC(key [sha256.Size]byte, expiry string) []byte {
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte("tenantgate-admin-session|" + expiry))
	return m.Sum(nil)
}

func (a *Server) newSession(token string) (value string, expires time.Time) {
	expires = a.now().Add(a.cfg.SessionLifetime)
	exp := strconv.FormatInt(expires.Unix(), 10)
	return "v1." + exp + "." + base64.RawURLEncoding.EncodeToString(sessionMAC(sha256.Sum256([]byte(token)), exp)), expires
}

// session returns the request's valid dashboard session cookie value, or "".
func (a *Server) session(r *http.Request) string {
	c, err := r.Cookie(Cookie)
	if err != nil || len(c.Value) > 200 {
		return ""
	}
	parts := strings.Split(c.Value, ".")
	if len(parts) != 3 || parts[0] != "v1" {
		return ""
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	mac, err2 := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || err2 != nil || a.now().Unix() >= exp {
		return ""
	}
	ok := false
	for _, key := range a.tokens {
		ok = hmac.Equal(mac, sessionMAC(key, parts[1])) || ok
	}
	if !ok {
		return ""
	}
	return c.Value
}

// csrfToken is the form token of a session: an HMAC of the session value,
// so it is valid exactly as long as the session.
func csrfToken(session string) string {
	key := sha256.Sum256([]byte(session))
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte("tenantgate-admin-csrf"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (a *Server) setCookie(w http.ResponseWriter, value string, expires time.Time) {
	c := &http.Cookie{Name: Cookie, Value: value, Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode}
	if value == "" {
		c.MaxAge = -1
	} else {
		c.Expires = expires
	}
	http.SetCookie(w, c)
}

// dashboardFunc is a dashboard handler; d carries the CSRF token.
type dashboardFunc func(w http.ResponseWriter, r *http.Request, d *webpage.Data) error

// dashboard shows the login form instead of fn without a session.
func (a *Server) dashboard(fn dashboardFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := a.session(r)
		if s == "" {
			webpage.Render(w, r, a.log, adminPages, http.StatusOK, "login", &webpage.Data{Title: "Log in"})
			return
		}
		d := &webpage.Data{CSRF: csrfToken(s)}
		a.takeFlash(w, r, s, d)
		if err := fn(w, r, d); err != nil {
			a.pageError(w, r, err)
		}
	})
}

// form guards a dashboard form post: same-origin (CrossOriginProtection), a
// valid session, and the session's CSRF token.
func (a *Server) form(fn dashboardFunc) http.Handler {
	return a.csrf.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := a.session(r)
		if s == "" {
			webpage.SeeOther(w, r, "/")
			return
		}
		if err := webpage.ParseForm(w, r); err != nil {
			a.pageError(w, r, err)
			return
		}
		want := csrfToken(s)
		if !hmac.Equal([]byte(r.PostForm.Get("csrf")), []byte(want)) {
			a.pageError(w, r, &httpapi.Error{Status: http.StatusForbidden, Code: "csrf_token", Message: "the form has expired; reload the page and try again"})
			return
		}
		if err := fn(w, r, &webpage.Data{CSRF: want}); err != nil {
			a.pageError(w, r, err)
		}
	}))
}

func (a *Server) pageError(w http.ResponseWriter, r *http.Request, err error) {
	ae, internal := httpapi.ErrorFor(adminError(err))
	if internal {
		reqctx.Logger(r.Context(), a.log).ErrorContext(r.Context(), "admin page failed", slog.String("error", err.Error()))
	}
	d := &webpage.Data{Title: http.StatusText(ae.Status), Data: ae.Message}
	if s := a.session(r); s != "" {
		d.CSRF = csrfToken(s)
	}
	webpage.Render(w, r, a.log, adminPages, ae.Status, "error", d)
}

// loginSubmit checks the posted token and starts a dashboard session;
// attempts are throttled per client IP (LoginIPRule).
func (a *Server) loginSubmit(w http.ResponseWriter, r *http.Request) {
	if err := webpage.ParseForm(w, r); err != nil {
		a.pageError(w, r, err)
		return
	}
	ctx := r.Context()
	ip := a.peers.ClientIP(r)
	keys := loginKeys(ip)
	if err := a.limit.Attempt(ctx, keys...); err != nil {
		reqctx.Logger(ctx, a.log).WarnContext(ctx, "admin login throttled", slog.String("ip", ip), slog.String("error", err.Error()))
		ae := httpapi.TooManyAttempts(err)
		w.Header().Set("Retry-After", strconv.Itoa(ae.RetryAfter))
		d := &webpage.Data{Title: "Log in", Errors: map[string]string{"token": ae.Message}}
		webpage.Render(w, r, a.log, adminPages, ae.Status, "login", d)
		return
	}
	token := strings.TrimSpace(r.PostForm.Get("token"))
	if !a.validToken(token) {
		reqctx.Logger(ctx, a.log).WarnContext(ctx, "admin login failed", slog.String("ip", ip))
		d := &webpage.Data{Title: "Log in", Errors: map[string]string{"token": "not a valid admin token"}}
		webpage.Render(w, r, a.log, adminPages, http.StatusUnauthorized, "login", d)
		return
	}
	a.limit.Succeeded(ctx, keys...)
	value, expires := a.newSession(token)
	a.setCookie(w, value, expires)
	webpage.SeeOther(w, r, "/")
}

func (a *Server) logoutSubmit(w http.ResponseWriter, r *http.Request, _ *webpage.Data) error {
	a.setCookie(w, "", time.Time{})
	webpage.SeeOther(w, r, "/")
	return nil
}

// tenantRow is one tenant on the dashboard.
type tenantRow struct {
	Name, Subdomain, Status, Database string
	DBStatus, Latency, Size           string
	Users                             int64 // -1 when the database did not answer
	MaxUsers                          int
	Locations                         []string
}

type adminDashboardData struct {
	Query, Status, Prev, Next string
	Rows                      []tenantRow
}

func (a *Server) dashboardPage(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	return a.renderDashboard(w, r, d, http.StatusOK)
}

// renderDashboard lists a page of tenants, searched by ?q= (name or
// subdomain) and filtered by ?status=, paged with ?after= and ?before=,
// with, for each, its database state and user count (one pooled query per
// tenant, a few tenants at a time) and its locations.
func (a *Server) renderDashboard(w http.ResponseWriter, r *http.Request, d *webpage.Data, status int) error {
	q := r.URL.Query()
	data := adminDashboardData{Query: strings.TrimSpace(q.Get("q")), Status: q.Get("status")}
	page, err := a.m.Search(r.Context(), tenantstore.SearchOptions{
		Query: data.Query, Status: tenantstore.Status(data.Status),
		After: q.Get("after"), Before: q.Get("before"), Limit: dashboardPageSize,
	})
	if err != nil {
		return err
	}
	tenants := page.Tenants
	data.Prev, data.Next = page.Prev, page.Next
	data.Rows = make([]tenantRow, len(tenants))
	sem := make(chan struct{}, dashboardParallel)
	var wg sync.WaitGroup
	for i, t := range tenants {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			data.Rows[i] = a.tenantRow(r.Context(), t)
		})
	}
	wg.Wait()
	d.Title, d.Data = "Tenants", data
	webpage.Render(w, r, a.log, adminPages, status, "dashboard", d)
	return nil
}

func (a *Server) tenantRow(ctx context.Context, t *tenantstore.Tenant) tenantRow {
	row := tenantRow{Name: t.Name, Subdomain: t.Subdomain, Status: string(t.Status), Database: t.DatabaseName,
		MaxUsers: t.MaxUsers, Users: -1, DBStatus: "unreachable"}
	if locs, err := a.m.ListLocations(ctx, t.Subdomain); err == nil {
		for _, l := range locs {
			name := l.Name + " (" + l.Code + ")"
			if !l.Active {
				name += " — inactive"
			}
			row.Locations = append(row.Locations, name)
		}
	}
	if t.Status == tenantstore.StatusProvisioning {
		row.DBStatus = "provisioning"
		return row
	}
	start := time.Now()
	n, size, err := a.countUsers(ctx, t)
	if err != nil {
		reqctx.Logger(ctx, a.log).WarnContext(ctx, "dashboard: tenant database check failed",
			slog.String("tenant", t.Subdomain), slog.String("error", err.Error()))
		return row
	}
	row.Users, row.DBStatus, row.Size = n, "ok", humanize.Bytes(uint64(max(size, 0)))
	row.Latency = fmt.Sprintf("%.1f ms", float64(time.Since(start).Microseconds())/1000)
	return row
}

// countUsers counts the tenant's users, and reads its database's size in
// the same query, through the admin's own small pools,
// so a dashboard refresh reuses connections instead of opening one per
// tenant, and a dead tenant database fails fast (the pools' breaker).
func (a *Server) countUsers(ctx context.Context, t *tenantstore.Tenant) (users, size int64, err error) {
	ctx, cancel := context.WithTimeout(ctx, dashboardProbeTimeout)
	defer cancel()
	dsn, err := a.m.DatabaseURL(t)
	if err != nil {
		return 0, 0, err
	}
	lease, err := a.pools.Acquire(ctx, t.ID, dsn)
	if err != nil {
		return 0, 0, err
	}
	defer lease.Release()
	err = lease.Pool().QueryRow(ctx, `SELECT count(*), pg_database_size(current_database()) FROM users`).Scan(&users, &size)
	return users, size, err
}

// createSubmit creates a tenant from the dashboard's form; the generated
// admin password is shown once, on the answer page (never in a URL).
func (a *Server) createSubmit(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	d.Form = webpage.FormValues(r, "name", "subdomain", "admin_email", "max_users", "multi_location")
	in := createTenantRequest{
		Name: d.Form["name"], Subdomain: d.Form["subdomain"], AdminEmail: d.Form["admin_email"],
		MultiLocation: d.Form["multi_location"] != "", AdminPassword: r.PostForm.Get("admin_password"),
	}
	if v := d.Form["max_users"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return a.formError(w, r, d, httpapi.InvalidField("max_users", "must be a whole number"))
		}
		in.MaxUsers = &n
	}
	t, password, err := a.m.Create(r.Context(), in.createRequest())
	if err != nil {
		return a.formError(w, r, d, err)
	}
	d.Form = nil
	d.Notice = fmt.Sprintf("Created %s (%s).", t.Name, t.Subdomain)
	if password != "" {
		d.Notice += " Initial admin password for " + t.AdminEmail + ": " + password + " — shown once, note it now."
	}
	return a.renderDashboard(w, r, d, http.StatusCreated)
}

// formError shows a refused create beside its field, or as the form's error.
func (a *Server) formError(w http.ResponseWriter, r *http.Request, d *webpage.Data, err error) error {
	status, err := d.FieldError(adminError(err))
	if err != nil {
		return err
	}
	return a.renderDashboard(w, r, d, status)
}

// statusSubmit suspends, activates or puts a tenant in maintenance. Without
// confirm=yes it answers the confirmation page, whose form posts again with
// it: a confirmation step that needs no script.
func (a *Server) statusSubmit(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	st := tenantstore.Status(r.PostForm.Get("status"))
	if !st.Valid() {
		return httpapi.InvalidField("status", "must be active, suspended or maintenance")
	}
	sub := mux.Vars(r)["subdomain"]
	t, err := a.m.Get(r.Context(), sub)
	if err != nil {
		return err
	}
	if r.PostForm.Get("confirm") != "yes" {
		d.Title = "Confirm: " + statusVerb[st] + " " + t.Name
		d.Data = confirmData{Tenant: t, Status: string(st), Verb: statusVerb[st], Effect: statusEffect[st]}
		webpage.Render(w, r, a.log, adminPages, http.StatusOK, "confirm", d)
		return nil
	}
	if _, err := a.m.SetStatus(r.Context(), t.Subdomain, st); err != nil {
		return err
	}
	a.redirectWith(w, r, "/tenants/"+t.Subdomain, fmt.Sprintf("%s is now %s.", t.Name, st), false)
	return nil
}
