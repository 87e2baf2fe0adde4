package sales

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantgate/tenantgate/appserver/clientinfo"
	"github.com/tenantgate/tenantgate/appserver/httpapi"
	"github.com/tenantgate/tenantgate/appserver/reqctx"
)

// Session cookie names: SecureSessionCookie when the client came over HTTPS
// (the __Host- prefix makes browsers insist on Secure, Path=/ and no Domain,
// so no other host or plain-HTTP page can set or shadow it), SessionCookie
// over plain HTTP (development). The appserver accepts only the one that
// matches the request's scheme.
const (
	SessionCookie       = "session"
	SecureSessionCookie = "__Host-session"
)

// sessionCookie is the session cookie's name for the request's scheme.
func (s *Server) sessionCookie(r *http.Request) string {
	if s.proxies.IsHTTPS(r) {
		return SecureSessionCookie
	}
	return SessionCookie
}

// sessionTokenBytes is the entropy of a session token.
const sessionTokenBytes = 32

// User is a person who logs in to one tenant.
type User struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Active    bool      `json:"active"`
	CreatedAt time.Time `json:"created_at"`
	// Support is set when the session was opened by an impersonation link.
	Support *SupportSession `json:"support_session,omitempty"`
}

// IsAdmin reports whether u administers the tenant.
func (u *User) IsAdmin() bool { return u.Role == "admin" }

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// hashToken is what the sessions table stores: the SHA-256 of the token, so
// a leaked table grants no session.
func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// login checks e-mail and password, creates a session and answers its token
// and a host-only session cookie. Unknown e-mails cost one bcrypt comparison
// too, so timing does not tell which addresses exist. Attempts are throttled
// per (tenant, e-mail) and per client IP before the password is checked.
func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	var req loginRequest
	if err := httpapi.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	req.Email = strings.TrimSpace(req.Email)
	switch {
	case req.Email == "":
		return httpapi.InvalidField("email", "is required")
	case req.Password == "":
		return httpapi.InvalidField("password", "is required")
	}
	ctx := r.Context()
	ip := s.proxies.ClientIP(r)
	keys := tenantLoginKeys(reqctx.Tenant(ctx).ID, req.Email, ip)
	if err := s.limiter.Attempt(ctx, keys...); err != nil {
		reqctx.Logger(ctx, s.log).WarnContext(ctx, "login throttled", slog.String("ip", ip), slog.String("error", err.Error()))
		return httpapi.TooManyAttempts(err)
	}
	db, err := s.db(r)
	if err != nil {
		return err
	}
	var u User
	var hash string
	err = db.QueryRow(ctx, `SELECT id::text, email, name, role, active, created_at, password_hash FROM users WHERE lower(email) = lower($1)`, req.Email).
		Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.Active, &u.CreatedAt, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		_ = bcrypt.CompareHashAndPassword(s.dummyHash, []byte(req.Password))
		return s.loginFailed(r, ip)
	}
	if err != nil {
		return err
	}
	// A deactivated user fails like a wrong password, after the same work.
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(req.Password)) != nil || !u.Active {
		return s.loginFailed(r, ip)
	}
	s.limiter.Succeeded(ctx, keys...)
	expires := s.now().Add(s.cfg.SessionLifetime)
	token, err := s.openSession(w, r, db, u.ID, "", expires, true)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"token": token, "expires_at": expires.UTC(), "user": u})
	return nil
}

