package tenantstore

import (
	"errors"
	"fmt"
)

// Sentinel errors callers branch on with errors.Is. Storage errors are
// translated to these at the store boundary (pgx.ErrNoRows → ErrNotFound,
// unique violations → ErrConflict).
var (
	// ErrNotFound means no tenant (or location, or domain) matches.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the change clashes with existing state: a duplicate
	// name, subdomain, code or hostname, or a rule such as "suspend first".
	ErrConflict = errors.New("conflict")
	// ErrStaleVersion means an update carried a version that is no longer
	// current; it wraps ErrConflict so either check matches.
	ErrStaleVersion = fmt.Errorf("%w: the tenant was changed by someone else; reload it and try again", ErrConflict)
	// ErrDatabaseInUse means a database URL names a database that another
	// tenant uses, or one that holds data the operator did not ask to
	// adopt (one database, one tenant: SPEC §9). It comes wrapped in a
	// *ConflictError naming the field, so errors.Is(err, ErrConflict)
	// matches too.
	ErrDatabaseInUse = errors.New("database in use")
	// ErrUnavailable means nothing is known about the key and every source
	// that could answer (Redis, PostgreSQL) is unreachable.
	ErrUnavailable = errors.New("tenant store unavailable")
)

// ValidationError reports a bad input value and names the field.
type ValidationError struct {
	Field   string
	Message string
}

// Error implements error.
func (e *ValidationError) Error() string {
	return fmt.Sprintf("invalid %s: %s", e.Field, e.Message)
}

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// ConflictError is an ErrConflict that names the field whose value is
// already taken (subdomain, name, hostname, code). errors.Is(err,
// ErrConflict) matches it.
type ConflictError struct {
	Field   string
	Message string
	// Err, when set, is a more specific sentinel (ErrDatabaseInUse) that
	// errors.Is also matches.
	Err error
}

// Error implements error.
func (e *ConflictError) Error() string {
	return fmt.Sprintf("conflict: %s %s", e.Field, e.Message)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// Unwrap returns the more specific sentinel, if any.
func (e *ConflictError) Unwrap() error { return e.Err }

// databaseInUse is the conflict of a database that is not free for the
// tenant, naming the field that chose it.
func databaseInUse(field, format string, args ...any) error {
	return &ConflictError{Field: field, Message: fmt.Sprintf(format, args...), Err: ErrDatabaseInUse}
}
