package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/internal/testenv"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// login starts a dashboard session and returns its cookie and CSRF token.
func (e *adminEnv) login() (session, csrf string) {
	e.t.Helper()
	rec := e.browse(http.MethodPost, "/login", url.Values{"token": {testAdminToken}}, "", nil)
	for _, c := range rec.Result().Cookies() {
		if c.Name == Cookie {
			session = c.Value
		}
	}
	if session == "" {
		e.t.Fatalf("POST /login = %d, no session cookie", rec.Code)
	}
	m := csrfRE.FindStringSubmatch(e.browse(http.MethodGet, "/", nil, session, nil).Body.String())
	if m == nil {
		e.t.Fatal("dashboard carries no CSRF token")
	}
	return session, m[1]
}

// follow asserts rec is a 303 to want and returns the page it leads to,
// with the flash cookie rec set.
func (e *adminEnv) follow(rec *httptest.ResponseRecorder, session, want string) string {
	e.t.Helper()
	if rec.Code != http.StatusSeeOther {
		e.t.Fatalf("answer = %d, want 303; body %.400s", rec.Code, rec.Body.String())
	}
	if loc := rec.Header().Get("Location"); want != "" && loc != want {
		e.t.Fatalf("redirect to %q, want %q", loc, want)
	}
	cookie := Cookie + "=" + session
	for _, c := range rec.Result().Cookies() {
		if c.Name == flashCookie {
			cookie += "; " + flashCookie + "=" + c.Value
		}
	}
	page := e.browse(http.MethodGet, rec.Header().Get("Location"), nil, "", map[string]string{"Cookie": cookie})
	if page.Code != http.StatusOK {
		e.t.Fatalf("GET %s = %d, want 200", rec.Header().Get("Location"), page.Code)
	}
	return page.Body.String()
}

// notice is the text of the page's success notice, "" without one.
func notice(page string) string {
	return between(page, `<div class="alert notice" role="status">`, `</div>`)
}

// pageError is the text of the page's error alert, "" without one.
func pageError(page string) string {
	return between(page, `<div class="alert error" role="alert">`, `</div>`)
}

func between(s, from, to string) string {
	_, rest, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, to)
	return v
}

