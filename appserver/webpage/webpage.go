// Package webpage is the HTML plumbing of the tenant pages and the admin
// dashboard: templates parsed per directory (a layout plus one file per
// page), the page data and form helpers the templates call, rendering with
// a strict Content-Security-Policy around the one inlined stylesheet, and
// bounded form parsing. It imports httpapi (to show an error beside its
// field), reqctx (the request's logger) and tenantstore; appserver/sales and appserver/admin use it.
package webpage

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/tenantgate/tenantgate/appserver/httpapi"
	"github.com/tenantgate/tenantgate/appserver/reqctx"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// styleCSS is the stylesheet of every page.
//
//go:embed style.css
var styleCSS []byte

// maxFormBytes bounds a posted HTML form.
const maxFormBytes = 64 << 10

// stylesheet is style.css, inlined into every page; styleCSP is the
// Content-Security-Policy that allows exactly it (by hash) and nothing else
// to run or load: scripts only from the app itself, no external resource,
// forms to this origin only.
var stylesheet, styleCSP = func() (template.CSS, string) {
	b := styleCSS
	sum := sha256.Sum256(b)
	csp := "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; script-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	return template.CSS(b), csp
}()

// Set is one template per page of a directory, each made of the
// directory's layout.html and the page's file (which defines "content").
type Set map[string]*template.Template

var pageFuncs = template.FuncMap{
	"field":  fieldOf,
	"choice": choiceOf,
	"inc":    func(i int) int { return i + 1 },
}

// MustParse parses dir of fsys: layout.html plus every other *.html as a
// page named after its file without the extension. A file that defines no
// "content" template is a part, not a page: its templates (e.g. a
// section {{define "tenant_branding"}}) join the layout, so every page may
// use them. It panics on an error: the templates are embedded, so an error
// is a bug caught by any test.
func MustParse(fsys fs.FS, dir string) Set {
	layout := template.Must(template.New("layout.html").Funcs(pageFuncs).ParseFS(fsys, dir+"/layout.html"))
	files, err := fs.Glob(fsys, dir+"/*.html")
	if err != nil {
		panic(err)
	}
	var pages []string
	for _, f := range files {
		if path.Base(f) == "layout.html" {
			continue
		}
		probe := template.Must(template.New(path.Base(f)).Funcs(pageFuncs).ParseFS(fsys, f))
		if probe.Lookup("content") != nil {
			pages = append(pages, f)
			continue
		}
		template.Must(layout.ParseFS(fsys, f))
	}
	set := Set{}
	for _, f := range pages {
		name := strings.TrimSuffix(path.Base(f), ".html")
		set[name] = template.Must(template.Must(layout.Clone()).ParseFS(fsys, f))
	}
	return set
}

// Data is what every page template receives.
type Data struct {
	Title  string
	CSS    template.CSS
	Tenant *tenantstore.Tenant // tenant pages: the organization in the header
	User   any                 // tenant pages: the logged-in user, nil on /login
	Active string              // the navigation entry of this page
	Notice string              // a success message
	Error  string              // an error about the whole form
	Errors map[string]string   // field name → message, shown beside the field
	Form   map[string]string   // field name → value, to refill a form
	CSRF   string              // admin pages: the CSRF token for forms
	Data   any                 // the page's own data
	// Currency is the tenant's currency (ISO 4217), shown in the header of
	// tenant pages; "" elsewhere.
	Currency string
	// BrandCSS sets the tenant's colour (--brand, --brand-ink); Render
	// fills it from Tenant's branding and allows it in the CSP by hash.
	BrandCSS template.CSS
	// Features are the tenant's effective features (tenant pages with a
	// user): the navigation shows a feature's pages only when it is on.
	Features map[string]bool
}

// FieldError records err beside its field when it names one and is the
// client's fault; otherwise it returns err for the error page. A client
// error without a field becomes the form's error.
func (d *Data) FieldError(err error) (status int, _ error) {
	ae, internal := httpapi.ErrorFor(err)
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

func fieldOf(d *Data, name, label, typ, autocomplete string) fieldView {
	f := fieldView{ID: name, Name: name, Label: label, Type: typ, Autocomplete: autocomplete, Err: d.Errors[name]}
	if typ != "password" {
		f.Value = d.Form[name]
	}
	return f
}

// Option is one choice of a select.
type Option struct{ Value, Label string }

// selectView is one labelled select of a form.
type selectView struct {
	ID, Name, Label, Value, Err string
	Options                     []Option
	Blank                       bool // offer an empty choice
}

func choiceOf(d *Data, name, label string, options []Option, blank bool) selectView {
	return selectView{ID: name, Name: name, Label: label, Value: d.Form[name], Err: d.Errors[name], Options: options, Blank: blank}
}

// Render writes the page name of set with status, after rendering it fully,
// so a template error never leaves half a page.
func Render(w http.ResponseWriter, r *http.Request, log *slog.Logger, set Set, status int, name string, d *Data) {
	d.CSS = stylesheet
	csp := styleCSP
	if d.Tenant != nil {
		var src string
		if d.BrandCSS, src = brandStyle(d.Tenant.Branding.PrimaryColor); src != "" {
			csp = strings.Replace(csp, "style-src ", "style-src "+src+" ", 1)
		}
	}
	var buf bytes.Buffer
	if err := set[name].Execute(&buf, d); err != nil {
		reqctx.Logger(r.Context(), log).ErrorContext(r.Context(), "rendering page", slog.String("page", name), slog.String("error", err.Error()))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", csp)
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

// brandStyle returns the style sheet that sets a tenant's primary colour
// as --brand (with --brand-ink, black or white, whichever reads on it) and
// the CSP source allowing it, or nothing when the colour is not exactly
// #rrggbb: the value is checked again here, so nothing but a colour ever
// reaches the style element.
func brandStyle(color string) (template.CSS, string) {
	c, err := tenantstore.NormalizeColor(color)
	if err != nil || c == "" {
		return "", ""
	}
	r, _ := strconv.ParseUint(c[1:3], 16, 8)
	g, _ := strconv.ParseUint(c[3:5], 16, 8)
	b, _ := strconv.ParseUint(c[5:7], 16, 8)
	ink := "#ffffff"
	if (r*299+g*587+b*114)/1000 >= 150 { // perceived brightness (W3C): light background, dark text
		ink = "#1d2433"
	}
	css := ":root{--brand:" + c + ";--brand-ink:" + ink + "}"
	sum := sha256.Sum256([]byte(css))
	return template.CSS(css), "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// SeeOther redirects after a form post (post/redirect/get).
func SeeOther(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// ParseForm reads a posted form of bounded size.
func ParseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return httpapi.InvalidField("body", "malformed or too large form")
	}
	return nil
}

// FormValues copies the named posted fields, trimmed.
func FormValues(r *http.Request, names ...string) map[string]string {
	m := make(map[string]string, len(names))
	for _, n := range names {
		m[n] = strings.TrimSpace(r.PostForm.Get(n))
	}
	return m
}
