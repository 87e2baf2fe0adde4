package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// failure is an operation that failed (exit 1) even when it wraps an error
// that would otherwise read as bad usage, such as the *ValidationError of a
// TXT record not published yet.
type failure struct{ err error }

func (e failure) Error() string { return e.err.Error() }
func (e failure) Unwrap() error { return e.err }

// exitCode classifies err: 2 for bad usage (ours, cobra's, invalid values),
// 1 for everything else.
func exitCode(err error) int {
	var f failure
	if errors.As(err, &f) {
		return exitFailed
	}
	var ue usageError
	var ve *tenantstore.ValidationError
	msg := err.Error()
	if errors.As(err, &ue) || errors.As(err, &ve) || strings.HasPrefix(msg, "unknown command") ||
		strings.HasPrefix(msg, "unknown flag") || strings.HasPrefix(msg, "unknown shorthand flag") ||
		strings.HasPrefix(msg, "required flag") || strings.HasPrefix(msg, "invalid argument") {
		return exitUsage
	}
	return exitFailed
}

// sentence turns err into one sentence for a person: the message a
// command or the tenant store chose for it, without the chain of wrapped
// internal operations ("updating tenant …: relocating …: dial tcp …"). The
// whole chain is printed with --verbose.
func sentence(err error) string {
	var h humanError
	var ue usageError
	var ve *tenantstore.ValidationError
	var ce *tenantstore.ConflictError
	switch {
	case errors.As(err, &h):
		return h.msg
	case errors.As(err, &ue):
		// Written for the user by the command (or cobra's flag parser).
		return ue.err.Error()
	case errors.As(err, &ve):
		return fmt.Sprintf("%s %s", ve.Field, ve.Message)
	case errors.As(err, &ce):
		return fmt.Sprintf("%s %s", ce.Field, ce.Message)
	case errors.Is(err, tenantstore.ErrStaleVersion):
		return "the tenant was changed by someone else meanwhile"
	}
	// The outermost operation and the innermost cause, following the
	// chain only while each error is "<operation>: <the error it wraps>":
	// "backing up tenant "beta": connection refused". An error that words
	// its cause differently is taken whole, as its author wrote it.
	// Of several joined errors (a connection tried on several addresses)
	// the first stands for them.
	inner := err
	for {
		next := errors.Unwrap(inner)
		text := inner.Error()
		if j, ok := inner.(interface{ Unwrap() []error }); ok && next == nil && len(j.Unwrap()) > 0 {
			if first := j.Unwrap()[0]; first != nil && strings.HasPrefix(text, first.Error()+"\n") {
				inner = first
				continue
			}
		}
		if next == nil || !strings.HasSuffix(text, ": "+next.Error()) {
			break
		}
		inner = next
	}
	if inner == err {
		return err.Error()
	}
	op := strings.TrimSuffix(err.Error(), ": "+errors.Unwrap(err).Error())
	return op + ": " + inner.Error()
}

// humanError is an error whose message was written as a sentence for the
// user; sentence prints it whole, whatever it wraps.
type humanError struct {
	msg string
	err error
}

func (e humanError) Error() string {
	if e.err == nil || e.err.Error() == e.msg {
		return e.msg
	}
	return e.msg + ": " + e.err.Error()
}
func (e humanError) Unwrap() error { return e.err }

// human wraps err with a message written for the user.
func human(err error, format string, args ...any) error {
	return humanError{msg: fmt.Sprintf(format, args...), err: err}
}

// report prints err as "tenantctl: <sentence>" and a line saying what to do
// next; with verbose also the whole chain of wrapped errors.
func (a *app) report(err error, code int) {
	fmt.Fprintf(a.stderr, "tenantctl: %s\n", sentence(err))
	if hint := a.hint(err, code); hint != "" {
		fmt.Fprintf(a.stderr, "  %s\n", hint)
	}
	if a.verbose {
		fmt.Fprintf(a.stderr, "  details: %s\n", err.Error())
	} else if sentence(err) != err.Error() && code != exitUsage {
		fmt.Fprintf(a.stderr, "  (run again with --verbose for the details)\n")
	}
}
