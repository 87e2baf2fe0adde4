package tenantstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// rolePasswordBytes is the size of a login role's random password (hex
// encoded, twice as many characters).
const rolePasswordBytes = 24

// CreateLoginRole creates, through conn (a connection to any database of a
// server, as a user that may create roles), a login role for one tenant to
// connect as, with a fresh random password: named base when that name is
// free, otherwise base with a short random suffix. It returns the name and
// the password. Provisioning, move and restore all make tenant roles here.
func CreateLoginRole(ctx context.Context, conn *pgx.Conn, base string) (name, password string, err error) {
	password = randomToken(rolePasswordBytes)
	for attempt := 0; attempt < 5; attempt++ {
		name = base
		if attempt > 0 {
			name = DatabaseName("", base+"_"+randomToken(4))
		}
		var taken bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", name).Scan(&taken); err != nil {
			return "", "", fmt.Errorf("creating the tenant's role: %w", translate(err))
		}
		if taken {
			continue
		}
		// CREATE ROLE takes no parameters; the password is a quoted literal
		// and never appears in an error (PostgreSQL does not echo it).
		if _, err := conn.Exec(ctx, "CREATE ROLE "+pgx.Identifier{name}.Sanitize()+" LOGIN PASSWORD "+quoteLiteral(password)); err != nil {
			return "", "", fmt.Errorf("creating role %q: %w", name, translate(err))
		}
		return name, password, nil
	}
	return "", "", fmt.Errorf("creating the tenant's role: no free name after %s", name)
}

// connectServer connects with the credentials of rawURL to its database or,
// when that does not exist yet, to the server's "postgres" database.
func connectServer(ctx context.Context, rawURL string) (*pgx.Conn, error) {
	cfg, err := parseConfig(rawURL)
	if err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		return conn, nil
	}
	if !isCode(err, "3D000") {
		return nil, fmt.Errorf("connecting: %w", translate(err))
	}
	cfg.Database = "postgres"
	if conn, err = pgx.ConnectConfig(ctx, cfg); err != nil {
		return nil, fmt.Errorf("connecting to the server's postgres database: %w", translate(err))
	}
	return conn, nil
}

// mayCreateRoles reports whether the user of rawURL is a superuser or may
// create roles on its server: then the URL holds operator credentials,
// which no tenant may run with (SPEC §9).
func mayCreateRoles(ctx context.Context, rawURL string) (bool, error) {
	conn, err := connectServer(ctx, rawURL)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user").Scan(&ok); err != nil {
		return false, fmt.Errorf("reading the privileges of the URL's user: %w", translate(err))
	}
	return ok, nil
}

// dropRoleWith drops role on the server of rawURL with rawURL's
// credentials.
func dropRoleWith(ctx context.Context, rawURL, role string) error {
	conn, err := connectServer(ctx, rawURL)
	if err != nil {
		return fmt.Errorf("dropping role %q: %w", role, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{role}.Sanitize()); err != nil {
		return fmt.Errorf("dropping role %q: %w", role, translate(err))
	}
	return nil
}
