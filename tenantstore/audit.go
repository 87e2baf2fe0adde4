package tenantstore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tenantgate/tenantgate/internal/actor"
)

// Audit actions recorded by the Manager and the store (SPEC §13). Other
// mutations name theirs the same way: "<object>.<verb>".
const (
	ActionTenantCreate      = "tenant.create"
	ActionTenantUpdate      = "tenant.update"
	ActionTenantDelete      = "tenant.delete"
	ActionLocationAdd       = "location.add"
	ActionLocationUpdate    = "location.update"
	ActionLocationDelete    = "location.delete"
	ActionDomainAdd         = "domain.add"
	ActionDomainVerify      = "domain.verify"
	ActionDomainRemove      = "domain.remove"
	ActionPlanCreate        = "plan.create"
	ActionPlanUpdate        = "plan.update"
	ActionServerAdd         = "server.add"
	ActionServerUpdate      = "server.update"
	ActionMigrateRun        = "migrate.run"
	ActionTenantMigrate     = "tenant.migrate"
	ActionImpersonateIssue  = "impersonate.issue"
	ActionImpersonateUse    = "impersonate.use"
	ActionImpersonateRefuse = "impersonate.refused"
)

// AuditEntry is one row of the audit trail: who (Actor), what (Action),
// which tenant, the object before and after (secrets redacted), when.
type AuditEntry struct {
	ID        int64           `json:"id"`
	At        time.Time       `json:"at"`
	Actor     actor.Actor     `json:"actor"`
	Action    string          `json:"action"`
	TenantID  string          `json:"tenant_id,omitempty"`
	Subdomain string          `json:"subdomain,omitempty"`
	Before    json.RawMessage `json:"before,omitempty"`
	After     json.RawMessage `json:"after,omitempty"`
}

// AuditListOptions filters and pages ListAudit, newest first.
type AuditListOptions struct {
	Subdomain string // only this tenant's entries (by its current id, or the subdomain they were recorded under)
	Cursor    string // the next cursor of the previous page
	Limit     int    // 0 means DefaultListLimit, capped at MaxListLimit
}

// Audit records one change made by the actor in ctx (actor.FromContext) to
// tenant t (nil for changes that concern no tenant), with the object before
// and after it, marshalled to JSON and passed through RedactAudit. It is the
// one call a mutation needs, e.g.
//
//	m.Store().Audit(ctx, "plan.set", t, before, after)
//
// and it is written even when ctx was cancelled after the change.
func (s *Store) Audit(ctx context.Context, action string, t *Tenant, before, after any) error {
	return AuditWith(ctx, s.pool, action, t, before, after)
}

