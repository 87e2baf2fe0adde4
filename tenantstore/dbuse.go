package tenantstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// One database, one tenant (SPEC §9): the code here keeps every tenant's
// (server, database) pair in step with the URL it is reached at and free of
// other tenants; the control plane's unique index tenants_database_key
// settles races.

// locate sets t's DatabaseServer and, for an explicit placement (a URL,
// parts, or a TENANT_<SUB>_DATABASE_URL override), its DatabaseName from
// the URL its database is reached at; then it checks no other tenant uses
// that database.
func (m *Manager) locate(ctx context.Context, t *Tenant) error {
	if !m.prov.explicit(t) {
		t.DatabaseServer = ""
	} else {
		u, err := m.dsn.URL(t)
		if err != nil {
			return err
		}
		cfg, err := pgconn.ParseConfig(u)
		if err != nil {
			return invalid("database_url", "is not a valid PostgreSQL URL")
		}
		if cfg.Database == "" {
			return invalid("database_url", "must name a database")
		}
		if t.DatabaseServer, err = m.dsn.ServerKey(u); err != nil {
			return err
		}
		t.DatabaseName = cfg.Database
	}
	return m.checkFree(ctx, t)
}

// serverOf is t's stored server key, with the template's own "host:port"
// (which rows written before keys were normalised may hold) read as "".
func (m *Manager) serverOf(t *Tenant) string {
	if t.DatabaseServer != "" && t.DatabaseServer == m.dsn.TemplateServer() {
		return ""
	}
	return t.DatabaseServer
}

// checkFree returns an ErrDatabaseInUse conflict when another tenant uses
// t's database.
func (m *Manager) checkFree(ctx context.Context, t *Tenant) error {
	servers := []string{t.DatabaseServer}
	if t.DatabaseServer == "" {
		if ts := m.dsn.TemplateServer(); ts != "" {
			servers = append(servers, ts)
		}
	}
	other, err := m.store.DatabaseUser(ctx, servers, t.DatabaseName, t.ID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return databaseInUse("database_url", "names database %q, which tenant %q uses; one database serves one tenant", t.DatabaseName, other.Subdomain)
}

// relocate re-derives t's database after a patch (a new database_url, or a
// rename that brings a TENANT_<SUB>_DATABASE_URL override into effect).
// When it changed, the new database must be free, and tenantgate no longer
// owns it (a delete will not drop it); a rename onto an override naming a
// database with data is refused: adopting one takes an explicit create.
// toTemplate is a return from an explicit URL to the template placement:
// the database is then the one provisioning made with the login role's
// name, which tenantgate owns.
func (m *Manager) relocate(ctx context.Context, t *Tenant, oldSub, oldServer, oldName string, toTemplate bool) error {
	if toTemplate && t.Placement.RoleName != "" {
		t.DatabaseName = t.Placement.RoleName
	}
	if err := m.locate(ctx, t); err != nil {
		return err
	}
	if t.DatabaseServer == oldServer && t.DatabaseName == oldName {
		return nil
	}
	t.DatabaseOwned = toTemplate && t.Placement.RoleName != ""
	if t.Subdomain != oldSub && m.dsn.getenv(OverrideVar(t.Subdomain)) != "" {
		u, err := m.dsn.URL(t)
		if err != nil {
			return err
		}
		full, err := holdsData(ctx, u)
		if err != nil {
			return fmt.Errorf("looking into database %q of %s: %w", t.DatabaseName, OverrideVar(t.Subdomain), err)
		}
		if full {
			return databaseInUse("subdomain", "would attach the tenant to database %q (from %s), which already holds data; unset the variable or rename to another subdomain", t.DatabaseName, OverrideVar(t.Subdomain))
		}
	}
	return nil
}

// holdsData reports whether the database at rawURL has any table outside
// PostgreSQL's own schemas (tenantgate's schema or anyone's).
func holdsData(ctx context.Context, rawURL string) (bool, error) {
	cfg, err := parseConfig(rawURL)
	if err != nil {
		return false, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, translate(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var full bool
	err = conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
		AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%')`).Scan(&full)
	if err != nil {
		return false, translate(err)
	}
	return full, nil
}

// freeName returns the database and role name of a new template-placed
// tenant: DatabaseName(prefix, sub) when neither a database nor a role of
// that name exists on the template's server, otherwise the same with a
// short suffix from the tenant's id (which it fills when empty), so that a
// subdomain freed by a rename or a detaching delete gets fresh names.
func (p *provisioner) freeName(ctx context.Context, t *Tenant) (string, error) {
	if t.ID == "" {
		t.ID = uuid.NewString()
	}
	admin, err := p.adminPool(ctx)
	if err != nil {
		return "", err
	}
	return p.freeNameOn(ctx, admin, t)
}

// freeNameOn is freeName on the server q is connected to.
func (p *provisioner) freeNameOn(ctx context.Context, q queryRower, t *Tenant) (string, error) {
	if t.ID == "" {
		t.ID = uuid.NewString()
	}
	candidates := []string{DatabaseName(p.prefix, t.Subdomain),
		DatabaseName(p.prefix, t.Subdomain+"_"+t.ID[:8]),
		DatabaseName(p.prefix, t.Subdomain+"_"+randomToken(6))}
	for _, name := range candidates {
		var taken bool
		err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)
			OR EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, name).Scan(&taken)
		if err != nil {
			return "", fmt.Errorf("looking for a free database name: %w", translate(err))
		}
		if !taken {
			return name, nil
		}
	}
	return "", fmt.Errorf("no free database name for tenant %q: %w", t.Subdomain,
		&ConflictError{Field: "subdomain", Message: "has no free database name; drop the databases and roles left by earlier tenants"})
}

// CheckMoveTarget checks, without connecting, that the tenant with
// subdomain sub may move to the database at rawURL: its host must be
// allowed (CheckDatabaseHost; a *ValidationError naming field) and no other
// tenant may use that database (ErrDatabaseInUse naming field). A URL
// without a database name means the tenant's current name, as a move does.
func (m *Manager) CheckMoveTarget(ctx context.Context, field, sub, rawURL string) error {
	if err := m.CheckDatabaseHost(field, rawURL); err != nil {
		return err
	}
	t, err := m.Get(ctx, sub)
	if err != nil {
		return err
	}
	cfg, err := pgconn.ParseConfig(rawURL)
	if err != nil {
		return invalid(field, "is not a valid postgres:// URL")
	}
	server, err := m.dsn.ServerKey(rawURL)
	if err != nil {
		return invalid(field, "is not a valid postgres:// URL")
	}
	target := &Tenant{ID: t.ID, DatabaseServer: server, DatabaseName: cmp.Or(cfg.Database, t.DatabaseName)}
	if err := m.checkFree(ctx, target); err != nil {
		var ce *ConflictError
		if errors.As(err, &ce) {
			ce.Field = field
		}
		return err
	}
	return nil
}
