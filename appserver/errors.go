package appserver

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tenantgate/tenantgate/appserver/tenantpool"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// Error is an API error: the status and the body of SPEC §7,
// {"error": {"code", "message", "field"}}. Handlers return it (or any error;
// writeError maps the rest).
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	// RetryAfter, in seconds, is sent as Retry-After when positive.
	RetryAfter int `json:"-"`
}

// Error implements error.
func (e *Error) Error() string {
	if e.Field != "" {
		return e.Code + ": " + e.Field + ": " + e.Message
	}
	return e.Code + ": " + e.Message
}

// Errors every route can answer with.
var (
	errInvalidToken    = &Error{Status: http.StatusUnauthorized, Code: "invalid_tenant_token", Message: "missing or invalid tenant token"}
	errUnauthenticated = &Error{Status: http.StatusUnauthorized, Code: "unauthenticated", Message: "log in first"}
	errForbidden       = &Error{Status: http.StatusForbidden, Code: "forbidden", Message: "tenant administrators only"}
	errOrigin          = &Error{Status: http.StatusForbidden, Code: "origin_mismatch", Message: "cross-site request refused"}
	errNotFound        = &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such resource"}
	errUserLimit       = &Error{Status: http.StatusUnprocessableEntity, Code: "user_limit_reached", Message: "the organization has reached its user limit"}
)

// invalidField is a 400 naming the field at fault.
func invalidField(field, message string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "invalid_field", Message: message, Field: field}
}

// conflict is a 409 with a specific code.
func conflict(code, field, message string) *Error {
	return &Error{Status: http.StatusConflict, Code: code, Message: message, Field: field}
}

// toError maps any error to the API error the client sees. It is the one
// place that decides statuses; internal reports whether the error is a fault
// of ours (logged, answered with a generic 500).
func toError(err error) (apiErr *Error, internal bool) {
	var ae *Error
	var ve *tenantstore.ValidationError
	var pe *pgconn.PgError
	var ce *pgconn.ConnectError
	switch {
	case errors.As(err, &ae):
		return ae, false
	case errors.As(err, &ve):
		return invalidField(ve.Field, ve.Message), false
	case errors.Is(err, tenantpool.ErrUnavailable), errors.As(err, &ce):
		return &Error{Status: http.StatusServiceUnavailable, Code: "tenant_database_unavailable", Message: "the organization's database is unavailable; try again shortly"}, false
	case errors.Is(err, tenantstore.ErrUnavailable):
		return &Error{Status: http.StatusServiceUnavailable, Code: "control_plane_unavailable", Message: "tenant directory unavailable; try again shortly"}, false
	case errors.Is(err, tenantstore.ErrNotFound):
		return errNotFound, false
	case errors.Is(err, tenantstore.ErrConflict):
		return conflict("conflict", "", err.Error()), false
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &Error{Status: http.StatusServiceUnavailable, Code: "timeout", Message: "the request was cancelled or timed out"}, false
	case errors.As(err, &pe):
		switch pe.Code {
		case "23505": // unique_violation
			return conflict("conflict", "", "a record with this value already exists"), false
		case "23503": // foreign_key_violation
			return conflict("in_use", "", "the record is referenced by others"), false
		case "23514", "22P02", "22003", "22007", "22008": // check, invalid text, out of range, bad date
			return &Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "a value is out of range or malformed"}, false
		}
	}
	return &Error{Status: http.StatusInternalServerError, Code: "internal_error", Message: "internal error"}, true
}

// writeError answers err in the JSON format of SPEC §7 and logs faults of
// ours once, with the request's logger.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae, internal := toError(err)
	if ae.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(ae.RetryAfter))
	}
	if internal {
		loggerFrom(r.Context(), s.log).ErrorContext(r.Context(), "request failed", slog.String("error", err.Error()))
	} else if ae.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(int(s.pools.BreakerRetry().Seconds())))
		s.tripOnConnectError(r, err)
		loggerFrom(r.Context(), s.log).WarnContext(r.Context(), "service unavailable", slog.String("code", ae.Code), slog.String("error", err.Error()))
	}
	writeJSON(w, ae.Status, map[string]*Error{"error": ae})
}

// tripOnConnectError opens the tenant's breaker when err is a failure to
// connect to its database under an already open pool, so that the tenant's
// next requests fail fast instead of each waiting for a connect timeout. A
// connect abandoned because the client went away does not count. Handlers
// that write their own errors (pages) call it too.
func (s *Server) tripOnConnectError(r *http.Request, err error) {
	var ce *pgconn.ConnectError
	if !errors.As(err, &ce) || r.Context().Err() != nil || errors.Is(err, context.Canceled) {
		return
	}
	if t := TenantFrom(r.Context()); t != nil {
		s.pools.Trip(t.ID, err)
	}
}
