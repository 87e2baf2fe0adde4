package tenantops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// maxStderr bounds how much of a tool's error output goes into an error.
const maxStderr = 2000

// lookTool finds a PostgreSQL client program, or says how to get it.
func lookTool(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s not found on PATH: install the PostgreSQL client programs (Debian: apt-get install postgresql-client) or add their directory to PATH", name)
	}
	return p, nil
}

// toolConn splits a connection URL for a client program: the URL without
// its password (for --dbname, visible in ps) and the environment carrying
// the password as PGPASSWORD.
func toolConn(rawURL string) (dbname string, env []string, err error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", nil, fmt.Errorf("database URL %s is not a postgres:// URL", tenantstore.RedactURL(rawURL))
	}
	env = os.Environ()
	if u.User != nil {
		if pw, ok := u.User.Password(); ok {
			env = append(env, "PGPASSWORD="+pw)
			u.User = url.User(u.User.Username())
		}
	}
	return u.String(), env, nil
}

// runTool runs a client program against the database at rawURL with args;
// stdout goes to out (discarded when nil). A failure carries the end of the
// program's error output.
func runTool(ctx context.Context, prog, rawURL string, out io.Writer, args ...string) error {
	var env []string
	if rawURL != "" {
		dbname, e, err := toolConn(rawURL)
		if err != nil {
			return err
		}
		env = e
		args = append([]string{"--dbname=" + dbname, "--no-password"}, args...)
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Env = env
	cmd.Stdout = out
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > maxStderr {
			msg = "…" + msg[len(msg)-maxStderr:]
		}
		if msg == "" {
			return fmt.Errorf("%s: %w", prog, err)
		}
		return fmt.Errorf("%s: %w: %s", prog, err, msg)
	}
	return nil
}

// withDatabase returns rawURL naming database instead of its own.
func withDatabase(rawURL, database string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("database URL %s is not a URL", tenantstore.RedactURL(rawURL))
	}
	u.Path, u.RawPath = "/"+database, ""
	return u.String(), nil
}

// databaseOf returns the database named in rawURL.
func databaseOf(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("database URL %s is not a URL", tenantstore.RedactURL(rawURL))
	}
	return strings.TrimPrefix(u.Path, "/"), nil
}

// connect opens one connection, with errors free of passwords.
func connect(ctx context.Context, rawURL string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parsing database URL %s: not a valid URL", tenantstore.RedactURL(rawURL))
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to database %q on %s: %w", cfg.Database, hostOf(cfg), connectErr(err))
	}
	return conn, nil
}

func hostOf(cfg *pgx.ConnConfig) string {
	return fmt.Sprintf("%s:%d", cfg.Host, cfg.Port)
}

// connectErr keeps a PostgreSQL error as it is (it never echoes a password)
// and reduces anything else to its message without the connection string.
func connectErr(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) && ce.Unwrap() != nil {
		return ce.Unwrap()
	}
	return errors.New(tenantstore.RedactURL(err.Error()))
}

// serverDB manages databases on one server through its maintenance
// database, with the credentials of adminURL.
type serverDB struct {
	adminURL string // any database on the server; "postgres" is used
}

func (s serverDB) exec(ctx context.Context, sqls ...string) error {
	u, err := withDatabase(s.adminURL, "postgres")
	if err != nil {
		return err
	}
	conn, err := connect(ctx, u)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, q := range sqls {
		if _, err := conn.Exec(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

func (s serverDB) exists(ctx context.Context, name string) (bool, error) {
	u, err := withDatabase(s.adminURL, "postgres")
	if err != nil {
		return false, err
	}
	conn, err := connect(ctx, u)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var ok bool
	err = conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&ok)
	return ok, err
}

// create creates database name, owned by role when role is not empty, and
// connectable only by that role (and superusers). It refuses a name that
// exists: nothing is ever overwritten.
func (s serverDB) create(ctx context.Context, name, role string) error {
	ok, err := s.exists(ctx, name)
	if err != nil {
		return fmt.Errorf("creating database %q: %w", name, err)
	}
	if ok {
		return fmt.Errorf("creating database %q: %w", name, &tenantstore.ConflictError{Field: "database",
			Message: fmt.Sprintf("%q already exists on that server; refusing to overwrite it (drop it or choose another name)", name)})
	}
	db := pgx.Identifier{name}.Sanitize()
	stmts := []string{"CREATE DATABASE " + db}
	if role != "" {
		r := pgx.Identifier{role}.Sanitize()
		stmts = []string{"CREATE DATABASE " + db + " OWNER " + r,
			"REVOKE ALL ON DATABASE " + db + " FROM PUBLIC",
			"GRANT CONNECT, TEMPORARY ON DATABASE " + db + " TO " + r}
	}
	if err := s.exec(ctx, stmts...); err != nil {
		return fmt.Errorf("creating database %q: %w", name, err)
	}
	return nil
}

// drop drops database name, closing its connections.
func (s serverDB) drop(ctx context.Context, name string) error {
	if err := s.exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("dropping database %q: %w", name, err)
	}
	return nil
}

// createRole creates a login role on the server for a tenant to connect
// as, with a fresh random password (see tenantstore.CreateLoginRole, which
// provisioning uses too): named base when that name is free, otherwise base
// with a short random suffix. It returns the name and the password.
func (s serverDB) createRole(ctx context.Context, base string) (name, password string, err error) {
	u, err := withDatabase(s.adminURL, "postgres")
	if err != nil {
		return "", "", err
	}
	conn, err := connect(ctx, u)
	if err != nil {
		return "", "", err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	name, password, err = tenantstore.CreateLoginRole(ctx, conn, base)
	if err != nil {
		return "", "", err
	}
	// An operator with CREATEROLE but not superuser (what servers add
	// accepts) may give a database to a role only when it is a member.
	_, err = conn.Exec(ctx, `DO $$ BEGIN
		IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
			EXECUTE format('GRANT %I TO CURRENT_USER', `+quoteLiteral(name)+`);
		END IF; END $$`)
	if err != nil {
		_ = s.dropRole(context.WithoutCancel(ctx), name)
		return "", "", fmt.Errorf("joining role %q to give it the database: %w", name, err)
	}
	return name, password, nil
}

// quoteLiteral quotes s as an SQL string literal.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// dropRole drops role name.
func (s serverDB) dropRole(ctx context.Context, name string) error {
	if err := s.exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("dropping role %q: %w", name, err)
	}
	return nil
}
