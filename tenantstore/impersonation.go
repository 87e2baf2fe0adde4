package tenantstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantgate/tenantgate/internal/actor"
)

// ImpersonationTTL is how long an impersonation link stays valid (SPEC §13).
const ImpersonationTTL = 60 * time.Second

// impersonationTokenBytes is the entropy of an impersonation token.
const impersonationTokenBytes = 32

// ErrImpersonationRefused is the error of a link that is unknown, used
// already, expired or meant for another tenant; it comes wrapped in an
// *ImpersonationRefusal saying which.
var ErrImpersonationRefused = errors.New("impersonation link refused")

// ImpersonationRefusal says why ConsumeImpersonation refused a link.
type ImpersonationRefusal struct {
	// Reason is "unknown", "used", "expired" or "wrong_tenant".
	Reason string
}

// Error implements error.
func (e *ImpersonationRefusal) Error() string {
	return "impersonation link refused: " + e.Reason
}

// Unwrap makes errors.Is(err, ErrImpersonationRefused) match.
func (e *ImpersonationRefusal) Unwrap() error { return ErrImpersonationRefused }

// Impersonation is an issued link's token (shown once, stored hashed) and
// when it expires.
type Impersonation struct {
	Token     string
	Email     string
	ExpiresAt time.Time
}

func impersonationHash(token string) []byte {
	h := sha256.Sum256([]byte("tenantgate-impersonation|" + token))
	return h[:]
}

// IssueImpersonation stores a single-use impersonation token for the user
// with email of tenant t, valid ImpersonationTTL (by the control plane's
// clock), and audits the issue as the actor in ctx. The caller has checked
// that the user exists and is active.
func (s *Store) IssueImpersonation(ctx context.Context, t *Tenant, email string) (*Impersonation, error) {
	var raw [impersonationTokenBytes]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, fmt.Errorf("issuing impersonation for tenant %q: %w", t.Subdomain, err)
	}
	imp := &Impersonation{Token: base64.RawURLEncoding.EncodeToString(raw[:]), Email: email}
	a := actor.FromContext(ctx)
	err := s.pool.QueryRow(ctx, `INSERT INTO impersonation_tokens (token_hash, tenant_id, email, actor_kind, actor_id, expires_at)
		VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6)) RETURNING expires_at`,
		impersonationHash(imp.Token), t.ID, email, string(a.Kind), a.ID, ImpersonationTTL.Seconds()).Scan(&imp.ExpiresAt)
	if err != nil {
		return nil, fmt.Errorf("issuing impersonation for tenant %q: %w", t.Subdomain, translate(err))
	}
	// Housekeeping: links expired for a day are of no use to anyone.
	if _, err := s.pool.Exec(ctx, `DELETE FROM impersonation_tokens WHERE expires_at < now() - interval '1 day'`); err != nil {
		return nil, fmt.Errorf("issuing impersonation for tenant %q: %w", t.Subdomain, translate(err))
	}
	if err := s.Audit(ctx, ActionImpersonateIssue, t, nil, map[string]any{"email": email, "expires_at": imp.ExpiresAt}); err != nil {
		return nil, err
	}
	return imp, nil
}

// ConsumeImpersonation uses the impersonation token for tenant t (the tenant
// of the host the link was opened on): atomically, only once, only before it
// expires and only for the tenant it was issued for. It returns the e-mail
// of the user to log in as. Either way the attempt of a known token is
// audited: as the issuer of the link, from the IP of the actor in ctx. A
// refusal is an *ImpersonationRefusal (errors.Is ErrImpersonationRefused).
func (s *Store) ConsumeImpersonation(ctx context.Context, t *Tenant, token string) (string, error) {
	h := impersonationHash(token)
	ip := actor.FromContext(ctx).IP
	var email, kind, id string
	err := s.pool.QueryRow(ctx, `UPDATE impersonation_tokens SET used_at = now()
		WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() AND tenant_id = $2
		RETURNING email, actor_kind, actor_id`, h, t.ID).Scan(&email, &kind, &id)
	if err == nil {
		actx := actor.NewContext(ctx, actor.Actor{Kind: actor.Kind(kind), ID: id, IP: ip})
		return email, s.Audit(actx, ActionImpersonateUse, t, nil, map[string]any{"email": email})
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("using impersonation link on tenant %q: %w", t.Subdomain, translate(err))
	}
	// Why not: read the row (if any) to say so, and audit it.
	var tenantID string
	var used *time.Time
	var expired bool
	err = s.pool.QueryRow(ctx, `SELECT tenant_id::text, email, actor_kind, actor_id, used_at, expires_at <= now()
		FROM impersonation_tokens WHERE token_hash = $1`, h).Scan(&tenantID, &email, &kind, &id, &used, &expired)
	if errors.Is(err, pgx.ErrNoRows) {
		// Unknown tokens are not audited: anyone can send those, and the
		// trail must not be a place strangers can write to.
		return "", &ImpersonationRefusal{Reason: "unknown"}
	}
	if err != nil {
		return "", fmt.Errorf("using impersonation link on tenant %q: %w", t.Subdomain, translate(err))
	}
	reason := "expired"
	switch {
	case tenantID != t.ID:
		reason = "wrong_tenant"
	case used != nil:
		reason = "used"
	}
	actx := actor.NewContext(ctx, actor.Actor{Kind: actor.Kind(kind), ID: id, IP: ip})
	audited := t
	if reason == "wrong_tenant" {
		audited = &Tenant{ID: tenantID} // the link's tenant; the host's is in after
		if lt, err := s.Get(ctx, tenantID); err == nil {
			audited = lt
		}
	}
	if err := s.Audit(actx, ActionImpersonateRefuse, audited, nil, map[string]any{"email": email, "reason": reason, "host_tenant": t.Subdomain}); err != nil {
		return "", err
	}
	return "", &ImpersonationRefusal{Reason: reason}
}
