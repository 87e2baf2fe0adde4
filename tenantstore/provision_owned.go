package tenantstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// An explicit database URL whose user may create roles holds operator
// credentials: like a move, provisioning then uses it only to do the work
// and gives the tenant its own login role on that server (SPEC §9). A URL
// whose user may not is the tenant's own credentials and is stored as
// given.

// claim decides whose credentials the explicit database URL of t holds.
// When its user is a superuser or may create roles (checked on its
// server), t's placement becomes the URL without credentials and claim
// returns the URL, for create to make the tenant's role with; it is never
// stored. Otherwise, and for every other placement (parts, the template, a
// TENANT_<SUB>_DATABASE_URL override), it returns "" and changes nothing.
func (p *provisioner) claim(ctx context.Context, t *Tenant) (string, error) {
	if t.Placement.Kind() != "url" || p.dsn.getenv(OverrideVar(t.Subdomain)) != "" {
		return "", nil
	}
	operator := t.Placement.URL
	privileged, err := mayCreateRoles(ctx, operator)
	if err != nil {
		return "", fmt.Errorf("checking the privileges of the user of database_url: %w", err)
	}
	if !privileged {
		return "", nil
	}
	stored, err := WithoutCredentials(operator)
	if err != nil {
		return "", err
	}
	t.Placement = Placement{URL: stored}
	return operator, nil
}

// createOwned provisions t's database on the server of operator (a URL
// with the credentials of a user who may create roles) for t's own login
// role: role → database (created, owned by the role; or an existing one,
// given to the role) → privileges (CONNECT for the role only; an existing
// database's objects given to the role) → migrations, run as the role so
// that it owns what they create. Each step is pushed onto undo.
func (p *provisioner) createOwned(ctx context.Context, t *Tenant, operator string, adopt bool, undo *[]func(context.Context) error, after func(string) error) error {
	conn, err := connectAs(ctx, operator, "postgres")
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	role, password, err := CreateLoginRole(ctx, conn, DatabaseName("", t.DatabaseName))
	if err != nil {
		return err
	}
	t.Placement.RoleName, t.Placement.RolePassword = role, password
	*undo = append(*undo, func(ctx context.Context) error { return dropRoleWith(ctx, operator, role) })
	r := pgx.Identifier{role}.Sanitize()
	var super bool
	if err := conn.QueryRow(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super); err != nil {
		return fmt.Errorf("reading the privileges of the URL's user: %w", translate(err))
	}
	if !super {
		// A user with CREATEROLE only may give a database to a role it is
		// a member of.
		if _, err := conn.Exec(ctx, "GRANT "+r+" TO CURRENT_USER"); err != nil {
			return fmt.Errorf("joining role %q to give it the database: %w", role, translate(err))
		}
	}
	if err := after(stepRole); err != nil {
		return err
	}

	db := pgx.Identifier{t.DatabaseName}.Sanitize()
	var oldOwner string
	err = conn.QueryRow(ctx, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1", t.DatabaseName).Scan(&oldOwner)
	exists := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("looking for database %q: %w", t.DatabaseName, translate(err))
	}
	// grantees are the roles (and PUBLIC) other than the owner that hold a
	// privilege on an existing database: all lose it, and get it back on
	// undo.
	var grants [][2]string
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+db+" OWNER "+r); err != nil {
			return fmt.Errorf("creating database %q: %w", t.DatabaseName, translate(err))
		}
		t.DatabaseOwned = true
		*undo = append(*undo, func(ctx context.Context) error { return dropExplicitDatabase(ctx, operator) })
	} else {
		if !adopt {
			full, err := holdsData(ctx, operator)
			if err != nil {
				return fmt.Errorf("looking into the existing database %q: %w", t.DatabaseName, err)
			}
			if full {
				return databaseInUse("database_url", "names the existing database %q, which already holds tables; to attach the tenant to it anyway, ask to adopt it (tenantctl create --adopt-existing, \"adopt_existing\": true)", t.DatabaseName)
			}
		}
		rows, err := conn.Query(ctx, `SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END, a.privilege_type
			FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
			WHERE d.datname = $1 AND a.grantee <> d.datdba`, t.DatabaseName)
		if err == nil {
			grants, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) ([2]string, error) {
				var g [2]string
				return g, row.Scan(&g[0], &g[1])
			})
		}
		if err != nil {
			return fmt.Errorf("reading the privileges on database %q: %w", t.DatabaseName, translate(err))
		}
		if _, err := conn.Exec(ctx, "ALTER DATABASE "+db+" OWNER TO "+r); err != nil {
			return fmt.Errorf("giving database %q to its role: %w", t.DatabaseName, translate(err))
		}
		t.DatabaseOwned = false
		*undo = append(*undo, func(ctx context.Context) error {
			return giveBack(ctx, operator, t.DatabaseName, role, oldOwner, grants)
		})
	}
	if err := after(stepDatabase); err != nil {
		return err
	}

	revoke := []string{"PUBLIC"}
	for _, g := range grants {
		if g[0] != "PUBLIC" {
			revoke = append(revoke, g[0])
		}
	}
	if _, err := conn.Exec(ctx, "REVOKE ALL ON DATABASE "+db+" FROM "+strings.Join(revoke, ", ")); err != nil {
		return fmt.Errorf("revoking access to database %q: %w", t.DatabaseName, translate(err))
	}
	if _, err := conn.Exec(ctx, "GRANT CONNECT, TEMPORARY ON DATABASE "+db+" TO "+r); err != nil {
		return fmt.Errorf("granting access to database %q: %w", t.DatabaseName, translate(err))
	}
	if exists {
		reverts, err := giveObjects(ctx, operator, role)
		if len(reverts) > 0 {
			*undo = append(*undo, func(ctx context.Context) error { return takeObjectsBack(ctx, operator, reverts) })
		}
		if err != nil {
			return fmt.Errorf("giving the objects of database %q to its role: %w", t.DatabaseName, err)
		}
	}
	if err := after(stepPrivileges); err != nil {
		return err
	}

	u, err := p.dsn.URL(t)
	if err != nil {
		return err
	}
	cfg, err := parseConfig(u)
	if err != nil {
		return err
	}
	if err := migrateUp(ctx, cfg, p.migrations, nil); err != nil {
		return fmt.Errorf("migrating database %q as its role: %w", t.DatabaseName, err)
	}
	return nil
}

