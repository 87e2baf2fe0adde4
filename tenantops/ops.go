// Package tenantops runs the operations on a tenant's database that take
// longer than a request: a consistent backup (pg_dump with a manifest of row
// counts from the same snapshot), a verified restore into a new database,
// and a move to another PostgreSQL server under maintenance mode. Jobs
// records them in the control plane so the admin API can start them and any
// appserver can report their progress.
//
// The operations shell out to pg_dump and pg_restore from PATH. Passwords
// are passed to them through PGPASSWORD, never on the command line, and no
// error or result of this package contains one.
package tenantops

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// Defaults of Config.
const (
	// DefaultDrain is how long a move waits after setting maintenance, so
	// that every appserver has seen it (invalidation arrives within a
	// second) and requests already under way have finished.
	DefaultDrain = 2 * time.Second
	// DefaultQuietTimeout bounds the wait, after the drain, for the tenant
	// database to have no transaction open by anyone else.
	DefaultQuietTimeout = 15 * time.Second
	// maxSwitchRetries is how often a switch re-reads a tenant changed
	// concurrently (a rename, a new limit) before giving up.
	maxSwitchRetries = 3
	// undoTimeout bounds the clean-up after a failure, which runs even when
	// the caller's context is done.
	undoTimeout = 30 * time.Second
)

// TenantStore reads and writes tenants; *tenantstore.Store implements it.
// Its Update must tell caches about the change (the Store's Notifier), so
// that appservers reopen their pools on the new database.
type TenantStore interface {
	GetBySubdomain(ctx context.Context, sub string) (*tenantstore.Tenant, error)
	Update(ctx context.Context, t *tenantstore.Tenant) error
}

// ServerDirectory finds the registered database servers;
// *tenantstore.Store implements it.
type ServerDirectory interface {
	Server(ctx context.Context, name string) (*tenantstore.Server, error)
	Accepts(ctx context.Context, field string, srv *tenantstore.Server) error
	ServerAdminURL(ctx context.Context, dsn tenantstore.DSNConfig, t *tenantstore.Tenant, database string) (string, error)
}

// Config configures Ops. Store and DSN are required.
type Config struct {
	Store TenantStore
	// DSN resolves tenant database URLs, the same DSNConfig the Manager
	// uses; backups and restores of template-placed tenants connect with
	// its template (provisioning) credentials.
	DSN tenantstore.DSNConfig
	// Drain is how long a move waits in maintenance before copying.
	// Default DefaultDrain.
	Drain time.Duration
	// QuietTimeout bounds the wait for open transactions after the drain;
	// a move fails (and rolls back) when the database is still busy.
	// Default DefaultQuietTimeout.
	QuietTimeout time.Duration
	// PgDump and PgRestore are the programs to run; "" looks up pg_dump and
	// pg_restore on PATH.
	PgDump, PgRestore string
	// TempDir receives the temporary dump of a move; "" means os.TempDir().
	TempDir string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Servers finds registered database servers, for MoveToServer and for
	// the operator credentials of a tenant's server; nil refuses
	// MoveToServer and administers every server with the template's
	// credentials.
	Servers ServerDirectory
	// ManifestKeys sign (the first) and verify (all) backup manifests; see
	// ManifestKeys. Backup and Restore refuse to run without them
	// (ErrNoManifestKey); Move does not need them.
	ManifestKeys [][]byte
}

// Ops runs backups, restores and moves. It is safe for concurrent use, but
// callers should run one operation per tenant at a time (Jobs ensures it).
type Ops struct {
	cfg Config
}

