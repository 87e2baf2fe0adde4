package tenantstore

import (
	"context"
	"fmt"
	"io/fs"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/crypto/bcrypt"
)

// Provisioning steps, in order; a failure after any of them undoes every
// earlier one. Tests inject failures by name through provisioner.failAfter.
const (
	stepInsert     = "insert"     // the tenant row, status provisioning
	stepRole       = "role"       // the login role (template placement only)
	stepDatabase   = "database"   // the database, copied from the template when there is one
	stepPrivileges = "privileges" // CONNECT for the role only; objects owned by the role
	stepMigrate    = "migrate"    // tenant migrations up to the latest
	stepAdminUser  = "admin_user" // the first admin user
	stepActivate   = "activate"   // status active
)

// undoTimeout bounds the clean-up of a failed create, which runs even when
// the caller's context is done.
const undoTimeout = 30 * time.Second

// provisioner creates and drops tenant databases and their login roles.
type provisioner struct {
	store      *Store
	dsn        DSNConfig
	prefix     string
	adminDB    string // maintenance database on the template's server, e.g. "postgres"
	migrations fs.FS
	bcryptCost int
	// failAfter, when set (tests only), is called after each step and
	// fails the create with its error.
	failAfter func(step string) error

	mu    sync.Mutex
	admin *pgxpool.Pool
}

func (p *provisioner) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.admin != nil {
		p.admin.Close()
		p.admin = nil
	}
}

// adminPool returns a pool of connections to the maintenance database of the
// template's server, as the template's (provisioning) user.
func (p *provisioner) adminPool(ctx context.Context) (*pgxpool.Pool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.admin != nil {
		return p.admin, nil
	}
	u, err := p.dsn.AdminURL(p.adminDB)
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(u)
	if err != nil {
		return nil, fmt.Errorf("parsing tenant database template: %w", redactErr(err))
	}
	cfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to the tenant database server: %w", translate(err))
	}
	p.admin = pool
	return pool, nil
}

func (p *provisioner) adminConfig(database string) (*pgx.ConnConfig, error) {
	u, err := p.dsn.AdminURL(database)
	if err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(u)
	if err != nil {
		return nil, fmt.Errorf("parsing tenant database template: %w", redactErr(err))
	}
	return cfg, nil
}

// explicit reports whether t's database is placed explicitly (a URL, parts,
// or a TENANT_<SUB>_DATABASE_URL override) rather than by the template.
func (p *provisioner) explicit(t *Tenant) bool {
	return t.Placement.Kind() != "template" || p.dsn.getenv(OverrideVar(t.Subdomain)) != ""
}

