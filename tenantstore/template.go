package tenantstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"sort"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// templateReady is the comment set on a template database once it is fully
// built; a template database without it is a crashed build and is rebuilt.
const templateReady = "tenantgate template: ready"

// migrationsHash is a short hash of every file of fsys, so a template
// database is rebuilt whenever the tenant migrations change.
func migrationsHash(fsys fs.FS) (string, error) {
	var names []string
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, path)
		}
		return err
	})
	if err != nil {
		return "", fmt.Errorf("hashing tenant migrations: %w", err)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return "", fmt.Errorf("hashing tenant migrations: %w", err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:10], nil
}

// ensureTemplate returns the name of the pre-migrated template database of
// the current tenant migrations, building it first when it is missing or
// unfinished. Concurrent callers (in any process) serialise on an advisory
// lock; the template's schema objects belong to a NOLOGIN role of the same
// name, which each copy reassigns to its tenant's role. Templates of older
// migrations are dropped.
func (p *provisioner) ensureTemplate(ctx context.Context, admin *pgxpool.Pool) (string, error) {
	hash, err := migrationsHash(p.migrations)
	if err != nil {
		return "", err
	}
	name := DatabaseName(p.prefix, "template-"+hash)
	if ready, err := templateIsReady(ctx, admin, name); err != nil || ready {
		return name, err
	}
	conn, err := admin.Acquire(ctx)
	if err != nil {
		return "", fmt.Errorf("building template database: %w", translate(err))
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(hashtext($1))", name); err != nil {
		return "", fmt.Errorf("building template database: locking: %w", translate(err))
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(hashtext($1))", name)
	// Re-check on the locked connection: waiting creators may hold every
	// other connection of the pool.
	if ready, err := templateIsReady(ctx, conn, name); err != nil || ready {
		return name, err // another creator built it while we waited
	}
	if err := p.buildTemplate(ctx, conn.Conn(), name); err != nil {
		return "", fmt.Errorf("building template database %s: %w", name, err)
	}
	p.dropOldTemplates(ctx, conn.Conn(), name)
	return name, nil
}

// queryRower is a pool or one of its connections.
type queryRower interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func templateIsReady(ctx context.Context, q queryRower, name string) (bool, error) {
	var ready bool
	err := q.QueryRow(ctx, `SELECT coalesce(shobj_description(oid, 'pg_database'), '') = $2
		FROM pg_database WHERE datname = $1`, name, templateReady).Scan(&ready)
	if err != nil && err != pgx.ErrNoRows {
		return false, fmt.Errorf("looking for template database %s: %w", name, translate(err))
	}
	return ready, nil
}

func (p *provisioner) buildTemplate(ctx context.Context, conn *pgx.Conn, name string) error {
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("dropping an unfinished build: %w", err)
	}
	var roleExists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", name).Scan(&roleExists); err != nil {
		return err
	}
	if !roleExists {
		if _, err := conn.Exec(ctx, "CREATE ROLE "+ident+" NOLOGIN"); err != nil {
			return fmt.Errorf("creating template role: %w", err)
		}
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return fmt.Errorf("creating: %w", err)
	}
	if _, err := conn.Exec(ctx, "REVOKE ALL ON DATABASE "+ident+" FROM PUBLIC"); err != nil {
		return fmt.Errorf("revoking public access: %w", err)
	}
	cfg, err := p.adminConfig(name)
	if err != nil {
		return err
	}
	tc, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connecting: %w", translate(err))
	}
	defer tc.Close(context.WithoutCancel(ctx))
	// The template role may create objects in public only while migrating,
	// so no copy keeps a privilege naming it.
	if _, err := tc.Exec(ctx, "GRANT CREATE ON SCHEMA public TO "+ident); err != nil {
		return fmt.Errorf("granting create: %w", err)
	}
	setRole := func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, "SET ROLE "+ident)
		return err
	}
	if err := migrateUp(ctx, cfg, p.migrations, setRole); err != nil {
		return fmt.Errorf("applying tenant migrations: %w", err)
	}
	if _, err := tc.Exec(ctx, "REVOKE CREATE ON SCHEMA public FROM "+ident); err != nil {
		return fmt.Errorf("revoking create: %w", err)
	}
	if err := tc.Close(ctx); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "COMMENT ON DATABASE "+ident+" IS "+quoteLiteral(templateReady)); err != nil {
		return fmt.Errorf("marking ready: %w", err)
	}
	return nil
}

// dropOldTemplates drops the template databases of earlier migrations. A
// failure (a copy still running) is left for the next rebuild.
func (p *provisioner) dropOldTemplates(ctx context.Context, conn *pgx.Conn, current string) {
	rows, err := conn.Query(ctx, `SELECT datname FROM pg_database
		WHERE starts_with(datname, $1) AND datname <> $2 AND shobj_description(oid, 'pg_database') = $3`,
		p.prefix+"template_", current, templateReady)
	if err != nil {
		return
	}
	old, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return
	}
	for _, n := range old {
		ident := pgx.Identifier{n}.Sanitize()
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err == nil {
			_, _ = conn.Exec(ctx, "DROP ROLE IF EXISTS "+ident)
		}
	}
}
