// Package actor carries who is making a change through a context: the admin
// API, the dashboard and tenantctl put an Actor in the request's context, and
// the audit trail (tenantstore's audit log) reads it back when it records a
// mutation. It holds identities only, never a credential.
package actor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/user"
	"strconv"
)

// Kind says through which door a change came.
type Kind string

// The kinds of actor (SPEC §13, Audit).
const (
	// AdminToken is a caller of the admin API with a bearer token.
	AdminToken Kind = "admin-token"
	// Dashboard is an operator logged in to the dashboard with a token.
	Dashboard Kind = "dashboard"
	// Tenantctl is an operator running tenantctl on a box.
	Tenantctl Kind = "tenantctl"
	// System is a change no person asked for (a background job's own
	// bookkeeping); it is also what an audit row says when the context
	// carries no actor, so a missing hook shows instead of vanishing.
	System Kind = "system"
)

// Actor is who made a change: its kind, an id that names it without being
// a secret (TokenID of an admin token, the OS user for tenantctl), and the
// client IP it came from ("" for tenantctl).
type Actor struct {
	Kind Kind   `json:"kind"`
	ID   string `json:"id"`
	IP   string `json:"ip,omitempty"`
}

type ctxKey struct{}

// NewContext returns ctx carrying a.
func NewContext(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, ctxKey{}, a)
}

// FromContext returns the Actor in ctx, or System with an empty id when
// there is none.
func FromContext(ctx context.Context) Actor {
	if a, ok := ctx.Value(ctxKey{}).(Actor); ok {
		return a
	}
	return Actor{Kind: System}
}

// tokenIDBytes is how much of a token's SHA-256 its id shows: 48 bits name
// one of a handful of configured tokens without helping anyone guess it.
const tokenIDBytes = 6

// TokenID is the public id of an admin token: "tok_" and the first 12 hex
// digits of its SHA-256. The same token always has the same id, so an
// operator can tell which token did what (sha256sum of ADMIN_TOKENS).
func TokenID(token string) string { return TokenHashID(sha256.Sum256([]byte(token))) }

// TokenHashID is TokenID from the token's SHA-256, for callers that keep only
// the hash.
func TokenHashID(sum [sha256.Size]byte) string {
	return "tok_" + hex.EncodeToString(sum[:tokenIDBytes])
}

// OSUser is the tenantctl actor: the login name of the user running the
// process, or "uid:N" when it has none. Under sudo (running as root with
// SUDO_USER set) it names the person who ran sudo, "alice (sudo)"; SUDO_USER
// is believed only as root, since any other user could set it.
func OSUser() Actor {
	uid := os.Getuid()
	name := "uid:" + strconv.Itoa(uid)
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil && u.Username != "" {
		name = u.Username
	}
	if su := os.Getenv("SUDO_USER"); uid == 0 && su != "" {
		name = su + " (sudo)"
	}
	return Actor{Kind: Tenantctl, ID: name}
}