// create provisions t, which has passed validation and carries its
// DatabaseName (and, for the template placement, RoleName/RolePassword):
// insert as provisioning → role → database → privileges → migrations →
// first admin user → active. Any failure undoes every earlier step, even
// when ctx is cancelled.
//
// With an explicit placement and operator (the URL that claim found to hold
// the credentials of a user who may create roles), the tenant gets its own
// login role on that server, owner of the database (see createOwned).
// Otherwise the database named in its URL is created on that server with
// the URL's credentials when it does not exist (and dropped again on
// failure only then; t.DatabaseOwned records it); no role is created. An
// existing database that holds tables is refused with ErrDatabaseInUse
// unless adopt.
func (p *provisioner) create(ctx context.Context, t *Tenant, operator, adminPassword string, adopt bool) (err error) {
	var undo []func(context.Context) error
	defer func() {
		if err == nil {
			return
		}
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
		defer cancel()
		for i := len(undo) - 1; i >= 0; i-- {
			if uerr := undo[i](uctx); uerr != nil {
				err = fmt.Errorf("%w (undoing an earlier step also failed: %v; drop database %q and role %q by hand)",
					err, uerr, t.DatabaseName, t.Placement.RoleName)
			}
		}
	}()
	after := func(step string) error {
		if p.failAfter != nil {
			if err := p.failAfter(step); err != nil {
				return fmt.Errorf("after step %s: %w", step, err)
			}
		}
		return nil
	}
	// bcrypt is deliberately slow; hash while PostgreSQL copies the database.
	hashc := make(chan []byte, 1)
	errc := make(chan error, 1)
	go func() {
		h, err := bcrypt.GenerateFromPassword([]byte(adminPassword), p.bcryptCost)
		hashc <- h
		errc <- err
	}()

	if err := p.store.Insert(ctx, t); err != nil {
		return err
	}
	undo = append(undo, func(ctx context.Context) error { return p.store.Delete(ctx, t.ID) })
	if err := after(stepInsert); err != nil {
		return err
	}

	var tenantURL string
	if operator != "" {
		if err := p.createOwned(ctx, t, operator, adopt, &undo, after); err != nil {
			return err
		}
		if tenantURL, err = p.dsn.URL(t); err != nil {
			return err
		}
	} else if p.explicit(t) {
		if tenantURL, err = p.dsn.URL(t); err != nil {
			return err
		}
		created, err := ensureExplicitDatabase(ctx, tenantURL)
		if created {
			undo = append(undo, func(ctx context.Context) error { return dropExplicitDatabase(ctx, tenantURL) })
		}
		if err != nil {
			return fmt.Errorf("creating database %q: %w", t.DatabaseName, err)
		}
		t.DatabaseOwned = created
		if !created && !adopt {
			full, err := holdsData(ctx, tenantURL)
			if err != nil {
				return fmt.Errorf("looking into the existing database %q: %w", t.DatabaseName, err)
			}
			if full {
				return databaseInUse("database_url", "names the existing database %q, which already holds tables; to attach the tenant to it anyway, ask to adopt it (tenantctl create --adopt-existing, \"adopt_existing\": true)", t.DatabaseName)
			}
		}
		if err := after(stepDatabase); err != nil {
			return err
		}
		cfg, err := parseConfig(tenantURL)
		if err != nil {
			return err
		}
		if err := migrateUp(ctx, cfg, p.migrations, nil); err != nil {
			return fmt.Errorf("migrating database %q: %w", t.DatabaseName, err)
		}
	} else {
		if err := p.createPlaced(ctx, t, &undo, after); err != nil {
			return err
		}
		if tenantURL, err = p.dsn.URL(t); err != nil {
			return err
		}
	}
	if err := after(stepMigrate); err != nil {
		return err
	}

	if err := <-errc; err != nil {
		return fmt.Errorf("hashing the admin password: %w", err)
	}
	if err := insertAdminUser(ctx, tenantURL, t.AdminEmail, <-hashc); err != nil {
		return err
	}
	if err := after(stepAdminUser); err != nil {
		return err
	}

	t.Status = StatusActive
	if err := after(stepActivate); err != nil {
		return err
	}
	if err := p.store.Update(ctx, t); err != nil {
		return fmt.Errorf("activating: %w", err)
	}
	return nil
}

// createPlaced creates the login role and the database on the template's
// server, copying the current template database.
func (p *provisioner) createPlaced(ctx context.Context, t *Tenant, undo *[]func(context.Context) error, after func(string) error) error {
	admin, err := p.adminPool(ctx)
	if err != nil {
		return err
	}
	tmpl, err := p.ensureTemplate(ctx, admin)
	if err != nil {
		return err
	}
	db, role := pgx.Identifier{t.DatabaseName}.Sanitize(), pgx.Identifier{t.Placement.RoleName}.Sanitize()
	if _, err := admin.Exec(ctx, "CREATE ROLE "+role+" LOGIN PASSWORD "+quoteLiteral(t.Placement.RolePassword)); err != nil {
		return fmt.Errorf("creating role %q: %w", t.Placement.RoleName, translate(err))
	}
	*undo = append(*undo, func(ctx context.Context) error { return p.dropRole(ctx, t.Placement.RoleName) })
	if err := after(stepRole); err != nil {
		return err
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+db+" TEMPLATE "+pgx.Identifier{tmpl}.Sanitize()+" OWNER "+role); err != nil {
		return fmt.Errorf("creating database %q: %w", t.DatabaseName, translate(err))
	}
	*undo = append(*undo, func(ctx context.Context) error { return p.dropDatabase(ctx, t.DatabaseName) })
	if err := after(stepDatabase); err != nil {
		return err
	}

	if _, err := admin.Exec(ctx, "REVOKE ALL ON DATABASE "+db+" FROM PUBLIC"); err != nil {
		return fmt.Errorf("revoking access to database %q: %w", t.DatabaseName, translate(err))
	}
	if _, err := admin.Exec(ctx, "GRANT CONNECT, TEMPORARY ON DATABASE "+db+" TO "+role); err != nil {
		return fmt.Errorf("granting access to database %q: %w", t.DatabaseName, translate(err))
	}
	cfg, err := p.adminConfig(t.DatabaseName)
	if err != nil {
		return err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connecting to database %q: %w", t.DatabaseName, translate(err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "REASSIGN OWNED BY "+pgx.Identifier{tmpl}.Sanitize()+" TO "+role); err != nil {
		return fmt.Errorf("giving the tables of database %q to its role: %w", t.DatabaseName, translate(err))
	}
	if err := after(stepPrivileges); err != nil {
		return err
	}

	current, err := schemaVersion(ctx, conn)
	if err != nil {
		return fmt.Errorf("reading the schema version of database %q: %w", t.DatabaseName, err)
	}
	latest, err := latestVersion(p.migrations)
	if err != nil {
		return err
	}
	if current < latest {
		u, err := p.dsn.URL(t)
		if err != nil {
			return err
		}
		cfg, err := parseConfig(u)
		if err != nil {
			return err
		}
		if err := migrateUp(ctx, cfg, p.migrations, nil); err != nil {
			return fmt.Errorf("migrating database %q: %w", t.DatabaseName, err)
		}
	}
	return nil
}

