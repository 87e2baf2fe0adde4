package sales

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5"

	"github.com/tenantgate/tenantgate/appserver/clientinfo"
	"github.com/tenantgate/tenantgate/appserver/httpapi"
	"github.com/tenantgate/tenantgate/appserver/reqctx"
	"github.com/tenantgate/tenantgate/appserver/webpage"
	"github.com/tenantgate/tenantgate/internal/actor"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// DefaultSupportSessionLifetime is how long a session opened by an
// impersonation link lasts (SPEC §13: short-lived).
const DefaultSupportSessionLifetime = 15 * time.Minute

// supportTokenPrefix starts the token of a session opened by an
// impersonation link. "." is not in the base64url alphabet of login tokens,
// so no ordinary session can carry it, and the token is only valid while its
// hash is in the sessions table: the mark cannot be forged.
const supportTokenPrefix = "imp."

// Impersonations consumes impersonation links; *tenantstore.Store
// implements it.
type Impersonations interface {
	ConsumeImpersonation(ctx context.Context, t *tenantstore.Tenant, token string) (email string, err error)
}

// SupportSession marks a session opened by an impersonation link: the
// pages show a banner with EndsAt, and the user's password cannot be
// changed through it.
type SupportSession struct {
	EndsAt time.Time `json:"ends_at"`
}

var (
	errLinkRefused    = &httpapi.Error{Status: http.StatusGone, Code: "impersonation_refused", Message: "This support login link is not valid: it was used already, it has expired, or it belongs to another organization. Ask for a new one."}
	errSupportSession = &httpapi.Error{Status: http.StatusForbidden, Code: "support_session", Message: "a support session cannot change the user's password"}
)

func (s *Server) impersonateRoutes(r *mux.Router) {
	if s.cfg.Impersonations == nil {
		return
	}
	r.Handle("/impersonate/{token}", s.page(false, s.impersonatePage)).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/impersonate/{token}", s.page(false, s.impersonateSubmit)).Methods(http.MethodPost)
}

// impersonatePage asks for a click before the link is used: link
// previewers and mail scanners fetch URLs with GET, and must not burn it.
func (s *Server) impersonatePage(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	d.Title = "Support login"
	d.Data = mux.Vars(r)["token"]
	w.Header().Set("Referrer-Policy", "no-referrer")
	webpage.Render(w, r, s.log, tenantPages, http.StatusOK, "impersonate", d)
	return nil
}

// impersonateSubmit uses the link (once, before it expires, on its own
// tenant's host only) and opens a short support session as its user.
func (s *Server) impersonateSubmit(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	ctx := r.Context()
	if !clientinfo.SameHost(cmpOr(r.Header.Get("Origin"), r.Header.Get("Referer")), r.Host) {
		return httpapi.ErrOrigin
	}
	token := mux.Vars(r)["token"]
	t := reqctx.Tenant(ctx)
	ip := s.proxies.ClientIP(r)
	log := reqctx.Logger(ctx, s.log)
	if len(token) > 128 {
		return errLinkRefused
	}
	email, err := s.cfg.Impersonations.ConsumeImpersonation(actor.NewContext(ctx, actor.Actor{IP: ip}), t, token)
	if errors.Is(err, tenantstore.ErrImpersonationRefused) {
		log.WarnContext(ctx, "impersonation link refused", slog.String("ip", ip), slog.String("error", err.Error()))
		return errLinkRefused
	}
	if err != nil {
		return err
	}
	db, err := s.db(r)
	if err != nil {
		return err
	}
	var userID string
	err = db.QueryRow(ctx, `SELECT id::text FROM users WHERE lower(email) = lower($1) AND active`, email).Scan(&userID)
	if errors.Is(err, pgx.ErrNoRows) {
		return errLinkRefused // deactivated or deleted since the link was issued
	}
	if err != nil {
		return err
	}
	// Not persistent: the browser forgets it when it closes ("no
	// remember"), and the server ends it at expires whatever the browser does.
	if _, err := s.openSession(w, r, db, userID, supportTokenPrefix, s.now().Add(s.cfg.SupportSessionLifetime), false); err != nil {
		return err
	}
	log.InfoContext(ctx, "support session opened", slog.String("ip", ip), slog.String("user_id", userID))
	webpage.SeeOther(w, r, "/")
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// supportSession marks u when the session token is an impersonation's.
func supportSession(token string, expires time.Time) *SupportSession {
	if strings.HasPrefix(token, supportTokenPrefix) {
		return &SupportSession{EndsAt: expires.UTC()}
	}
	return nil
}
