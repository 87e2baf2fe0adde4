package appserver

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// web holds the templates and the stylesheet of the tenant pages and the
// admin dashboard.
//
//go:embed web
var web embed.FS

// maxFormBytes bounds a posted HTML form.
const maxFormBytes = 64 << 10

// stylesheet is web/style.css, inlined into every page; styleCSP is the
// Content-Security-Policy that allows exactly it (by hash) and nothing else
// to run or load: no script, no external resource, forms to this origin only.
var stylesheet, styleCSP = func() (template.CSS, string) {
	b, err := web.ReadFile("web/style.css")
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256(b)
	csp := "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	return template.CSS(b), csp
}()

// pageSet is one template per page of a directory of web/, each made of the
// directory's layout.html and the page's file (which defines "content").
type pageSet map[string]*template.Template

var pageFuncs = template.FuncMap{
	"field":  fieldOf,
	"choice": choiceOf,
	"inc":    func(i int) int { return i + 1 },
}

// mustPages parses web/<dir>: layout.html plus every other *.html as a page
// named after its file without the extension.
func mustPages(dir string) pageSet {
	layout := template.Must(template.New("layout.html").Funcs(pageFuncs).ParseFS(web, "web/"+dir+"/layout.html"))
	files, err := fs.Glob(web, "web/"+dir+"/*.html")
	if err != nil {
		panic(err)
	}
	set := pageSet{}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" {
			continue
		}
		set[name] = template.Must(template.Must(layout.Clone()).ParseFS(web, f))
	}
	return set
}

// pageData is what every page template receives.
type pageData struct {
	Title  string
	CSS    template.CSS
	Tenant *tenantstore.Tenant // tenant pages: the organization in the header
	User   *User               // tenant pages: the logged-in user, nil on /login
	Active string              // the navigation entry of this page
	Notice string              // a success message
	Error  string              // an error about the whole form
	Errors map[string]string   // field name → message, shown beside the field
	Form   map[string]string   // field name → value, to refill a form
	CSRF   string              // admin pages: the CSRF token for forms
	Data   any                 // the page's own data
}

// fieldError records err beside its field when it names one and is the
// client's fault; otherwise it returns err for the error page. A client
// error without a field becomes the form's error.
func (d *pageData) fieldError(err error) (status int, _ error) {
	ae, internal := toError(err)
	if internal || ae.Status >= 500 || ae.Status == http.StatusForbidden || ae.Status == http.StatusUnauthorized && ae.Code != "invalid_credentials" {
		return 0, err
	}
	if d.Errors == nil {
		d.Errors = map[string]string{}
	}
	if ae.Field != "" {
		d.Errors[ae.Field] = ae.Message
	} else {
		d.Error = ae.Message
	}
	return ae.Status, nil
}

// fieldView is one labelled input of a form.
type fieldView struct {
	ID, Name, Label, Type, Value, Err, Step, Autocomplete string
	Required                                              bool
}

func fieldOf(d *pageData, name, label, typ, autocomplete string) fieldView {
	f := fieldView{ID: name, Name: name, Label: label, Type: typ, Autocomplete: autocomplete, Err: d.Errors[name]}
	if typ != "password" {
		f.Value = d.Form[name]
	}
	return f
}

// option is one choice of a select.
type option struct{ Value, Label string }

// selectView is one labelled select of a form.
type selectView struct {
	ID, Name, Label, Value, Err string
	Options                     []option
	Blank                       bool // offer an empty choice
}

func choiceOf(d *pageData, name, label string, options []option, blank bool) selectView {
	return selectView{ID: name, Name: name, Label: label, Value: d.Form[name], Err: d.Errors[name], Options: options, Blank: blank}
}

// render writes the page name of set with status, after rendering it fully,
// so a template error never leaves half a page.
func render(w http.ResponseWriter, r *http.Request, log *slog.Logger, set pageSet, status int, name string, d *pageData) {
	d.CSS = stylesheet
	var buf bytes.Buffer
	if err := set[name].Execute(&buf, d); err != nil {
		loggerFrom(r.Context(), log).ErrorContext(r.Context(), "rendering page", slog.String("page", name), slog.String("error", err.Error()))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", styleCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	// Same-origin referrers are kept: a form post without Origin is checked
	// against its Referer.
	h.Set("Referrer-Policy", "same-origin")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// seeOther redirects after a form post (post/redirect/get).
func seeOther(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// parseForm reads a posted form of bounded size.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return invalidField("body", "malformed or too large form")
	}
	return nil
}

// bufferWriter captures the answer of an API handler called by a page.
type bufferWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferWriter) Header() http.Header { return b.header }

func (b *bufferWriter) Write(p []byte) (int, error) { return b.body.Write(p) }

func (b *bufferWriter) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

