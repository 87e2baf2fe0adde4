package tenantstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pressly/goose/v3"
)

// DefaultParallel is how many tenant databases Migrate and Check work on at
// once when the caller does not say.
const DefaultParallel = 8

// MigrateOptions selects and paces Manager.Migrate.
type MigrateOptions struct {
	Tenant   string              // only the tenant with this subdomain; "" for every tenant
	Check    bool                // report versions without changing anything
	Parallel int                 // tenants at once; 0 means DefaultParallel
	Progress func(MigrateResult) // called (one call at a time) as each tenant finishes
	Listed   func(tenants int)   // called once, before the first tenant starts, with how many there are
}

// MigrateResult is the outcome of migrating (or checking) one tenant.
type MigrateResult struct {
	Subdomain string        `json:"subdomain"`
	From      int64         `json:"from"`    // schema version before
	To        int64         `json:"to"`      // schema version after (= From when checking or when nothing applied)
	Latest    int64         `json:"latest"`  // version of the newest tenant migration
	Applied   int           `json:"applied"` // migrations applied
	Duration  time.Duration `json:"duration_ns"`
	Canary    bool          `json:"canary,omitempty"` // migrated first, as a canary of a rollout
	Err       error         `json:"-"`                // the tenant could not be reached or a migration failed
}

// Behind reports whether the tenant's schema is older than the latest.
func (r MigrateResult) Behind() bool { return r.To < r.Latest }

// OK reports whether the tenant is reachable and at the latest version.
func (r MigrateResult) OK() bool { return r.Err == nil && !r.Behind() }

// MarshalJSON adds the error message as "error".
func (r MigrateResult) MarshalJSON() ([]byte, error) {
	type plain MigrateResult
	return json.Marshal(struct {
		plain
		Error string `json:"error,omitempty"`
	}{plain(r), errString(r.Err)})
}

// MigrationState is a tenant's schema version against the latest.
type MigrationState struct {
	Subdomain string `json:"subdomain"`
	Current   int64  `json:"current"`
	Latest    int64  `json:"latest"`
	Err       error  `json:"-"`
}

// MarshalJSON adds the error message as "error".
func (s MigrationState) MarshalJSON() ([]byte, error) {
	type plain MigrationState
	return json.Marshal(struct {
		plain
		Error string `json:"error,omitempty"`
	}{plain(s), errString(s.Err)})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// latestVersion is the highest version among goose files ("00002_x.sql").
func latestVersion(fsys fs.FS) (int64, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return 0, fmt.Errorf("reading tenant migrations: %w", err)
	}
	var latest int64
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || path.Ext(name) != ".sql" {
			continue
		}
		prefix, _, ok := strings.Cut(name, "_")
		v, err := strconv.ParseInt(prefix, 10, 64)
		if !ok || err != nil {
			return 0, fmt.Errorf("reading tenant migrations: %q does not start with a version number", name)
		}
		latest = max(latest, v)
	}
	return latest, nil
}

// schemaVersion is the highest applied goose version of the connected
// database; 0 when goose never ran there. It is one cheap query, unlike
// goose's own status, so checking hundreds of tenants is fast.
func schemaVersion(ctx context.Context, conn *pgx.Conn) (int64, error) {
	var v int64
	// The simple protocol: one round trip on a connection used once.
	err := conn.QueryRow(ctx, "SELECT coalesce(max(version_id), 0) FROM goose_db_version WHERE is_applied", pgx.QueryExecModeSimpleProtocol).Scan(&v)
	if isCode(err, "42P01") { // undefined_table
		return 0, nil
	}
	return v, translate(err)
}

