package tenantstore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// List limits: the default page size and the largest page a caller gets.
const (
	DefaultListLimit = 50
	MaxListLimit     = 500
)

// ListOptions filters and pages List. The zero value lists the first
// DefaultListLimit tenants of any status, ordered by subdomain.
type ListOptions struct {
	Status Status // only tenants in this status; "" for all
	Cursor string // the next cursor of the previous page; "" for the first
	Limit  int    // page size; 0 means DefaultListLimit, capped at MaxListLimit
}

// tenantColumns selects a tenant with its domains (as JSON) in one round trip.
const tenantColumns = `t.id, t.name, t.subdomain, t.admin_email, t.status, t.max_users, t.multi_location,
	t.database_name, t.db_server, t.db_owned, t.db_url, t.db_host, t.db_port, t.db_user, t.db_password_env, t.db_role, t.db_role_password,
	t.limit_rate, t.limit_burst, t.limit_max_in_flight, t.created_at, t.updated_at, t.version,
	COALESCE((SELECT json_agg(json_build_object('hostname', d.hostname, 'verified', d.verified,
		'verification_token', d.verification_token, 'created_at', d.created_at, 'verified_at', d.verified_at)
		ORDER BY d.hostname) FROM tenant_domains d WHERE d.tenant_id = t.id), '[]'),
	t.display_name, t.primary_color, t.logo_sha256, t.logo_content_type,
	t.plan, t.features, ` + planInfoColumn

func scanTenant(row pgx.Row) (*Tenant, error) {
	var t Tenant
	var domains, features, plan []byte
	p := &t.Placement
	err := row.Scan(&t.ID, &t.Name, &t.Subdomain, &t.AdminEmail, &t.Status, &t.OwnMaxUsers, &t.MultiLocation,
		&t.DatabaseName, &t.DatabaseServer, &t.DatabaseOwned, &p.URL, &p.Host, &p.Port, &p.User, &p.PasswordEnv, &p.RoleName, &p.RolePassword,
		&t.Limits.RatePerSecond, &t.Limits.Burst, &t.Limits.MaxInFlight, &t.CreatedAt, &t.UpdatedAt, &t.Version, &domains,
		&t.Branding.DisplayName, &t.Branding.PrimaryColor, &t.Branding.LogoSHA256, &t.Branding.LogoType,
		&t.Plan, &features, &plan)
	if err != nil {
		return nil, translate(err)
	}
	if err := t.applyPlan(features, plan); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(domains, &t.Domains); err != nil {
		return nil, fmt.Errorf("decoding domains of tenant %q: %w", t.Subdomain, err)
	}
	return &t, nil
}

func (s *Store) getWhere(ctx context.Context, what, where string, arg any) (*Tenant, error) {
	t, err := scanTenant(s.pool.QueryRow(ctx, "SELECT "+tenantColumns+" FROM tenants t WHERE "+where, arg))
	if err != nil {
		return nil, fmt.Errorf("getting tenant by %s %q: %w", what, arg, err)
	}
	return t, nil
}

// Get returns the tenant with id, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (*Tenant, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, fmt.Errorf("getting tenant by id %q: %w", id, ErrNotFound)
	}
	return s.getWhere(ctx, "id", "t.id = $1", id)
}

// GetBySubdomain returns the tenant with subdomain sub (compared
// lower-case), or ErrNotFound.
func (s *Store) GetBySubdomain(ctx context.Context, sub string) (*Tenant, error) {
	return s.getWhere(ctx, "subdomain", "t.subdomain = lower($1)", sub)
}

// GetByHostname returns the tenant owning the VERIFIED custom domain
// hostname, or ErrNotFound (also for a domain not verified yet).
func (s *Store) GetByHostname(ctx context.Context, hostname string) (*Tenant, error) {
	return s.getWhere(ctx, "hostname",
		"t.id = (SELECT tenant_id FROM tenant_domains WHERE hostname = lower($1) AND verified)", hostname)
}