// connectAs connects to database on the server of rawURL with rawURL's
// credentials.
func connectAs(ctx context.Context, rawURL, database string) (*pgx.Conn, error) {
	cfg, err := parseConfig(rawURL)
	if err != nil {
		return nil, err
	}
	cfg.Database = database
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to database %q: %w", database, translate(err))
	}
	return conn, nil
}

// ownedObjects lists, in the current database, every schema, relation,
// routine and type outside PostgreSQL's own schemas that is not part of an
// extension (nor a sequence that belongs to a column, which follows its
// table), as the start of its ALTER … OWNER TO statement and its owner.
const ownedObjects = `
WITH s AS (
	SELECT oid, nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema'
), ext AS (
	SELECT classid, objid FROM pg_depend WHERE deptype = 'e'
)
SELECT format('ALTER SCHEMA %I OWNER TO ', s.nspname), n.nspowner::regrole::text
	FROM s JOIN pg_namespace n ON n.oid = s.oid
	WHERE n.nspowner <> 'pg_database_owner'::regrole
	AND NOT EXISTS (SELECT 1 FROM ext WHERE classid = 'pg_namespace'::regclass AND objid = n.oid)
UNION ALL
SELECT format('ALTER %s %I.%I OWNER TO ', CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
		WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, s.nspname, c.relname), c.relowner::regrole::text
	FROM pg_class c JOIN s ON s.oid = c.relnamespace
	WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
	AND NOT EXISTS (SELECT 1 FROM ext WHERE classid = 'pg_class'::regclass AND objid = c.oid)
	AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
		AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')))
UNION ALL
SELECT format('ALTER ROUTINE %s OWNER TO ', p.oid::regprocedure), p.proowner::regrole::text
	FROM pg_proc p JOIN s ON s.oid = p.pronamespace
	WHERE NOT EXISTS (SELECT 1 FROM ext WHERE classid = 'pg_proc'::regclass AND objid = p.oid)
UNION ALL
SELECT format('ALTER %s %I.%I OWNER TO ', CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, s.nspname, t.typname), t.typowner::regrole::text
	FROM pg_type t JOIN s ON s.oid = t.typnamespace
	WHERE t.typtype IN ('e', 'd', 'r', 'c')
	AND (t.typtype <> 'c' OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
	AND NOT EXISTS (SELECT 1 FROM ext WHERE classid = 'pg_type'::regclass AND objid = t.oid)`