func TestDashboardTenantActions(t *testing.T) {
	e := newAdminEnv(t)
	ctx := context.Background()
	e.must(http.StatusCreated, e.api(http.MethodPost, "/api/tenants", map[string]any{
		"name": `Acme <b>"Bold"</b>`, "subdomain": "acme", "admin_email": "boss@acme.example.com", "max_users": 5}), "create acme")
	e.must(http.StatusCreated, e.api(http.MethodPost, "/api/tenants", map[string]any{
		"name": "Globex", "subdomain": "globex", "admin_email": "hank@globex.example.com"}), "create globex")
	session, csrf := e.login()
	post := func(path string, form url.Values) *httptest.ResponseRecorder {
		t.Helper()
		if form == nil {
			form = url.Values{}
		}
		form.Set("csrf", csrf)
		return e.browse(http.MethodPost, path, form, session, nil)
	}
	get := func(path string) *httptest.ResponseRecorder {
		t.Helper()
		return e.browse(http.MethodGet, path, nil, session, nil)
	}

	t.Run("page escapes a hostile name", func(t *testing.T) {
		rec := get("/tenants/acme")
		page := rec.Body.String()
		if rec.Code != http.StatusOK || !strings.Contains(page, "Acme &lt;b&gt;&#34;Bold&#34;&lt;/b&gt;") || strings.Contains(page, "<b>\"Bold\"") {
			t.Errorf("GET /tenants/acme = %d, want 200 with the name escaped", rec.Code)
		}
		if !strings.Contains(rec.Header().Get("Content-Security-Policy"), "default-src 'none'") {
			t.Errorf("tenant page CSP = %q", rec.Header().Get("Content-Security-Policy"))
		}
		if rec := get("/tenants/nope"); rec.Code != http.StatusNotFound {
			t.Errorf("GET /tenants/nope = %d, want 404", rec.Code)
		}
		if rec := e.browse(http.MethodGet, "/tenants/acme", nil, "", nil); !strings.Contains(rec.Body.String(), `<label for="token">`) {
			t.Errorf("GET /tenants/acme without a session does not show the login form")
		}
	})

	t.Run("forms are guarded", func(t *testing.T) {
		for _, path := range []string{"/tenants/acme", "/tenants/acme/rename", "/tenants/acme/domains", "/tenants/acme/locations", "/tenants/acme/delete", "/tenants/acme/backups"} {
			if rec := e.browse(http.MethodPost, path, url.Values{"subdomain": {"evil"}}, session, nil); rec.Code != http.StatusForbidden {
				t.Errorf("POST %s without the CSRF token = %d, want 403", path, rec.Code)
			}
			if rec := e.browse(http.MethodPost, path, url.Values{"csrf": {csrf}, "subdomain": {"evil"}}, session,
				map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}); rec.Code != http.StatusForbidden {
				t.Errorf("cross-site POST %s = %d, want 403", path, rec.Code)
			}
			if rec := e.browse(http.MethodPost, path, url.Values{"csrf": {csrf}}, "", nil); rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/" {
				t.Errorf("POST %s without a session = %d, want 303 to the login", path, rec.Code)
			}
		}
		if got, _ := e.m.Get(ctx, "acme"); got.Subdomain != "acme" {
			t.Errorf("a refused form changed the tenant")
		}
	})

	t.Run("edit", func(t *testing.T) {
		page := e.follow(post("/tenants/acme", url.Values{"name": {"Acme Corp"}, "admin_email": {"ceo@acme.example.com"}, "max_users": {"7"}, "multi_location": {"true"}}), session, "/tenants/acme")
		if !strings.Contains(notice(page), "Saved Acme Corp.") {
			t.Errorf("after edit: notice %q, want Saved Acme Corp.", notice(page))
		}
		got, _ := e.m.Get(ctx, "acme")
		if got.Name != "Acme Corp" || got.MaxUsers != 7 || !got.MultiLocation || got.AdminEmail != "ceo@acme.example.com" {
			t.Errorf("after edit: %+v", got)
		}
		rec := post("/tenants/acme", url.Values{"name": {"Acme Corp"}, "admin_email": {"ceo@acme.example.com"}, "max_users": {"0"}})
		if rec.Code != http.StatusBadRequest || fieldErrorOf(rec.Body.String(), "max_users") == "" {
			t.Errorf("edit with max_users 0 = %d, want 400 with the error beside max_users", rec.Code)
		}
		rec = post("/tenants/acme", url.Values{"name": {"Globex"}, "admin_email": {"ceo@acme.example.com"}, "max_users": {"7"}})
		if rec.Code != http.StatusConflict || fieldErrorOf(rec.Body.String(), "name") == "" {
			t.Errorf("edit to a taken name = %d, want 409 beside name", rec.Code)
		}
		rec = post("/tenants/acme", url.Values{"name": {"Acme Two"}, "admin_email": {"ceo@acme.example.com"}, "max_users": {"7"}, "version": {"1"}})
		if rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "changed by someone else") {
			t.Errorf("edit over a stale version = %d, want 409 saying it changed", rec.Code)
		}
	})

	t.Run("rename", func(t *testing.T) {
		rec := post("/tenants/acme/rename", url.Values{"subdomain": {"globex"}})
		if rec.Code != http.StatusConflict || fieldErrorOf(rec.Body.String(), "subdomain") == "" {
			t.Errorf("rename to a taken subdomain = %d, want 409 beside subdomain", rec.Code)
		}
		rec = post("/tenants/acme/rename", url.Values{"subdomain": {`<script>x</script>`}})
		if rec.Code != http.StatusBadRequest || strings.Contains(rec.Body.String(), "<script>x") {
			t.Errorf("rename to a hostile subdomain = %d, want 400 with it escaped", rec.Code)
		}
		page := e.follow(post("/tenants/acme/rename", url.Values{"subdomain": {"acme-new"}}), session, "/tenants/acme-new")
		if !strings.Contains(notice(page), "now served at acme-new") {
			t.Errorf("after rename: notice %q", notice(page))
		}
		if _, err := e.m.Get(ctx, "acme"); err == nil {
			t.Errorf("the old subdomain still names the tenant")
		}
		e.follow(post("/tenants/acme-new/rename", url.Values{"subdomain": {"acme"}}), session, "/tenants/acme")
	})

	t.Run("maintenance with confirmation", func(t *testing.T) {
		rec := post("/tenants/acme/status", url.Values{"status": {"maintenance"}})
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `name="confirm" value="yes"`) {
			t.Fatalf("maintenance without confirm = %d, want the confirmation page", rec.Code)
		}
		if got, _ := e.m.Get(ctx, "acme"); got.Status != tenantstore.StatusActive {
			t.Errorf("the unconfirmed change applied: %s", got.Status)
		}
		page := e.follow(post("/tenants/acme/status", url.Values{"status": {"maintenance"}, "confirm": {"yes"}}), session, "/tenants/acme")
		if !strings.Contains(notice(page), "is now maintenance") || !strings.Contains(page, `badge maintenance`) {
			t.Errorf("after maintenance: notice %q", notice(page))
		}
		e.follow(post("/tenants/acme/status", url.Values{"status": {"active"}, "confirm": {"yes"}}), session, "/tenants/acme")
		if rec := post("/tenants/nope/status", url.Values{"status": {"active"}, "confirm": {"yes"}}); rec.Code != http.StatusNotFound {
			t.Errorf("status of an unknown tenant = %d, want 404", rec.Code)
		}
	})

	t.Run("domains", func(t *testing.T) {
		page := e.follow(post("/tenants/acme/domains", url.Values{"hostname": {"Shop.Example.com"}}), session, "/tenants/acme")
		got, _ := e.m.Get(ctx, "acme")
		if len(got.Domains) != 1 {
			t.Fatalf("domains after add = %v", got.Domains)
		}
		token := got.Domains[0].VerificationToken
		if n := notice(page); !strings.Contains(n, "_tenantgate.shop.example.com") || !strings.Contains(n, token) {
			t.Errorf("after add: notice %q, want the TXT record and token", n)
		}
		if !strings.Contains(page, "not verified") {
			t.Errorf("the page does not say the domain is not verified")
		}
		page = e.follow(post("/tenants/acme/domains/shop.example.com/verify", nil), session, "/tenants/acme")
		if msg := pageError(page); !strings.Contains(msg, "not verified yet") || !strings.Contains(msg, "_tenantgate.shop.example.com") {
			t.Errorf("verify without TXT: error %q", msg)
		}
		e.mu.Lock()
		e.txt["_tenantgate.shop.example.com"] = []string{token}
		e.mu.Unlock()
		page = e.follow(post("/tenants/acme/domains/shop.example.com/verify", nil), session, "/tenants/acme")
		if !strings.Contains(notice(page), "shop.example.com is verified") {
			t.Errorf("verify with TXT: notice %q", notice(page))
		}
		if got, _ := e.m.Get(ctx, "acme"); !got.Domains[0].Verified {
			t.Errorf("domain not verified")
		}
		rec := post("/tenants/acme/domains", url.Values{"hostname": {`<img src=x>.example.com`}})
		if rec.Code != http.StatusBadRequest || fieldErrorOf(rec.Body.String(), "hostname") == "" || strings.Contains(rec.Body.String(), "<img src=x>") {
			t.Errorf("add a hostile hostname = %d, want 400 beside hostname, escaped", rec.Code)
		}
		if rec := post("/tenants/globex/domains/shop.example.com/remove", nil); rec.Code != http.StatusNotFound {
			t.Errorf("remove acme's domain through globex = %d, want 404", rec.Code)
		}
		e.follow(post("/tenants/acme/domains/shop.example.com/remove", nil), session, "/tenants/acme")
		if got, _ := e.m.Get(ctx, "acme"); len(got.Domains) != 0 {
			t.Errorf("domains after remove = %v", got.Domains)
		}
	})

	t.Run("locations", func(t *testing.T) {
		page := e.follow(post("/tenants/acme/locations", url.Values{"loc_name": {"Main store"}, "loc_code": {"main"}, "loc_address": {"1 Main St"}}), session, "/tenants/acme")
		if !strings.Contains(notice(page), "Added the location Main store (main).") {
			t.Errorf("after add: notice %q", notice(page))
		}
		rec := post("/tenants/acme/locations", url.Values{"loc_name": {"Again"}, "loc_code": {"main"}})
		if rec.Code != http.StatusConflict || fieldErrorOf(rec.Body.String(), "loc_code") == "" {
			t.Errorf("add a taken code = %d, want 409 beside loc_code", rec.Code)
		}
		page = e.follow(post("/tenants/acme/locations/main", url.Values{"name": {"Main"}, "address": {"2 Main St"}}), session, "/tenants/acme")
		if !strings.Contains(notice(page), "inactive") {
			t.Errorf("after deactivate: notice %q", notice(page))
		}
		locs, _ := e.m.ListLocations(ctx, "acme")
		if len(locs) != 1 || locs[0].Active || locs[0].Name != "Main" || locs[0].Address != "2 Main St" {
			t.Errorf("after edit: %+v", locs)
		}
		if rec := post("/tenants/globex/locations/main/delete", nil); rec.Code != http.StatusNotFound {
			t.Errorf("delete acme's location through globex = %d, want 404", rec.Code)
		}
		page = e.follow(post("/tenants/acme/locations/main/delete", nil), session, "/tenants/acme")
		if !strings.Contains(notice(page), "Deleted the location main.") {
			t.Errorf("after delete: notice %q", notice(page))
		}
	})

	t.Run("backup and jobs", func(t *testing.T) {
		rec := post("/tenants/acme/backups", nil)
		if rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/jobs/") {
			t.Fatalf("backup = %d to %q, want 303 to the job", rec.Code, rec.Header().Get("Location"))
		}
		jobURL := rec.Header().Get("Location")
		page := e.follow(rec, session, "")
		if !strings.Contains(notice(page), "Started the backup") {
			t.Errorf("job page notice %q", notice(page))
		}
		deadline := time.Now().Add(60 * time.Second)
		for strings.Contains(page, `http-equiv="refresh"`) && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
			page = get(jobURL).Body.String()
		}
		if !strings.Contains(page, "badge job-succeeded") || !strings.Contains(page, "acme-") {
			t.Errorf("finished backup job page lacks succeeded and its result: %.2000s", page)
		}
		if list := get("/jobs").Body.String(); !strings.Contains(list, jobURL) {
			t.Errorf("job list lacks %s", jobURL)
		}
		if page := get("/tenants/acme").Body.String(); !strings.Contains(page, `<option value="acme-`) {
			t.Errorf("tenant page offers no backup to restore")
		}
		file := between(between(get("/tenants/acme").Body.String(), `name="file"`, `</select>`), `<option value="`, `"`)
		waitJob := func(rec *httptest.ResponseRecorder) string {
			t.Helper()
			if rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/jobs/") {
				t.Fatalf("start job = %d to %q, want 303 to the job; body %.300s", rec.Code, rec.Header().Get("Location"), rec.Body.String())
			}
			u := rec.Header().Get("Location")
			page := get(u).Body.String()
			for deadline := time.Now().Add(90 * time.Second); strings.Contains(page, `http-equiv="refresh"`) && time.Now().Before(deadline); {
				time.Sleep(200 * time.Millisecond)
				page = get(u).Body.String()
			}
			return page
		}
		if page := waitJob(post("/tenants/acme/restore", url.Values{"file": {file}})); !strings.Contains(page, "badge job-succeeded") || !strings.Contains(page, "new_database") {
			t.Errorf("restore of %s: job page %.1500s", file, page)
		}
		target := testenv.WithDatabase(testenv.PostgresURL(), e.prefix+"moved")
		page = waitJob(post("/tenants/acme/move", url.Values{"new_url": {target}}))
		if !strings.Contains(page, "badge job-succeeded") || strings.Contains(page, target) {
			t.Errorf("move: job page %.1500s, want succeeded without the target URL", page)
		}
		if got, _ := e.m.Get(ctx, "acme"); got.Status != tenantstore.StatusActive || !strings.Contains(got.DatabaseName, "moved") {
			t.Errorf("after the move: %s in %s, want active in the target database", got.Status, got.DatabaseName)
		}
		if rec := post("/tenants/acme/restore", url.Values{"file": {"../../etc/passwd"}}); rec.Code != http.StatusSeeOther {
			t.Errorf("restore of a foreign file = %d, want 303 with an error", rec.Code)
		} else if msg := pageError(e.follow(rec, session, "/tenants/acme")); !strings.Contains(msg, "choose one of the tenant") {
			t.Errorf("restore of a foreign file: error %q", msg)
		}
		rec = post("/tenants/acme/move", url.Values{"new_url": {"http://x"}})
		if rec.Code != http.StatusBadRequest || fieldErrorOf(rec.Body.String(), "new_url") == "" {
			t.Errorf("move to a bad URL = %d, want 400 beside new_url", rec.Code)
		}
		if rec := get("/jobs/00000000-0000-0000-0000-000000000000"); rec.Code != http.StatusNotFound {
			t.Errorf("unknown job = %d, want 404", rec.Code)
		}
	})

	t.Run("delete", func(t *testing.T) {
		if rec := get("/tenants/globex/delete"); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "Type the subdomain globex") {
			t.Errorf("GET delete page = %d", rec.Code)
		}
		rec := post("/tenants/globex/delete", url.Values{"confirm_subdomain": {"acme"}})
		if rec.Code != http.StatusBadRequest || fieldErrorOf(rec.Body.String(), "confirm_subdomain") == "" {
			t.Errorf("delete with the wrong subdomain typed = %d, want 400 beside it", rec.Code)
		}
		rec = post("/tenants/globex/delete", url.Values{"confirm_subdomain": {"globex"}})
		if rec.Code != http.StatusConflict || !strings.Contains(pageError(rec.Body.String()), "Not deleted: status is active; suspend it first.") {
			t.Errorf("delete of an active tenant = %d, want 409 saying to suspend it", rec.Code)
		}
		e.follow(post("/tenants/globex/status", url.Values{"status": {"suspended"}, "confirm": {"yes"}}), session, "/tenants/globex")
		page := e.follow(post("/tenants/globex/delete", url.Values{"confirm_subdomain": {"globex"}, "drop_database": {"true"}}), session, "/")
		if !strings.Contains(notice(page), "Deleted Globex (globex).") || !strings.Contains(notice(page), "dropped") {
			t.Errorf("after delete: notice %q", notice(page))
		}
		if _, err := e.m.Get(ctx, "globex"); err == nil {
			t.Errorf("globex still exists")
		}
		// A database tenantgate did not create is kept, and the notice
		// carries the API's warning.
		if err := e.store.Insert(ctx, &tenantstore.Tenant{Name: "Adopted", Subdomain: "adopted", AdminEmail: "a@adopted.example",
			Status: tenantstore.StatusSuspended, MaxUsers: 1, DatabaseName: "someone_elses_db"}); err != nil {
			t.Fatal(err)
		}
		page = e.follow(post("/tenants/adopted/delete", url.Values{"confirm_subdomain": {"adopted"}, "drop_database": {"true"}}), session, "/")
		if n := notice(page); !strings.Contains(n, "Warning:") || !strings.Contains(n, "kept, detached") {
			t.Errorf("delete of an adopted database: notice %q, want the API's warning", n)
		}
	})
}