// List returns one page of tenants ordered by subdomain and the cursor of the
// next page ("" on the last page).
func (s *Store) List(ctx context.Context, opts ListOptions) ([]*Tenant, string, error) {
	limit := opts.Limit
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	after := ""
	if opts.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(opts.Cursor)
		if err != nil {
			return nil, "", invalid("cursor", "is not a cursor returned by a previous page")
		}
		after = string(b)
	}
	rows, err := s.pool.Query(ctx, "SELECT "+tenantColumns+` FROM tenants t
		WHERE ($1 = '' OR t.status = $1) AND t.subdomain > $2 ORDER BY t.subdomain LIMIT $3`,
		string(opts.Status), after, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("listing tenants: %w", translate(err))
	}
	defer rows.Close()
	var out []*Tenant
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, "", fmt.Errorf("listing tenants: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("listing tenants: %w", translate(err))
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = base64.RawURLEncoding.EncodeToString([]byte(out[limit-1].Subdomain))
	}
	return out, next, nil
}

// ListAll returns every tenant in status (all statuses when ""), following
// the cursor through every page.
func (s *Store) ListAll(ctx context.Context, status Status) ([]*Tenant, error) {
	var all []*Tenant
	opts := ListOptions{Status: status, Limit: MaxListLimit}
	for {
		page, next, err := s.List(ctx, opts)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if next == "" {
			return all, nil
		}
		opts.Cursor = next
	}
}

// Insert stores a new tenant. An empty t.ID is filled with a new UUID; the
// status defaults to StatusProvisioning. It sets t.Version, CreatedAt and
// UpdatedAt. A taken subdomain or name is a *ConflictError.
func (s *Store) Insert(ctx context.Context, t *Tenant) error {
	if t.ID == "" {
		t.ID = uuid.NewString()
	}
	if t.Status == "" {
		t.Status = StatusProvisioning
	}
	p := t.Placement
	var features, plan []byte
	err := s.pool.QueryRow(ctx, `INSERT INTO tenants AS t (id, name, subdomain, admin_email, status, max_users, multi_location,
		database_name, db_url, db_host, db_port, db_user, db_password_env, db_role, db_role_password, db_server, db_owned,
		limit_rate, limit_burst, limit_max_in_flight, plan, features)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
			COALESCE(NULLIF($21, ''), (SELECT name FROM plans WHERE is_default), 'standard'), $22)
		RETURNING created_at, updated_at, version, plan, features, `+planInfoColumn,
		t.ID, t.Name, t.Subdomain, t.AdminEmail, t.Status, t.ownMaxUsers(), t.MultiLocation,
		t.DatabaseName, p.URL, p.Host, p.Port, p.User, p.PasswordEnv, p.RoleName, p.RolePassword, t.DatabaseServer, t.DatabaseOwned,
		t.Limits.RatePerSecond, t.Limits.Burst, t.Limits.MaxInFlight, t.Plan, featuresJSON(t.FeatureOverrides),
	).Scan(&t.CreatedAt, &t.UpdatedAt, &t.Version, &t.Plan, &features, &plan)
	if err != nil {
		return fmt.Errorf("inserting tenant %q: %w", t.Subdomain, translate(err))
	}
	t.OwnMaxUsers = t.ownMaxUsers()
	if err := t.applyPlan(features, plan); err != nil {
		return err
	}
	s.notify(ctx, Change{TenantID: t.ID, Subdomains: []string{t.Subdomain}})
	return nil
}