// New checks cfg and returns an Ops.
func New(cfg Config) (*Ops, error) {
	if cfg.Store == nil {
		return nil, errors.New("tenantops: Config.Store is required")
	}
	if cfg.Drain <= 0 {
		cfg.Drain = DefaultDrain
	}
	if cfg.QuietTimeout <= 0 {
		cfg.QuietTimeout = DefaultQuietTimeout
	}
	if cfg.PgDump == "" {
		cfg.PgDump = "pg_dump"
	}
	if cfg.PgRestore == "" {
		cfg.PgRestore = "pg_restore"
	}
	if cfg.TempDir == "" {
		cfg.TempDir = os.TempDir()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Ops{cfg: cfg}, nil
}

func (o *Ops) getenv(k string) string {
	if o.cfg.DSN.Getenv == nil {
		return os.Getenv(k)
	}
	return o.cfg.DSN.Getenv(k)
}

// overridden reports whether t's database URL comes from
// TENANT_<SUB>_DATABASE_URL, which no operation can rewrite.
func (o *Ops) overridden(t *tenantstore.Tenant) bool {
	return o.getenv(tenantstore.OverrideVar(t.Subdomain)) != ""
}

// templatePlaced reports whether t's database lives on the template's
// server (and is reached with the template's credentials for maintenance).
func (o *Ops) templatePlaced(t *tenantstore.Tenant) bool {
	return t.Placement.Kind() == "template" && !o.overridden(t)
}

// adminURL is the URL to dump and inspect t's database with: the template's
// provisioning credentials for a template-placed tenant (its login role may
// not own everything a dump reads), the tenant's own URL otherwise.
func (o *Ops) adminURL(t *tenantstore.Tenant) (string, error) {
	if o.templatePlaced(t) {
		return o.cfg.DSN.AdminURL(t.DatabaseName)
	}
	return o.cfg.DSN.URL(t)
}

// ownRole reports whether t connects as its own login role: template
// placed, or placed by a URL without credentials (what a move or a restore
// leaves) and a role.
func (o *Ops) ownRole(t *tenantstore.Tenant) bool {
	if o.templatePlaced(t) {
		return true
	}
	if t.Placement.Kind() != "url" || t.Placement.RoleName == "" || o.overridden(t) {
		return false
	}
	u, err := url.Parse(t.Placement.URL)
	return err == nil && u.User == nil
}

// serverAdminURL is the URL to create, restore and drop databases and roles
// on the server of t's database: for a tenant on its own role, the
// operator credentials of its registered server (the template's for
// DefaultServer, or for a server not registered: see
// DSNConfig.ServerAdminURL); the tenant's own URL for one placed with
// explicit credentials.
func (o *Ops) serverAdminURL(ctx context.Context, t *tenantstore.Tenant) (string, error) {
	if !o.ownRole(t) {
		return o.cfg.DSN.URL(t)
	}
	if o.cfg.Servers != nil {
		return o.cfg.Servers.ServerAdminURL(ctx, o.cfg.DSN, t, t.DatabaseName)
	}
	return o.cfg.DSN.ServerAdminURL(t, t.DatabaseName)
}

func (o *Ops) tenant(ctx context.Context, sub string) (*tenantstore.Tenant, error) {
	t, err := o.cfg.Store.GetBySubdomain(ctx, sub)
	if err != nil {
		return nil, fmt.Errorf("tenant %q: %w", sub, err)
	}
	if t.Status == tenantstore.StatusProvisioning {
		return nil, fmt.Errorf("tenant %q: %w", sub, &tenantstore.ConflictError{Field: "status", Message: "is provisioning; wait for the create to finish"})
	}
	return t, nil
}

// sameDatabase reports whether a and b still place the database alike, so
// that a switch prepared against a does not overwrite a concurrent change.
func sameDatabase(a, b *tenantstore.Tenant) bool {
	return a.ID == b.ID && a.DatabaseName == b.DatabaseName && a.Placement == b.Placement
}

// switchTenant re-reads the tenant, checks its database has not been changed
// by someone else since before (the tenant read when the operation began),
// applies change and stores it; a concurrent edit of another field is
// retried. The Store's Notifier then invalidates every cache.
func (o *Ops) switchTenant(ctx context.Context, before *tenantstore.Tenant, change func(t *tenantstore.Tenant)) (*tenantstore.Tenant, error) {
	for attempt := 0; ; attempt++ {
		t, err := o.cfg.Store.GetBySubdomain(ctx, before.Subdomain)
		if err != nil {
			return nil, fmt.Errorf("switching tenant %q: %w", before.Subdomain, err)
		}
		if !sameDatabase(before, t) {
			return nil, fmt.Errorf("switching tenant %q: %w", before.Subdomain,
				&tenantstore.ConflictError{Field: "database", Message: "was changed by someone else during the operation"})
		}
		change(t)
		err = o.cfg.Store.Update(ctx, t)
		if errors.Is(err, tenantstore.ErrStaleVersion) && attempt < maxSwitchRetries {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("switching tenant %q: %w", before.Subdomain, err)
		}
		return t, nil
	}
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func report(progress func(string), step string) {
	if progress != nil {
		progress(step)
	}
}
