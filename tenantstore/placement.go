package tenantstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ensureExplicitDatabase creates the database named in rawURL on its server
// (connecting to that server's "postgres" database with the URL's
// credentials) when it does not exist, and reports whether it did.
func ensureExplicitDatabase(ctx context.Context, rawURL string) (bool, error) {
	cfg, err := parseConfig(rawURL)
	if err != nil {
		return false, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		return false, conn.Close(ctx)
	}
	if !isCode(err, "3D000") {
		return false, fmt.Errorf("connecting: %w", translate(err))
	}
	admin := cfg.Copy()
	admin.Database = "postgres"
	conn, err = pgx.ConnectConfig(ctx, admin)
	if err != nil {
		return false, fmt.Errorf("connecting to the server's postgres database: %w", translate(err))
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{cfg.Database}.Sanitize()); err != nil {
		return false, translate(err)
	}
	return true, nil
}

func dropExplicitDatabase(ctx context.Context, rawURL string) error {
	cfg, err := parseConfig(rawURL)
	if err != nil {
		return err
	}
	name := cfg.Database
	cfg.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("dropping database %q: connecting: %w", name, translate(err))
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("dropping database %q: %w", name, translate(err))
	}
	return nil
}

// place fills t's DatabaseName and, for the template placement, its login
// role: the role has the database's name (a free one, see freeName) and a
// random password. Parts without a name get the derived one; an explicit URL
// (or override) names the database itself.
func (p *provisioner) place(ctx context.Context, t *Tenant) error {
	if !p.explicit(t) {
		name, err := p.freeName(ctx, t)
		if err != nil {
			return err
		}
		t.DatabaseName = name
		t.Placement.RoleName = name
		t.Placement.RolePassword = randomToken(24)
		t.DatabaseOwned = true
		return nil
	}
	if t.Placement.Kind() == "parts" {
		if t.DatabaseName == "" {
			t.DatabaseName = DatabaseName(p.prefix, t.Subdomain)
		}
		return nil
	}
	u, err := p.dsn.URL(t)
	if err != nil {
		return err
	}
	cfg, err := parseConfig(u)
	if err != nil {
		return &ValidationError{Field: "database_url", Message: "is not a valid PostgreSQL URL"}
	}
	if cfg.Database == "" {
		return &ValidationError{Field: "database_url", Message: "must name a database"}
	}
	t.DatabaseName = cfg.Database
	return nil
}