// TestDashboardFlashBoundToSession: the notice after an action is escaped,
// and a flash cookie shown with another session shows nothing.
func TestDashboardFlashBoundToSession(t *testing.T) {
	e := newAdminEnv(t)
	e.must(http.StatusCreated, e.api(http.MethodPost, "/api/tenants", map[string]any{
		"name": `Evil <img src=x onerror=alert(1)>`, "subdomain": "evil", "admin_email": "boss@evil.example.com"}), "create evil")
	s1, csrf := e.login()
	rec := e.browse(http.MethodPost, "/tenants/evil/status", url.Values{"csrf": {csrf}, "status": {"suspended"}, "confirm": {"yes"}}, s1, nil)
	page := e.follow(rec, s1, "/tenants/evil")
	if n := notice(page); n != "Evil &lt;img src=x onerror=alert(1)&gt; is now suspended." {
		t.Errorf("notice = %q, want the name escaped", n)
	}
	flash := ""
	for _, c := range rec.Result().Cookies() {
		if c.Name == flashCookie {
			flash = c.Value
		}
	}
	login := e.browse(http.MethodPost, "/login", url.Values{"token": {"other-token"}}, "", nil)
	var s2 string
	for _, c := range login.Result().Cookies() {
		if c.Name == Cookie {
			s2 = c.Value
		}
	}
	if s2 == "" || s2 == s1 {
		t.Fatalf("second session %q", s2)
	}
	page = e.browse(http.MethodGet, "/", nil, "", map[string]string{"Cookie": Cookie + "=" + s2 + "; " + flashCookie + "=" + flash}).Body.String()
	if notice(page) != "" {
		t.Errorf("another session's flash shows %q", notice(page))
	}
}