// checkTenant reads the schema version of the database at cfg.
func checkTenant(ctx context.Context, cfg *pgx.ConnConfig) (int64, error) {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return 0, fmt.Errorf("connecting: %w", translate(err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return schemaVersion(ctx, conn)
}

// migrateTenant brings the database at cfg to latest: one version query
// first, and goose (its provider, its lock, its own connections) only when
// the database is behind. Each pending migration of fsys runs in its own
// transaction, so a failing migration leaves the database at the last one
// that succeeded. It returns the versions before and after and how many
// migrations were applied.
func migrateTenant(ctx context.Context, cfg *pgx.ConnConfig, fsys fs.FS, latest int64) (from, to int64, applied int, err error) {
	if from, err = checkTenant(ctx, cfg); err != nil {
		return 0, 0, 0, err
	}
	if from >= latest {
		return from, from, 0, nil // the fast path: nothing to apply
	}
	p, db, err := newProvider(cfg, fsys, true, nil)
	if err != nil {
		return from, from, 0, err
	}
	defer db.Close()
	results, err := p.Up(ctx)
	if perr := (*goose.PartialError)(nil); errors.As(err, &perr) {
		results = perr.Applied
		err = fmt.Errorf("migration %s failed: %w", path.Base(perr.Failed.Source.Path), perr.Err)
	} else if err != nil {
		err = translate(err)
	}
	to = from
	for _, r := range results {
		to = max(to, r.Source.Version)
	}
	return from, to, len(results), err
}

// tenantConfigs builds the connection configs of many tenants for one pass
// over the fleet: the template's URL is parsed once, and each
// template-placed tenant gets a copy with its database and login role.
// Tenants placed otherwise (or overridden by TENANT_<SUB>_DATABASE_URL) are
// parsed from their own URL, as tenantConfig does.
type tenantConfigs struct {
	m    *Manager
	once sync.Once
	base *pgx.ConnConfig
	err  error
}

func (c *tenantConfigs) get(t *Tenant) (*pgx.ConnConfig, error) {
	if t.Placement.Kind() != "template" || c.m.dsn.getenv(OverrideVar(t.Subdomain)) != "" {
		return c.m.tenantConfig(t)
	}
	c.once.Do(func() {
		var u string
		if u, c.err = c.m.dsn.templateURL(c.m.prov.adminDB, "", ""); c.err != nil {
			return
		}
		if c.base, c.err = parseConfig(u); c.err == nil && c.base.ConnectTimeout == 0 {
			c.base.ConnectTimeout = tenantConnectTimeout
		}
	})
	if c.err != nil {
		return nil, c.err
	}
	cfg := c.base.Copy()
	cfg.Database = t.DatabaseName
	if t.Placement.RoleName != "" {
		cfg.User, cfg.Password = t.Placement.RoleName, t.Placement.RolePassword
	}
	return cfg, nil
}

// migrateOne migrates (or, with check, only reads) one tenant.
func (m *Manager) migrateOne(ctx context.Context, cfgs *tenantConfigs, t *Tenant, latest int64, check bool) MigrateResult {
	r := MigrateResult{Subdomain: t.Subdomain, Latest: latest}
	start := time.Now()
	cfg, err := cfgs.get(t)
	switch {
	case err != nil:
	case check:
		r.From, err = checkTenant(ctx, cfg)
		r.To = r.From
	default:
		r.From, r.To, r.Applied, err = migrateTenant(ctx, cfg, m.prov.migrations, latest)
	}
	if err != nil {
		r.Err = fmt.Errorf("tenant %q (database %q): %w", t.Subdomain, t.DatabaseName, err)
	}
	r.Duration = time.Since(start)
	return r
}

// Migrate applies pending tenant migrations to every tenant (or
// opts.Tenant), opts.Parallel at a time, each tenant's migrations one
// transaction each, and keeps going past failures: the failures are in the
// results' Err, ordered by subdomain. With opts.Check nothing changes; a
// tenant is only read (one query) and compared with the latest version. The
// error is for failures that prevent the whole run (listing tenants).
func (m *Manager) Migrate(ctx context.Context, opts MigrateOptions) ([]MigrateResult, error) {
	latest, err := latestVersion(m.prov.migrations)
	if err != nil {
		return nil, err
	}
	tenants, err := m.servedTenants(ctx, opts.Tenant)
	if err != nil {
		return nil, err
	}
	if opts.Listed != nil {
		opts.Listed(len(tenants))
	}
	out := make([]MigrateResult, len(tenants))
	cfgs := &tenantConfigs{m: m}
	var mu sync.Mutex
	forEach(len(tenants), opts.Parallel, func(i int) {
		out[i] = m.migrateOne(ctx, cfgs, tenants[i], latest, opts.Check)
		if opts.Progress != nil {
			mu.Lock()
			opts.Progress(out[i])
			mu.Unlock()
		}
	})
	return out, nil
}

// MigrationStatus reports every tenant's schema version against the latest,
// without changing anything.
func (m *Manager) MigrationStatus(ctx context.Context) ([]MigrationState, error) {
	results, err := m.Migrate(ctx, MigrateOptions{Check: true})
	if err != nil {
		return nil, err
	}
	out := make([]MigrationState, len(results))
	for i, r := range results {
		out[i] = MigrationState{Subdomain: r.Subdomain, Current: r.From, Latest: r.Latest, Err: r.Err}
	}
	return out, nil
}

// LatestVersion is the version of the newest tenant migration.
func (m *Manager) LatestVersion() int64 {
	v, _ := latestVersion(m.prov.migrations) // checked by NewManager
	return v
}
