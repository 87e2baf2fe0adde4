package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tenantgate/tenantgate/appserver/tenantpool"
	"github.com/tenantgate/tenantgate/internal/loginlimit"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// Error is an API error: the status and the body of SPEC §7,
// {"error": {"code", "message", "field"}}. Handlers return it (or any error;
// ErrorFor maps the rest).
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

// Errors both listeners answer with.
var (
	// ErrNotFound is 404 not_found: no such route or record.
	ErrNotFound = &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such resource"}
	// ErrOrigin is 403 origin_mismatch: an unsafe request from another site.
	ErrOrigin = &Error{Status: http.StatusForbidden, Code: "origin_mismatch", Message: "cross-site request refused"}
	// ErrMethodNotAllowed is 405 method_not_allowed.
	ErrMethodNotAllowed = &Error{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Message: "method not allowed"}
)

// BusyRetryAfter is the Retry-After, in seconds, of 503
// tenant_database_busy: the connection budget frees up within requests'
// time, not a breaker's.
const BusyRetryAfter = 1

// InvalidField is a 400 naming the field at fault.
func InvalidField(field, message string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "invalid_field", Message: message, Field: field}
}

// Conflict is a 409 with a specific code.
func Conflict(code, field, message string) *Error {
	return &Error{Status: http.StatusConflict, Code: code, Message: message, Field: field}
}

// ErrorFor maps any error to the API error the client sees. It is the one
// place that decides statuses; internal reports whether the error is a fault
// of ours (logged, answered with a generic 500).
func ErrorFor(err error) (apiErr *Error, internal bool) {
	var ae *Error
	var ve *tenantstore.ValidationError
	var pe *pgconn.PgError
	var ce *pgconn.ConnectError
	switch {
	case errors.As(err, &ae):
		return ae, false
	case errors.As(err, &ve):
		return InvalidField(ve.Field, ve.Message), false
	case errors.Is(err, tenantpool.ErrBusy):
		// Checked before the context errors: a wait for the budget that
		// ran out of time wraps context.DeadlineExceeded too.
		return &Error{Status: http.StatusServiceUnavailable, Code: "tenant_database_busy",
			Message: "the server has no database connection free right now; try again shortly", RetryAfter: BusyRetryAfter}, false
	case errors.Is(err, tenantpool.ErrUnavailable), errors.As(err, &ce):
		return &Error{Status: http.StatusServiceUnavailable, Code: "tenant_database_unavailable", Message: "the organization's database is unavailable; try again shortly"}, false
	case errors.Is(err, tenantstore.ErrUnavailable):
		return &Error{Status: http.StatusServiceUnavailable, Code: "control_plane_unavailable", Message: "tenant directory unavailable; try again shortly"}, false
	case errors.Is(err, tenantstore.ErrNotFound):
		return ErrNotFound, false
	case errors.Is(err, tenantstore.ErrConflict):
		return Conflict("conflict", "", err.Error()), false
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &Error{Status: http.StatusServiceUnavailable, Code: "timeout", Message: "the request was cancelled or timed out"}, false
	case errors.As(err, &pe):
		switch pe.Code {
		case "23505": // unique_violation
			return Conflict("conflict", "", "a record with this value already exists"), false
		case "23503": // foreign_key_violation
			return Conflict("in_use", "", "the record is referenced by others"), false
		case "23514", "22P02", "22003", "22007", "22008": // check, invalid text, out of range, bad date
			return &Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "a value is out of range or malformed"}, false
		}
	}
	return &Error{Status: http.StatusInternalServerError, Code: "internal_error", Message: "internal error"}, true
}

// WriteError answers ae as the JSON body {"error": ae} with its status.
func WriteError(w http.ResponseWriter, ae *Error) {
	WriteJSON(w, ae.Status, map[string]*Error{"error": ae})
}

// HandlerFunc is a handler that returns its error instead of writing it.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// ErrorWriter answers a handler's error; each listener has its own (what it
// logs, which headers it adds), all built on ErrorFor and WriteError.
type ErrorWriter func(w http.ResponseWriter, r *http.Request, err error)

// Handle adapts fn to http.Handler, answering any error it returns with
// onError.
func Handle(fn HandlerFunc, onError ErrorWriter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			onError(w, r, err)
		}
	})
}

// TooManyAttempts is the 429 too_many_attempts of a refused login attempt,
// with the limiter's wait as RetryAfter.
func TooManyAttempts(err error) *Error {
	retry := time.Minute
	var le *loginlimit.LimitedError
	if errors.As(err, &le) {
		retry = le.RetryAfter
	}
	secs := max(int((retry+time.Second-1)/time.Second), 1)
	return &Error{Status: http.StatusTooManyRequests, Code: "too_many_attempts",
		Message:    "too many login attempts; try again in " + strconv.Itoa(secs) + " s",
		RetryAfter: secs}
}
