package tenantstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"
)

// Plan is a named bundle of a user limit, limits at the edge and features
// (SPEC §13). Every tenant is on one plan; the default plan is the plan of
// a tenant created without one.
type Plan struct {
	Name string `json:"name"`
	// MaxUsers is the user limit of the plan's tenants that have none of
	// their own.
	MaxUsers int `json:"max_users"`
	// Limits apply to the plan's tenants where they have none of their
	// own; nil fields leave the edge default.
	Limits TenantLimits `json:"limits"`
	// Features the plan turns on or off; a feature it does not name is on.
	Features map[string]bool `json:"features"`
	Default  bool            `json:"default"`
	// Tenants counts the tenants on the plan (filled by list and get).
	Tenants   int       `json:"tenants"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// planName is the shape of a plan name (the table's CHECK).
var planName = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)

// ValidatePlanName refuses, naming field, a name no plan can have.
func ValidatePlanName(field, name string) error {
	if !planName.MatchString(name) {
		return invalid(field, "must be 1 to 63 characters of a-z, 0-9, - and _, starting with a letter")
	}
	return nil
}

// planInfo is what a tenant row carries of its plan (see tenantColumns).
type planInfo struct {
	MaxUsers int             `json:"max_users"`
	Limits   TenantLimits    `json:"limits"`
	Features map[string]bool `json:"features"`
}

// planInfoColumn selects the plan of tenant row t as JSON for planInfo.
const planInfoColumn = `(SELECT json_build_object('max_users', p.max_users, 'limits', json_build_object(
		'rate_per_second', p.limit_rate, 'burst', p.limit_burst, 'max_in_flight', p.limit_max_in_flight),
		'features', p.features) FROM plans p WHERE p.name = t.plan)`

// applyPlan fills t's plan-derived fields from the row's own feature
// overrides and plan JSON: effective max users and features, plan limits.
func (t *Tenant) applyPlan(overrides, plan []byte) error {
	t.FeatureOverrides = map[string]bool{}
	if len(overrides) > 0 {
		if err := json.Unmarshal(overrides, &t.FeatureOverrides); err != nil {
			return fmt.Errorf("decoding features of tenant %q: %w", t.Subdomain, err)
		}
	}
	var p planInfo
	if len(plan) > 0 {
		if err := json.Unmarshal(plan, &p); err != nil {
			return fmt.Errorf("decoding plan of tenant %q: %w", t.Subdomain, err)
		}
	}
	t.planMaxUsers = p.MaxUsers
	t.MaxUsers = p.MaxUsers
	if t.OwnMaxUsers != nil {
		t.MaxUsers = *t.OwnMaxUsers
	}
	if t.MaxUsers == 0 {
		t.MaxUsers = DefaultMaxUsers
	}
	t.PlanLimits = p.Limits
	t.Features = EffectiveFeatures(p.Features, t.FeatureOverrides)
	return nil
}

// ownMaxUsers is what Insert and Update store as the tenant's own user
// limit: MaxUsers when a caller changed it from the value read, else
// OwnMaxUsers; nil follows the plan.
func (t *Tenant) ownMaxUsers() *int {
	read := t.planMaxUsers
	if t.OwnMaxUsers != nil {
		read = *t.OwnMaxUsers
	}
	if t.MaxUsers > 0 && t.MaxUsers != read {
		n := t.MaxUsers
		return &n
	}
	return t.OwnMaxUsers
}

func featuresJSON(m map[string]bool) []byte {
	if m == nil {
		return []byte("{}")
	}
	b, _ := json.Marshal(m)
	return b
}

const planColumns = `p.name, p.max_users, p.limit_rate, p.limit_burst, p.limit_max_in_flight, p.features, p.is_default,
	(SELECT count(*) FROM tenants t WHERE t.plan = p.name), p.created_at, p.updated_at`

func scanPlan(row pgx.Row) (*Plan, error) {
	var p Plan
	var features []byte
	if err := row.Scan(&p.Name, &p.MaxUsers, &p.Limits.RatePerSecond, &p.Limits.Burst, &p.Limits.MaxInFlight,
		&features, &p.Default, &p.Tenants, &p.CreatedAt, &p.UpdatedAt); err != nil {
		return nil, translate(err)
	}
	if err := json.Unmarshal(features, &p.Features); err != nil {
		return nil, fmt.Errorf("decoding features of plan %q: %w", p.Name, err)
	}
	return &p, nil
}

// ListPlans returns every plan, by name.
func (s *Store) ListPlans(ctx context.Context) ([]*Plan, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+planColumns+" FROM plans p ORDER BY p.name")
	if err != nil {
		return nil, fmt.Errorf("listing plans: %w", translate(err))
	}
	defer rows.Close()
	var out []*Plan
	for rows.Next() {
		p, err := scanPlan(rows)
		if err != nil {
			return nil, fmt.Errorf("listing plans: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing plans: %w", translate(err))
	}
	return out, nil
}

// GetPlan returns the plan called name, or ErrNotFound.
func (s *Store) GetPlan(ctx context.Context, name string) (*Plan, error) {
	p, err := scanPlan(s.pool.QueryRow(ctx, "SELECT "+planColumns+" FROM plans p WHERE p.name = $1", name))
	if err != nil {
		return nil, fmt.Errorf("getting plan %q: %w", name, err)
	}
	return p, nil
}

// SavePlan inserts p (create) or writes every field of the existing plan
// called p.Name (ErrNotFound when there is none). A plan made the default
// takes that role from the previous default. Every tenant on the plan is
// then invalidated in every cache, so the change reaches every edge and
// appserver within the invalidation delay.
func (s *Store) SavePlan(ctx context.Context, p *Plan, create bool) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("saving plan %q: %w", p.Name, translate(err))
	}
	defer tx.Rollback(ctx)
	if p.Default {
		if _, err := tx.Exec(ctx, `UPDATE plans SET is_default = false, updated_at = now() WHERE is_default AND name <> $1`, p.Name); err != nil {
			return fmt.Errorf("saving plan %q: %w", p.Name, translate(err))
		}
	}
	l := p.Limits
	var q string
	if create {
		q = `INSERT INTO plans (name, max_users, limit_rate, limit_burst, limit_max_in_flight, features, is_default)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING created_at, updated_at`
	} else {
		q = `UPDATE plans SET max_users = $2, limit_rate = $3, limit_burst = $4, limit_max_in_flight = $5,
			features = $6, is_default = is_default OR $7, updated_at = now() WHERE name = $1 RETURNING created_at, updated_at`
	}
	if err := tx.QueryRow(ctx, q, p.Name, p.MaxUsers, l.RatePerSecond, l.Burst, l.MaxInFlight, featuresJSON(p.Features), p.Default).
		Scan(&p.CreatedAt, &p.UpdatedAt); err != nil {
		err = translate(err)
		var ce *ConflictError
		if errors.As(err, &ce) {
			ce.Field = "name"
		}
		return fmt.Errorf("saving plan %q: %w", p.Name, err)
	}
	changes, err := planChanges(ctx, tx, p.Name)
	if err != nil {
		return fmt.Errorf("saving plan %q: %w", p.Name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("saving plan %q: %w", p.Name, translate(err))
	}
	p.Tenants = len(changes)
	s.notifyAll(ctx, changes)
	return nil
}

// planChanges lists a Change for every tenant on plan.
func planChanges(ctx context.Context, tx pgx.Tx, plan string) ([]Change, error) {
	rows, err := tx.Query(ctx, `SELECT t.id::text, t.subdomain,
		ARRAY(SELECT hostname FROM tenant_domains d WHERE d.tenant_id = t.id) FROM tenants t WHERE t.plan = $1`, plan)
	if err != nil {
		return nil, translate(err)
	}
	var out []Change
	for rows.Next() {
		var c Change
		var sub string
		if err := rows.Scan(&c.TenantID, &sub, &c.Hostnames); err != nil {
			rows.Close()
			return nil, translate(err)
		}
		c.Subdomains = []string{sub}
		c.PlanOnly = true
		out = append(out, c)
	}
	rows.Close()
	return out, translate(rows.Err())
}

// notifyParallel is how many invalidations of one plan change are
// published at once.
const notifyParallel = 16

// notifyAll tells the Notifier about every change, a few at a time.
func (s *Store) notifyAll(ctx context.Context, changes []Change) {
	var g errgroup.Group
	g.SetLimit(notifyParallel)
	for _, c := range changes {
		g.Go(func() error { s.notify(ctx, c); return nil })
	}
	_ = g.Wait()
}

// PlanRequest creates or changes a plan: nil fields are left as they are
// (on create: MaxUsers DefaultMaxUsers, no limits, no features).
type PlanRequest struct {
	MaxUsers *int
	Limits   *LimitsPatch
	Features FeaturePatch
	// Default, when true, makes the plan the default (false is refused:
	// make another plan the default instead).
	Default *bool
}

// ListPlans returns every plan.
func (m *Manager) ListPlans(ctx context.Context) ([]*Plan, error) { return m.store.ListPlans(ctx) }

// GetPlan returns the plan called name.
func (m *Manager) GetPlan(ctx context.Context, name string) (*Plan, error) {
	return m.store.GetPlan(ctx, strings.TrimSpace(name))
}

// CreatePlan validates req and creates the plan called name (a
// *ConflictError naming "name" when it exists).
func (m *Manager) CreatePlan(ctx context.Context, name string, req PlanRequest) (*Plan, error) {
	if err := ValidatePlanName("name", name); err != nil {
		return nil, err
	}
	p := &Plan{Name: name, MaxUsers: DefaultMaxUsers}
	if err := req.apply(p); err != nil {
		return nil, err
	}
	if err := m.store.SavePlan(ctx, p, true); err != nil {
		return nil, err
	}
	m.store.AuditCommitted(ctx, ActionPlanCreate, nil, nil, p)
	return p, nil
}

// UpdatePlan validates req and applies it to the plan called name; every
// tenant on it sees the change within the invalidation delay.
func (m *Manager) UpdatePlan(ctx context.Context, name string, req PlanRequest) (*Plan, error) {
	p, err := m.store.GetPlan(ctx, name)
	if err != nil {
		return nil, err
	}
	before := *p // apply copies the features map, so before keeps the old one
	if err := req.apply(p); err != nil {
		return nil, err
	}
	if err := m.store.SavePlan(ctx, p, false); err != nil {
		return nil, err
	}
	m.store.AuditCommitted(ctx, ActionPlanUpdate, nil, &before, p)
	return p, nil
}

// apply validates req and changes p by it.
func (req PlanRequest) apply(p *Plan) error {
	if req.MaxUsers != nil {
		if err := validateMaxUsers(*req.MaxUsers); err != nil {
			return err
		}
		p.MaxUsers = *req.MaxUsers
	}
	if req.Limits != nil {
		l := req.Limits.apply(p.Limits)
		if err := l.Validate(); err != nil {
			return err
		}
		p.Limits = l
	}
	if err := validateFeatureNames("features", req.Features); err != nil {
		return err
	}
	p.Features = req.Features.apply(p.Features)
	if req.Default != nil {
		if !*req.Default && p.Default {
			return invalid("default", "cannot be unset: make another plan the default instead")
		}
		p.Default = p.Default || *req.Default
	}
	return nil
}