// callAPI runs an API handler of this package for a page, in the page
// request's context (tenant, pool lease, user), with in as its JSON body and
// query as its query string, and decodes its JSON answer into out. The pages
// thereby share the API's validation and queries instead of repeating them.
// It returns the headers the handler set (a login's Set-Cookie).
func (s *Server) callAPI(r *http.Request, h handlerFunc, method string, query url.Values, in, out any) (http.Header, error) {
	req := r.Clone(r.Context())
	req.Method = method
	req.URL = &url.URL{Path: r.URL.Path, RawQuery: query.Encode()}
	req.RequestURI = ""
	req.Body = http.NoBody
	req.ContentLength = 0
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encoding %s request: %w", r.URL.Path, err)
		}
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.ContentLength = int64(len(b))
		req.Header.Set("Content-Type", "application/json")
	}
	bw := &bufferWriter{header: http.Header{}}
	if err := h(bw, req); err != nil {
		return nil, err
	}
	if out != nil && bw.body.Len() > 0 {
		if err := json.Unmarshal(bw.body.Bytes(), out); err != nil {
			return nil, fmt.Errorf("decoding the answer to %s %s: %w", method, r.URL.Path, err)
		}
	}
	return bw.header, nil
}

// tenantPages are the templates of the tenant's pages (web/tenant).
var tenantPages = mustPages("tenant")

func init() { mountPages = mountTenantPages }

// mountTenantPages adds the tenant's HTML pages (SPEC §7) to the tenant
// router, which has verified the tenant token already.
func mountTenantPages(s *Server, r *mux.Router) {
	get := []string{http.MethodGet, http.MethodHead}
	r.Handle("/login", s.page(false, s.loginPage)).Methods(get...)
	r.Handle("/login", s.page(false, s.loginSubmit)).Methods(http.MethodPost)
	r.Handle("/logout", s.page(true, s.logoutSubmit)).Methods(http.MethodPost)
	r.Handle("/", s.page(true, s.dashboardPage)).Methods(get...)
	r.Handle("/customers", s.page(true, s.customersPage)).Methods(get...)
	r.Handle("/customers", s.page(true, s.customersSubmit)).Methods(http.MethodPost)
	r.Handle("/products", s.page(true, s.productsPage)).Methods(get...)
	r.Handle("/products", s.page(true, s.productsSubmit)).Methods(http.MethodPost)
	r.Handle("/invoices", s.page(true, s.invoicesPage)).Methods(get...)
	r.Handle("/invoices", s.page(true, s.invoicesSubmit)).Methods(http.MethodPost)
}

// pageFunc is a tenant page handler; d comes with tenant and user filled in.
type pageFunc func(w http.ResponseWriter, r *http.Request, d *pageData) error

// page adapts fn: with auth it requires a session (redirecting to /login
// without one); any error it returns is shown on an error page.
func (s *Server) page(auth bool, fn pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := &pageData{Tenant: TenantFrom(r.Context())}
		if auth {
			u, err := s.sessionUser(r)
			if errors.Is(err, errUnauthenticated) {
				seeOther(w, r, "/login")
				return
			}
			if err != nil {
				s.pageError(w, r, err)
				return
			}
			if ri, ok := r.Context().Value(requestKey).(*requestInfo); ok {
				ri.user = u.ID
			}
			r = r.WithContext(withUser(r.Context(), u))
			d.User = u
		}
		if err := fn(w, r, d); err != nil {
			s.pageError(w, r, err)
		}
	})
}

// pageError shows err as an HTML page with the status the API would answer.
func (s *Server) pageError(w http.ResponseWriter, r *http.Request, err error) {
	ae, internal := toError(err)
	if internal {
		loggerFrom(r.Context(), s.log).ErrorContext(r.Context(), "page failed", slog.String("error", err.Error()))
	}
	if ae.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	d := &pageData{Tenant: TenantFrom(r.Context()), User: UserFrom(r.Context()), Title: http.StatusText(ae.Status), Data: ae.Message}
	render(w, r, s.log, tenantPages, ae.Status, "error", d)
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request, d *pageData) error {
	d.Title = "Log in"
	render(w, r, s.log, tenantPages, http.StatusOK, "login", d)
	return nil
}

// loginSubmit logs in through the API's login (same checks, same session
// cookie) and goes to the dashboard.
func (s *Server) loginSubmit(w http.ResponseWriter, r *http.Request, d *pageData) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	d.Title = "Log in"
	d.Form = map[string]string{"email": r.PostForm.Get("email")}
	h, err := s.callAPI(r, s.login, http.MethodPost, nil, loginRequest{Email: r.PostForm.Get("email"), Password: r.PostForm.Get("password")}, nil)
	if err != nil {
		if ae, _ := toError(err); ae.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(ae.RetryAfter))
		}
		if ae, _ := toError(err); ae.Code == "invalid_credentials" {
			d.Errors = map[string]string{"password": ae.Message}
			render(w, r, s.log, tenantPages, ae.Status, "login", d)
			return nil
		}
		status, err := d.fieldError(err)
		if err != nil {
			return err
		}
		render(w, r, s.log, tenantPages, status, "login", d)
		return nil
	}
	for _, c := range h.Values("Set-Cookie") {
		w.Header().Add("Set-Cookie", c)
	}
	seeOther(w, r, "/")
	return nil
}

func (s *Server) logoutSubmit(w http.ResponseWriter, r *http.Request, _ *pageData) error {
	h, err := s.callAPI(r, s.logout, http.MethodPost, nil, nil, nil)
	if err != nil {
		return err
	}
	for _, c := range h.Values("Set-Cookie") {
		w.Header().Add("Set-Cookie", c)
	}
	seeOther(w, r, "/login")
	return nil
}