func TestDashboardSearchAndPaging(t *testing.T) {
	e := newAdminEnv(t)
	ctx := context.Background()
	for _, n := range []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf"} {
		tn := &tenantstore.Tenant{Name: strings.ToUpper(n[:1]) + n[1:] + " Ltd", Subdomain: n, AdminEmail: "a@" + n + ".example", Status: tenantstore.StatusSuspended, MaxUsers: 1, DatabaseName: e.prefix + n}
		if n == "echo" || n == "golf" {
			tn.Status = tenantstore.StatusActive
		}
		if err := e.store.Insert(ctx, tn); err != nil {
			t.Fatal(err)
		}
	}
	p1, err := e.m.Search(ctx, tenantstore.SearchOptions{Limit: 3})
	if err != nil || len(p1.Tenants) != 3 || p1.Prev != "" || p1.Next == "" || p1.Tenants[0].Subdomain != "alpha" {
		t.Fatalf("page 1 = %v, %v", p1, err)
	}
	p2, _ := e.m.Search(ctx, tenantstore.SearchOptions{Limit: 3, After: p1.Next})
	if len(p2.Tenants) != 3 || p2.Tenants[0].Subdomain != "delta" || p2.Prev == "" || p2.Next == "" {
		t.Fatalf("page 2 = %+v", p2)
	}
	back, _ := e.m.Search(ctx, tenantstore.SearchOptions{Limit: 3, Before: p2.Prev})
	if len(back.Tenants) != 3 || back.Tenants[0].Subdomain != "alpha" || back.Prev != "" || back.Next == "" {
		t.Errorf("back from page 2 = %+v", back)
	}
	p3, _ := e.m.Search(ctx, tenantstore.SearchOptions{Limit: 3, After: p2.Next})
	if len(p3.Tenants) != 1 || p3.Next != "" || p3.Prev == "" {
		t.Errorf("page 3 = %+v", p3)
	}
	if p, _ := e.m.Search(ctx, tenantstore.SearchOptions{Query: "LTD", Status: tenantstore.StatusActive}); len(p.Tenants) != 2 {
		t.Errorf("active matching ltd = %d tenants, want 2", len(p.Tenants))
	}
	if p, _ := e.m.Search(ctx, tenantstore.SearchOptions{Query: "%"}); len(p.Tenants) != 0 {
		t.Errorf("a %% query matches %d tenants, want none (wildcards are literal)", len(p.Tenants))
	}

	session, _ := e.login()
	page := e.browse(http.MethodGet, "/?q=har", nil, session, nil).Body.String()
	if !strings.Contains(page, `href="/tenants/charlie"`) || strings.Contains(page, `href="/tenants/alpha"`) {
		t.Errorf("?q=har does not list exactly charlie")
	}
	page = e.browse(http.MethodGet, "/?q=%3Cscript%3E", nil, session, nil).Body.String()
	if strings.Contains(page, "<script>") || !strings.Contains(page, "&lt;script&gt;") {
		t.Errorf("a hostile query is not escaped")
	}
	if rec := e.browse(http.MethodGet, "/?status=bogus", nil, session, nil); rec.Code != http.StatusBadRequest {
		t.Errorf("?status=bogus = %d, want 400", rec.Code)
	}
}

