package sales

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"

	"github.com/tenantgate/tenantgate/appserver/httpapi"
	"github.com/tenantgate/tenantgate/appserver/reqctx"
	"github.com/tenantgate/tenantgate/appserver/webpage"
)

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
func (s *Server) callAPI(r *http.Request, h httpapi.HandlerFunc, method string, query url.Values, in, out any) (http.Header, error) {
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

// pageFunc is a tenant page handler; d comes with tenant and user filled in.
type pageFunc func(w http.ResponseWriter, r *http.Request, d *webpage.Data) error

// page adapts fn: with auth it requires a session (redirecting to /login
// without one); any error it returns is shown on an error page.
func (s *Server) page(auth bool, fn pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := &webpage.Data{Tenant: reqctx.Tenant(r.Context())}
		if auth {
			u, err := s.sessionUser(r)
			if errors.Is(err, errUnauthenticated) {
				webpage.SeeOther(w, r, "/login")
				return
			}
			if err != nil {
				s.pageError(w, r, err)
				return
			}
			reqctx.SetUser(r.Context(), u.ID)
			r = r.WithContext(withUser(r.Context(), u))
			d.User = u
			st, err := s.settings(r)
			if err != nil {
				s.pageError(w, r, err)
				return
			}
			d.Currency = st.Currency
		}
		if err := fn(w, r, d); err != nil {
			s.pageError(w, r, err)
		}
	})
}

// pageError shows err as an HTML page with the status the API would answer.
func (s *Server) pageError(w http.ResponseWriter, r *http.Request, err error) {
	ae, internal := httpapi.ErrorFor(err)
	if internal {
		reqctx.Logger(r.Context(), s.log).ErrorContext(r.Context(), "page failed", slog.String("error", err.Error()))
	}
	if ae.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(ae.RetryAfter))
	} else if ae.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	d := &webpage.Data{Tenant: reqctx.Tenant(r.Context()), Title: http.StatusText(ae.Status), Data: ae.Message}
	if u := UserFrom(r.Context()); u != nil {
		d.User = u // never a nil *User in the interface, which the layout would take for a user
	}
	webpage.Render(w, r, s.log, tenantPages, ae.Status, "error", d)
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	d.Title = "Log in"
	webpage.Render(w, r, s.log, tenantPages, http.StatusOK, "login", d)
	return nil
}

// loginSubmit logs in through the API's login (same checks, same session
// cookie) and goes to the dashboard.
func (s *Server) loginSubmit(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	if err := webpage.ParseForm(w, r); err != nil {
		return err
	}
	d.Title = "Log in"
	d.Form = map[string]string{"email": r.PostForm.Get("email")}
	h, err := s.callAPI(r, s.login, http.MethodPost, nil, loginRequest{Email: r.PostForm.Get("email"), Password: r.PostForm.Get("password")}, nil)
	if err != nil {
		if ae, _ := httpapi.ErrorFor(err); ae.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(ae.RetryAfter))
		}
		if ae, _ := httpapi.ErrorFor(err); ae.Code == "invalid_credentials" {
			d.Errors = map[string]string{"password": ae.Message}
			webpage.Render(w, r, s.log, tenantPages, ae.Status, "login", d)
			return nil
		}
		status, err := d.FieldError(err)
		if err != nil {
			return err
		}
		webpage.Render(w, r, s.log, tenantPages, status, "login", d)
		return nil
	}
	for _, c := range h.Values("Set-Cookie") {
		w.Header().Add("Set-Cookie", c)
	}
	webpage.SeeOther(w, r, "/")
	return nil
}

func (s *Server) logoutSubmit(w http.ResponseWriter, r *http.Request, _ *webpage.Data) error {
	h, err := s.callAPI(r, s.logout, http.MethodPost, nil, nil, nil)
	if err != nil {
		return err
	}
	for _, c := range h.Values("Set-Cookie") {
		w.Header().Add("Set-Cookie", c)
	}
	webpage.SeeOther(w, r, "/login")
	return nil
}