// Update writes every field of t when t.Version is still the stored version
// (ErrStaleVersion otherwise, ErrNotFound when the tenant is gone); it bumps
// t.Version and sets t.UpdatedAt. Domains are not written (see AddDomain).
func (s *Store) Update(ctx context.Context, t *Tenant) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("updating tenant %q: %w", t.Subdomain, translate(err))
	}
	defer tx.Rollback(ctx)
	var oldSub string
	var version int64
	var hosts []string
	err = tx.QueryRow(ctx, `SELECT subdomain, version,
		ARRAY(SELECT hostname FROM tenant_domains WHERE tenant_id = $1)
		FROM tenants WHERE id = $1 FOR UPDATE`, t.ID).Scan(&oldSub, &version, &hosts)
	if err != nil {
		return fmt.Errorf("updating tenant %q: %w", t.Subdomain, translate(err))
	}
	if version != t.Version {
		return fmt.Errorf("updating tenant %q (version %d, stored %d): %w", t.Subdomain, t.Version, version, ErrStaleVersion)
	}
	p := t.Placement
	var features, plan []byte
	err = tx.QueryRow(ctx, `UPDATE tenants t SET name = $2, subdomain = $3, admin_email = $4, status = $5,
		max_users = $6, multi_location = $7, database_name = $8, db_url = $9, db_host = $10, db_port = $11,
		db_user = $12, db_password_env = $13, db_role = $14, db_role_password = $15,
		db_server = $16, db_owned = $17, limit_rate = $18, limit_burst = $19, limit_max_in_flight = $20,
		plan = COALESCE(NULLIF($21, ''), plan), features = $22,
		updated_at = now(), version = version + 1
		WHERE id = $1 RETURNING updated_at, version, plan, features, `+planInfoColumn,
		t.ID, t.Name, t.Subdomain, t.AdminEmail, t.Status, t.ownMaxUsers(), t.MultiLocation,
		t.DatabaseName, p.URL, p.Host, p.Port, p.User, p.PasswordEnv, p.RoleName, p.RolePassword, t.DatabaseServer, t.DatabaseOwned,
		t.Limits.RatePerSecond, t.Limits.Burst, t.Limits.MaxInFlight, t.Plan, featuresJSON(t.FeatureOverrides),
	).Scan(&t.UpdatedAt, &t.Version, &t.Plan, &features, &plan)
	if err != nil {
		return fmt.Errorf("updating tenant %q: %w", t.Subdomain, translate(err))
	}
	t.OwnMaxUsers = t.ownMaxUsers()
	if err := t.applyPlan(features, plan); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("updating tenant %q: %w", t.Subdomain, translate(err))
	}
	s.notify(ctx, Change{TenantID: t.ID, Subdomains: []string{oldSub, t.Subdomain}, Hostnames: hosts})
	return nil
}

// DatabaseUser returns the tenant other than exceptID whose database is
// database on one of servers (normalised keys, see DSNConfig.ServerKey), or
// ErrNotFound when the database is free.
func (s *Store) DatabaseUser(ctx context.Context, servers []string, database, exceptID string) (*Tenant, error) {
	t, err := scanTenant(s.pool.QueryRow(ctx, "SELECT "+tenantColumns+` FROM tenants t
		WHERE t.db_server = ANY($1) AND t.database_name = $2 AND t.id::text <> $3 LIMIT 1`, servers, database, exceptID))
	if err != nil {
		return nil, fmt.Errorf("looking for the tenant of database %q: %w", database, err)
	}
	return t, nil
}

// Delete removes the tenant with id, its domains and its locations. It does
// not touch the tenant's database. ErrNotFound when there is no such tenant.
func (s *Store) Delete(ctx context.Context, id string) error {
	var sub string
	var hosts []string
	err := s.pool.QueryRow(ctx, `WITH d AS (
			SELECT ARRAY(SELECT hostname FROM tenant_domains WHERE tenant_id = $1) AS hosts)
		DELETE FROM tenants WHERE id = $1 RETURNING subdomain, (SELECT hosts FROM d)`, id).Scan(&sub, &hosts)
	if err != nil {
		return fmt.Errorf("deleting tenant %s: %w", id, translate(err))
	}
	s.notify(ctx, Change{TenantID: id, Subdomains: []string{sub}, Hostnames: hosts})
	return nil
}