func TestAPIListJobs(t *testing.T) {
	e := newAdminEnv(t)
	e.must(http.StatusCreated, e.api(http.MethodPost, "/api/tenants", map[string]any{
		"name": "Acme", "subdomain": "acme", "admin_email": "boss@acme.example.com"}), "create acme")
	var ids []string
	for range 2 {
		res := e.must(http.StatusAccepted, e.api(http.MethodPost, "/api/tenants/acme/backups", nil), "backup")
		id := res.Body["id"].(string)
		ids = append(ids, id)
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if st := e.api(http.MethodGet, "/api/jobs/"+id, nil).Body["status"]; st == "succeeded" || st == "failed" {
				break
			}
		}
	}
	res := e.must(http.StatusOK, e.api(http.MethodGet, "/api/jobs?limit=1", nil), "list jobs")
	var page struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
		NextCursor string `json:"next_cursor"`
	}
	if err := json.Unmarshal(res.Raw, &page); err != nil || len(page.Items) != 1 || page.Items[0].ID != ids[1] || page.NextCursor == "" {
		t.Fatalf("GET /api/jobs?limit=1 = %s, want the newest job and a cursor", res.Raw)
	}
	res = e.must(http.StatusOK, e.api(http.MethodGet, "/api/jobs?limit=1&cursor="+url.QueryEscape(page.NextCursor), nil), "list jobs page 2")
	page.Items = nil
	if err := json.Unmarshal(res.Raw, &page); err != nil || len(page.Items) != 1 || page.Items[0].ID != ids[0] {
		t.Errorf("page 2 = %s, want the older job", res.Raw)
	}
	if res := e.api(http.MethodGet, "/api/jobs?tenant=other", nil); len(res.Body["items"].([]any)) != 0 {
		t.Errorf("?tenant=other lists acme's jobs")
	}
	if res := e.api(http.MethodGet, "/api/jobs?cursor=bogus", nil); res.Status != http.StatusBadRequest {
		t.Errorf("a bogus cursor = %d, want 400", res.Status)
	}
}