// giveObjects makes role the owner of every object of the database at
// rawURL (see ownedObjects), connecting with rawURL's credentials, in one
// transaction. Object by object, not REASSIGN OWNED: that would also take
// from the URL's user everything it owns elsewhere on the server (other
// tenants' databases among them), and it refuses the bootstrap superuser.
// It returns the statements that give each object back to its owner.
func giveObjects(ctx context.Context, rawURL, role string) ([]string, error) {
	conn, err := connectServer(ctx, rawURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, ownedObjects)
	if err != nil {
		return nil, fmt.Errorf("listing objects: %w", translate(err))
	}
	objects, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) ([2]string, error) {
		var o [2]string
		return o, row.Scan(&o[0], &o[1])
	})
	if err != nil {
		return nil, fmt.Errorf("listing objects: %w", translate(err))
	}
	r := pgx.Identifier{role}.Sanitize()
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		for _, o := range objects {
			if _, err := tx.Exec(ctx, o[0]+r); err != nil {
				return fmt.Errorf("%s…: %w", o[0], translate(err))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	reverts := make([]string, 0, len(objects))
	for i := len(objects) - 1; i >= 0; i-- {
		reverts = append(reverts, objects[i][0]+objects[i][1])
	}
	return reverts, nil
}

// takeObjectsBack runs the statements giveObjects returned.
func takeObjectsBack(ctx context.Context, rawURL string, reverts []string) error {
	conn, err := connectServer(ctx, rawURL)
	if err != nil {
		return fmt.Errorf("giving objects back to their owners: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		for _, q := range reverts {
			if _, err := tx.Exec(ctx, q); err != nil {
				return fmt.Errorf("giving objects back to their owners: %w", translate(err))
			}
		}
		return nil
	})
}

// giveBack returns an existing database that createOwned gave to role to
// oldOwner, with what role created in it since (migrations), and gives the
// privileges in grants (grantee, privilege) back, so that role can be
// dropped.
func giveBack(ctx context.Context, rawURL, database, role, oldOwner string, grants [][2]string) error {
	conn, err := connectServer(ctx, rawURL)
	if err != nil {
		return fmt.Errorf("giving database %q back to %s: %w", database, oldOwner, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	r, old, db := pgx.Identifier{role}.Sanitize(), pgx.Identifier{oldOwner}.Sanitize(), pgx.Identifier{database}.Sanitize()
	// REASSIGN OWNED BY the new role is safe: it owns nothing outside this
	// database but the database itself.
	stmts := []string{"REASSIGN OWNED BY " + r + " TO " + old, "DROP OWNED BY " + r}
	for _, g := range grants {
		stmts = append(stmts, "GRANT "+g[1]+" ON DATABASE "+db+" TO "+g[0])
	}
	for _, q := range stmts {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("giving database %q back to %s: %w", database, oldOwner, translate(err))
		}
	}
	return nil
}