// Execer runs a statement: a pool, a connection or a transaction.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// AuditWith is Store.Audit through db, for packages that hold their own
// connection to the control plane (tenantops' jobs) or want the row in
// their transaction.
func AuditWith(ctx context.Context, db Execer, action string, t *Tenant, before, after any) error {
	a := actor.FromContext(ctx)
	b, err := auditJSON(before)
	if err != nil {
		return fmt.Errorf("auditing %s: %w", action, err)
	}
	af, err := auditJSON(after)
	if err != nil {
		return fmt.Errorf("auditing %s: %w", action, err)
	}
	var id *string
	sub := ""
	if t != nil {
		sub = t.Subdomain
		if t.ID != "" {
			id = &t.ID
		}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), notifyTimeout)
	defer cancel()
	_, err = db.Exec(ctx, `INSERT INTO audit_log (actor_kind, actor_id, source_ip, action, tenant_id, subdomain, before, after)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, string(a.Kind), a.ID, a.IP, action, id, sub, b, af)
	if err != nil {
		return fmt.Errorf("auditing %s: %w", action, translate(err))
	}
	return nil
}

// SetAuditErrorHandler sets a function called when a change was made but
// its audit row could not be written (the change is committed by then).
// Binaries log it; by default it is dropped.
func (s *Store) SetAuditErrorHandler(fn func(action string, err error)) {
	s.mu.Lock()
	s.onAuditErr = fn
	s.mu.Unlock()
}

// AuditCommitted is Audit for a change that is committed already (the
// Manager's mutations, tenantops' database switches): a failure to write the
// row goes to the audit error handler (SetAuditErrorHandler) rather than
// failing a call whose change cannot be undone.
func (s *Store) AuditCommitted(ctx context.Context, action string, t *Tenant, before, after any) {
	if err := s.Audit(ctx, action, t, before, after); err != nil {
		s.mu.RLock()
		fn := s.onAuditErr
		s.mu.RUnlock()
		if fn != nil {
			fn(action, err)
		}
	}
}

func auditJSON(v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	if t, ok := v.(*Tenant); ok && t == nil {
		return nil, nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if string(raw) == "null" {
		return nil, nil
	}
	return RedactAudit(raw)
}

// secretKeys are the parts of a JSON key whose value is never kept in the
// audit trail, whatever object it comes from.
var secretKeys = []string{"password", "secret", "token", "key"}

// redacted replaces a secret value.
const redacted = "[redacted]"

// RedactAudit returns the JSON document raw with every value under a key
// containing password, secret, token or key replaced, and the password of
// any URL in a string value masked (RedactURL). Tenant JSON carries no
// secret already; this pass is for objects of other packages and for
// mistakes.
func RedactAudit(raw []byte) ([]byte, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("redacting: %w", err)
	}
	return json.Marshal(redactValue(v))
}

func redactValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			lk := strings.ToLower(k)
			// A "…_env" key holds the name of a variable, never its value.
			secret := false
			for _, s := range secretKeys {
				if strings.HasSuffix(lk, "_env") {
					break
				}
				if strings.Contains(lk, s) {
					secret = true
					break
				}
			}
			if secret && val != nil && val != "" {
				x[k] = redacted
				continue
			}
			x[k] = redactValue(val)
		}
	case []any:
		for i := range x {
			x[i] = redactValue(x[i])
		}
	case string:
		if strings.Contains(x, "://") || strings.Contains(strings.ToLower(x), "password=") {
			return redactText(x)
		}
	}
	return v
}

// ListAudit returns a page of audit entries, newest first, and the cursor of
// the next page ("" at the end). A subdomain that names no current tenant
// still finds the entries recorded under it (a deleted tenant's history).
func (s *Store) ListAudit(ctx context.Context, opts AuditListOptions) ([]AuditEntry, string, error) {
	limit := opts.Limit
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	before := int64(1<<63 - 1)
	if opts.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(opts.Cursor)
		n, err2 := strconv.ParseInt(string(b), 10, 64)
		if err != nil || err2 != nil || n <= 0 {
			return nil, "", invalid("cursor", "is not a cursor returned by a previous page")
		}
		before = n
	}
	sub := strings.TrimSpace(opts.Subdomain)
	var tenantID *string
	if sub != "" {
		if t, err := s.GetBySubdomain(ctx, sub); err == nil {
			tenantID = &t.ID
		}
	}
	rows, err := s.pool.Query(ctx, `SELECT id, at, actor_kind, actor_id, source_ip, action, COALESCE(tenant_id::text, ''), subdomain, before, after
		FROM audit_log
		WHERE id < $1 AND ($2 = '' OR subdomain = $2 OR tenant_id = $3)
		ORDER BY id DESC LIMIT $4`, before, sub, tenantID, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("listing audit entries: %w", translate(err))
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var kind string
		if err := rows.Scan(&e.ID, &e.At, &kind, &e.Actor.ID, &e.Actor.IP, &e.Action, &e.TenantID, &e.Subdomain, &e.Before, &e.After); err != nil {
			return nil, "", fmt.Errorf("listing audit entries: %w", translate(err))
		}
		e.Actor.Kind = actor.Kind(kind)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("listing audit entries: %w", translate(err))
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(out[limit-1].ID, 10)))
	}
	return out, next, nil
}
