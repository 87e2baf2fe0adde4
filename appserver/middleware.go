package appserver

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/tenantgate/tenantgate/appserver/clientinfo"
	"github.com/tenantgate/tenantgate/appserver/httpapi"
	"github.com/tenantgate/tenantgate/appserver/reqctx"
	"github.com/tenantgate/tenantgate/internal/tenanttoken"
	"github.com/tenantgate/tenantgate/tenantstore"
)

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// requestID returns the incoming X-Request-Id when it is short and printable,
// otherwise a new random one.
func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); id != "" && len(id) <= 64 {
		ok := true
		for i := 0; i < len(id); i++ {
			if c := id[i]; c < 0x21 || c > 0x7e {
				ok = false
				break
			}
		}
		if ok {
			return id
		}
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// withRequestLog gives every request an id (echoed in X-Request-Id), recovers
// panics as 500, and logs one JSON line per request with tenant and user.
func (s *Server) withRequestLog(listener string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ri := &reqctx.Info{ID: requestID(r)}
		ri.Log = s.log.With(slog.String("request_id", ri.ID))
		w.Header().Set("X-Request-Id", ri.ID)
		sw := &statusWriter{ResponseWriter: w}
		ctx := reqctx.WithInfo(r.Context(), ri)
		r = r.WithContext(ctx)
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				ri.Log.ErrorContext(ctx, "panic", slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
				if sw.status == 0 {
					s.writeError(sw, r, fmt.Errorf("panic: %v", v))
				}
			}
			took := time.Since(start)
			if sw.status == 0 {
				sw.status = http.StatusOK // the handler wrote nothing
			}
			s.metrics.observe(listener, sw.status, took)
			if s.cfg.Usage != nil {
				s.cfg.Usage.Seen(ri.TenantID, ri.User, ri.InvoicesCreated)
			}
			level := slog.LevelInfo
			if sw.status >= 500 {
				level = slog.LevelWarn
			}
			// The base logger: ri.Log may carry the tenant already.
			s.log.LogAttrs(ctx, level, "request",
				slog.String("request_id", ri.ID),
				slog.String("tenant", ri.Tenant),
				slog.String("user", ri.User),
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", sw.status),
				slog.Int("bytes", sw.bytes),
				slog.Duration("duration", took),
			)
		}()
		next.ServeHTTP(sw, r)
	})
}

// errInvalidToken answers any fault of the tenant token.
var errInvalidToken = &httpapi.Error{Status: http.StatusUnauthorized, Code: "invalid_tenant_token", Message: "missing or invalid tenant token"}

// requireTenant verifies X-Tenant-Token (401 invalid_tenant_token for any
// fault), resolves the tenant it names, refuses tenants not active, and gives
// the request a lazily acquired lease on the tenant's pool, released when the
// request ends.
func (s *Server) requireTenant(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, err := s.verifyToken(r)
		if err != nil {
			reqctx.Logger(r.Context(), s.log).InfoContext(r.Context(), "tenant token refused", slog.String("reason", err.Error()))
			s.writeError(w, r, errInvalidToken)
			return
		}
		t, err := s.cfg.Tenants.ResolveID(r.Context(), claims.TenantID)
		if err != nil {
			s.writeError(w, r, fmt.Errorf("resolving tenant %s: %w", claims.TenantID, err))
			return
		}
		if !s.claimsMatch(claims, t) {
			reqctx.Logger(r.Context(), s.log).WarnContext(r.Context(), "tenant token refused",
				slog.String("reason", "claims disagree with the tenant"), slog.String("tenant", t.Subdomain),
				slog.String("claimed_tenant", claims.Subdomain), slog.String("claimed_host", claims.Host))
			s.writeError(w, r, errInvalidToken)
			return
		}
		switch t.Status {
		case tenantstore.StatusActive:
		case tenantstore.StatusSuspended:
			s.writeError(w, r, &httpapi.Error{Status: http.StatusForbidden, Code: "tenant_suspended", Message: "this organization is suspended"})
			return
		default:
			w.Header().Set("Retry-After", "30")
			s.writeError(w, r, &httpapi.Error{Status: http.StatusServiceUnavailable, Code: "tenant_unavailable", Message: "this organization is under maintenance"})
			return
		}
		reqctx.SetTenant(r.Context(), t.Subdomain)
		reqctx.SetTenantID(r.Context(), t.ID)
		ctx, release := s.tenantDB.Begin(reqctx.WithTenant(r.Context(), t))
		defer release()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// verifyToken checks the request's tenant token, from the cache of tokens
// verified before (same bytes, same host, not yet expired) or by signature.
func (s *Server) verifyToken(r *http.Request) (tenanttoken.Claims, error) {
	token := r.Header.Get(tenanttoken.Header)
	if token == "" {
		return tenanttoken.Claims{}, fmt.Errorf("%w: missing", tenanttoken.ErrInvalid)
	}
	host, ok := tenantstore.NormalizeHost(r.Host)
	if !ok {
		return tenanttoken.Claims{}, fmt.Errorf("%w: bad request host", tenanttoken.ErrInvalid)
	}
	now := s.now()
	if c, ok := s.tokens.get(token, host, now); ok {
		return c, nil
	}
	c, err := s.cfg.Verifier.Verify(token, host, now)
	if err != nil {
		return c, err
	}
	s.tokens.put(token, c, now)
	return c, nil
}

// claimsMatch reports whether a verified token's tenant and host claims
// agree with t, the tenant its sub names: the tenant claim must be t's
// current subdomain, and the host <subdomain>.<BaseDomain> or one of t's
// verified custom domains. A token the edge signed before a rename names the
// old subdomain and is refused; the edge signs new ones within a second.
func (s *Server) claimsMatch(c tenanttoken.Claims, t *tenantstore.Tenant) bool {
	if c.TenantID != t.ID || c.Subdomain != t.Subdomain {
		return false
	}
	if sub, base, ok := strings.Cut(c.Host, "."); ok && sub == t.Subdomain && base == s.cfg.BaseDomain {
		return true
	}
	for _, d := range t.Domains {
		if d.Verified && strings.EqualFold(strings.TrimSuffix(d.Hostname, "."), c.Host) {
			return true
		}
	}
	return false
}

// writeError is the tenant listener's error writer (tenantdb.Source).
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	s.tenantDB.WriteError(w, r, err)
}

// checkOrigin refuses an unsafe request whose Origin header names another
// host (cross-site form posts, including to the login).
func (s *Server) checkOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !clientinfo.SafeMethod(r.Method) {
			if o := r.Header.Get("Origin"); o != "" && !clientinfo.SameHost(o, r.Host) {
				s.writeError(w, r, httpapi.ErrOrigin)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