// openSession stores a new session of user userID until expires, its token
// prefix followed by 32 random bytes, and sets its host-only cookie: with
// persistent the cookie lasts as long, otherwise the browser drops it when
// it closes. It returns the token.
func (s *Server) openSession(w http.ResponseWriter, r *http.Request, db *pgxpool.Pool, userID, prefix string, expires time.Time, persistent bool) (string, error) {
	ctx := r.Context()
	var raw [sessionTokenBytes]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	token := prefix + base64.RawURLEncoding.EncodeToString(raw[:])
	if _, err := db.Exec(ctx, `INSERT INTO sessions (token_hash, user_id, expires_at) VALUES ($1, $2, $3)`, hashToken(token), userID, expires); err != nil {
		return "", err
	}
	// Housekeeping: this user's expired sessions go now.
	if _, err := db.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND expires_at < now()`, userID); err != nil {
		return "", err
	}
	c := &http.Cookie{
		Name:     s.sessionCookie(r),
		Value:    token,
		Path:     "/",
		HttpOnly: true,
		Secure:   true,
		SameSite: http.SameSiteLaxMode,
		// No Domain: a host-only cookie never reaches another tenant.
	}
	if persistent {
		c.Expires = expires
	}
	http.SetCookie(w, c)
	return token, nil
}

var errInvalidCredentials = &httpapi.Error{Status: http.StatusUnauthorized, Code: "invalid_credentials", Message: "wrong e-mail or password"}

// loginFailed logs a failed login with the client IP (the request logger
// carries the tenant; neither the e-mail nor the password is logged: users
// type passwords into the e-mail field too) and answers 401.
func (s *Server) loginFailed(r *http.Request, ip string) error {
	reqctx.Logger(r.Context(), s.log).WarnContext(r.Context(), "login failed", slog.String("ip", ip))
	return errInvalidCredentials
}

// logout ends the current session.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	db, err := s.db(r)
	if err != nil {
		return err
	}
	if token, _ := s.sessionToken(r); token != "" {
		if _, err := db.Exec(r.Context(), `DELETE FROM sessions WHERE token_hash = $1`, hashToken(token)); err != nil {
			return err
		}
	}
	http.SetCookie(w, &http.Cookie{Name: s.sessionCookie(r), Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// sessionToken returns the session token of the request: the bearer token,
// else the session cookie of the request's scheme (viaCookie true).
func (s *Server) sessionToken(r *http.Request) (token string, viaCookie bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		if scheme, tok, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok), false
		}
		return "", false
	}
	if c, err := r.Cookie(s.sessionCookie(r)); err == nil {
		return c.Value, true
	}
	return "", false
}

// sessionUser returns the user of the request's session, or errUnauthenticated.
// A write authenticated by cookie must come from a page of the same host
// (Origin, or Referer when a browser sends no Origin); otherwise it is
// refused with 403 origin_mismatch.
func (s *Server) sessionUser(r *http.Request) (*User, error) {
	token, viaCookie := s.sessionToken(r)
	if token == "" || len(token) > 128 {
		return nil, errUnauthenticated
	}
	if viaCookie && !clientinfo.SafeMethod(r.Method) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			origin = r.Header.Get("Referer")
		}
		if !clientinfo.SameHost(origin, r.Host) {
			return nil, httpapi.ErrOrigin
		}
	}
	db, err := s.db(r)
	if err != nil {
		return nil, err
	}
	var u User
	var expires time.Time
	err = db.QueryRow(r.Context(), `
		SELECT u.id::text, u.email, u.name, u.role, u.active, u.created_at, s.expires_at
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.token_hash = $1 AND s.expires_at > now() AND u.active`, hashToken(token)).
		Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.Active, &u.CreatedAt, &expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errUnauthenticated
	}
	if err != nil {
		return nil, err
	}
	u.Support = supportSession(token, expires)
	return &u, nil
}

// requireSession answers 401 unauthenticated unless the request carries a
// valid session of this tenant, and puts the user in the context.
func (s *Server) requireSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := s.sessionUser(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		reqctx.SetUser(r.Context(), u.ID)
		next.ServeHTTP(w, r.WithContext(withUser(r.Context(), u)))
	})
}

// me answers the logged-in user and the tenant.
func (s *Server) me(w http.ResponseWriter, r *http.Request) error {
	t := reqctx.Tenant(r.Context())
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{
		"user":   UserFrom(r.Context()),
		"tenant": map[string]string{"id": t.ID, "subdomain": t.Subdomain, "name": t.Name},
	})
	return nil
}