// drop drops t's database and, when it has one, its login role. A database
// reached as the tenant's role by a URL without credentials (after a move,
// or a create through an operator URL) is dropped, with its role, with the
// registered server's operator credentials; any other
// explicitly placed database on its own server with the credentials of its
// URL.
func (p *provisioner) drop(ctx context.Context, t *Tenant) error {
	if p.explicit(t) && t.Placement.Kind() == "url" && t.Placement.RoleName != "" && p.dsn.getenv(OverrideVar(t.Subdomain)) == "" {
		if u, err := url.Parse(t.Placement.URL); err == nil && u.User == nil {
			return p.dropOnServer(ctx, t)
		}
	}
	if p.explicit(t) {
		u, err := p.dsn.URL(t)
		if err != nil {
			return err
		}
		return dropExplicitDatabase(ctx, u)
	}
	if err := p.dropDatabase(ctx, t.DatabaseName); err != nil {
		return err
	}
	if t.Placement.RoleName != "" {
		return p.dropRole(ctx, t.Placement.RoleName)
	}
	return nil
}

// dropOnServer drops t's database and role on the server of its URL, as
// that server's registered operator (the template's user there when the
// server is not registered).
func (p *provisioner) dropOnServer(ctx context.Context, t *Tenant) error {
	u, err := serverAdminURL(ctx, servers{store: p.store}, p.dsn, t, p.adminDB)
	if err != nil {
		return err
	}
	cfg, err := parseConfig(u)
	if err != nil {
		return err
	}
	where := cfg.Host + ":" + strconv.Itoa(int(cfg.Port))
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("dropping database %q on %s: %w; drop it and role %q there by hand",
			t.DatabaseName, where, translate(err), t.Placement.RoleName)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{t.DatabaseName}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("dropping database %q on %s: %w", t.DatabaseName, where, translate(err))
	}
	if _, err := conn.Exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{t.Placement.RoleName}.Sanitize()); err != nil {
		return fmt.Errorf("dropping role %q on %s: %w", t.Placement.RoleName, where, translate(err))
	}
	return nil
}

func (p *provisioner) dropDatabase(ctx context.Context, name string) error {
	admin, err := p.adminPool(ctx)
	if err != nil {
		return err
	}
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("dropping database %q: %w", name, translate(err))
	}
	return nil
}

func (p *provisioner) dropRole(ctx context.Context, name string) error {
	admin, err := p.adminPool(ctx)
	if err != nil {
		return err
	}
	if _, err := admin.Exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("dropping role %q: %w", name, translate(err))
	}
	return nil
}

func insertAdminUser(ctx context.Context, tenantURL, email string, hash []byte) error {
	cfg, err := parseConfig(tenantURL)
	if err != nil {
		return err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connecting to create the admin user: %w", translate(err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "INSERT INTO users (email, name, password_hash, role) VALUES ($1, $2, $3, 'admin')",
		email, "Administrator", string(hash)); err != nil {
		return fmt.Errorf("creating the admin user: %w", translate(err))
	}
	return nil
}

// parseConfig parses a tenant database URL without echoing its password.
func parseConfig(u string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(u)
	if err != nil {
		return nil, fmt.Errorf("parsing database URL %s: %w", RedactURL(u), redactErr(err))
	}
	return cfg, nil
}

// quoteLiteral quotes s as an SQL string literal (standard_conforming_strings
// on), for the few statements that take no parameters (CREATE ROLE …
// PASSWORD, COMMENT).
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