func TestAPIDocsPage(t *testing.T) {
	r := routerForDoc(t)
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/docs", nil))
	body := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("GET /api/docs = %d %s, want an HTML page", rec.Code, rec.Header().Get("Content-Type"))
	}
	for _, want := range []string{"/api/tenants/{subdomain}/domains/{hostname}/verify", "Create (provision) a tenant", `id="schema-TenantCreate"`,
		"subdomain", "(required)", "/api/jobs", `href="/api/openapi.json"`, `<code class="mono">next_cursor</code>`} {
		if !strings.Contains(body, want) {
			t.Errorf("/api/docs lacks %q", want)
		}
	}
	if strings.Contains(body, "<script") {
		t.Errorf("/api/docs has a script")
	}
}

// TestDashboardPagesBothWays: over more tenants than a page, the list
// links to the next page and from there back to the first.
func TestDashboardPagesBothWays(t *testing.T) {
	e := newAdminEnv(t)
	ctx := context.Background()
	// Provisioning tenants are listed without probing their databases.
	for i := range dashboardPageSize + 5 {
		sub := fmt.Sprintf("t%03d", i)
		if err := e.store.Insert(ctx, &tenantstore.Tenant{Name: "Tenant " + sub, Subdomain: sub, AdminEmail: "a@" + sub + ".example",
			Status: tenantstore.StatusProvisioning, MaxUsers: 1, DatabaseName: e.prefix + sub}); err != nil {
			t.Fatal(err)
		}
	}
	session, _ := e.login()
	link := regexp.MustCompile(`<a href="([^"]+)" rel="(prev|next)">`)
	links := func(page string) map[string]string {
		out := map[string]string{}
		for _, m := range link.FindAllStringSubmatch(page, -1) {
			out[m[2]] = html.UnescapeString(m[1])
		}
		return out
	}
	first := e.browse(http.MethodGet, "/?status=provisioning", nil, session, nil).Body.String()
	l := links(first)
	if l["prev"] != "" || l["next"] == "" || !strings.Contains(first, `href="/tenants/t000"`) || strings.Contains(first, `href="/tenants/t050"`) {
		t.Fatalf("first page: links %v, want next only, t000 to t049", l)
	}
	second := e.browse(http.MethodGet, l["next"], nil, session, nil).Body.String()
	l = links(second)
	if l["prev"] == "" || l["next"] != "" || !strings.Contains(second, `href="/tenants/t054"`) || strings.Contains(second, `href="/tenants/t049"`) {
		t.Fatalf("second page: links %v, want prev only, t050 to t054", l)
	}
	back := e.browse(http.MethodGet, l["prev"], nil, session, nil).Body.String()
	if l := links(back); l["prev"] != "" || l["next"] == "" || !strings.Contains(back, `href="/tenants/t000"`) || !strings.Contains(back, `href="/tenants/t049"`) {
		t.Errorf("back to the first page: links %v, want t000 to t049 with next only", l)
	}
}
