package tenantstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/tenantgate/tenantgate/migrations"
)

// notifyTimeout bounds how long a committed change waits for the Notifier.
const notifyTimeout = 2 * time.Second

// Store is the control-plane store: tenants, their custom domains and their
// locations in PostgreSQL. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool

	mu          sync.RWMutex
	notifier    Notifier
	onNotifyErr func(Change, error)
	onAuditErr  func(action string, err error)
	closeOnce   sync.Once
}

// Open connects to the control-plane database at databaseURL, creating the
// database when it does not exist (through the server's "postgres"
// database, with the same credentials), and applies the control-plane
// migrations.
//
// Migrations are applied with goose v3's Provider API: it takes the embedded
// fs.FS and a *sql.DB (pgx's stdlib driver) with no global state, runs each
// SQL migration in its own transaction, and serialises concurrent processes
// with a PostgreSQL advisory lock, so several binaries may call Open at once.
func Open(ctx context.Context, databaseURL string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("opening control plane: parsing DATABASE_URL (%s): %w", RedactURL(databaseURL), redactErr(err))
	}
	if err := ensureDatabase(ctx, cfg.ConnConfig); err != nil {
		return nil, fmt.Errorf("opening control plane %q: %w", cfg.ConnConfig.Database, err)
	}
	if err := migrateUp(ctx, cfg.ConnConfig, migrations.Control(), nil); err != nil {
		return nil, fmt.Errorf("opening control plane %q: applying control migrations: %w", cfg.ConnConfig.Database, err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("opening control plane %q: %w", cfg.ConnConfig.Database, err)
	}
	return &Store{pool: pool}, nil
}

// Close closes the store's connections. It is idempotent.
func (s *Store) Close() {
	s.closeOnce.Do(s.pool.Close)
}

// Ping checks that the control-plane database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("pinging control plane: %w", translate(err))
	}
	return nil
}

// SetNotifier sets the Notifier told after every committed change; nil stops
// notifications.
func (s *Store) SetNotifier(n Notifier) {
	s.mu.Lock()
	s.notifier = n
	s.mu.Unlock()
}

// SetNotifyErrorHandler sets a function called when the Notifier fails. The
// change itself is committed by then; caches catch up when their entries
// expire. Binaries use it to log; by default such errors are dropped.
func (s *Store) SetNotifyErrorHandler(fn func(Change, error)) {
	s.mu.Lock()
	s.onNotifyErr = fn
	s.mu.Unlock()
}

// notify tells the Notifier about a committed change, even when ctx has been
// cancelled since the commit.
func (s *Store) notify(ctx context.Context, c Change) {
	s.mu.RLock()
	n, onErr := s.notifier, s.onNotifyErr
	s.mu.RUnlock()
	if n == nil {
		return
	}
	c.Subdomains = compact(c.Subdomains)
	c.Hostnames = compact(c.Hostnames)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), notifyTimeout)
	defer cancel()
	if err := n.Notify(ctx, c); err != nil && onErr != nil {
		onErr(c, err)
	}
}

func compact(in []string) []string {
	var out []string
	for _, v := range in {
		if v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// ensureDatabase creates cfg's database when connecting to it fails with
// "database does not exist".
func ensureDatabase(ctx context.Context, cfg *pgx.ConnConfig) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		return conn.Close(ctx)
	}
	if !isCode(err, "3D000") { // invalid_catalog_name
		return fmt.Errorf("connecting: %w", translate(err))
	}
	admin := cfg.Copy()
	admin.Database = "postgres"
	conn, err = pgx.ConnectConfig(ctx, admin)
	if err != nil {
		return fmt.Errorf("connecting to the server's postgres database to create it: %w", translate(err))
	}
	defer conn.Close(ctx)
	ident := pgx.Identifier{cfg.Database}.Sanitize()
	// duplicate_database, or a unique violation in pg_database: a
	// concurrent Open created it first.
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		if isCode(err, "42P04") || isCode(err, "23505") {
			return nil
		}
		return fmt.Errorf("creating database: %w", err)
	}
	// Tenant login roles must not connect to the control plane.
	if _, err := conn.Exec(ctx, "REVOKE CONNECT, TEMPORARY ON DATABASE "+ident+" FROM PUBLIC"); err != nil {
		return fmt.Errorf("revoking public access: %w", err)
	}
	return nil
}

// migrateUp applies every pending goose migration of fsys to the database of
// cfg, under a session advisory lock. afterConnect, when set, runs on every
// new connection (provisioning uses it to SET ROLE).
func migrateUp(ctx context.Context, cfg *pgx.ConnConfig, fsys fs.FS, afterConnect func(context.Context, *pgx.Conn) error) error {
	p, db, err := newProvider(cfg, fsys, true, afterConnect)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := p.Up(ctx); err != nil {
		return translate(err)
	}
	return nil
}

func newProvider(cfg *pgx.ConnConfig, fsys fs.FS, locked bool, afterConnect func(context.Context, *pgx.Conn) error) (*goose.Provider, *sql.DB, error) {
	var opts []stdlib.OptionOpenDB
	if afterConnect != nil {
		opts = append(opts, stdlib.OptionAfterConnect(afterConnect))
	}
	db := stdlib.OpenDB(*cfg, opts...)
	db.SetMaxOpenConns(2)
	var popts []goose.ProviderOption
	if locked {
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
		if err != nil {
			db.Close()
			return nil, nil, fmt.Errorf("creating migration lock: %w", err)
		}
		popts = append(popts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys, popts...)
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("reading migrations: %w", err)
	}
	return p, db, nil
}

// isCode reports whether err is a PostgreSQL error with SQLSTATE code.
func isCode(err error, code string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code
}

// uniqueFields maps unique constraints to the field a user would fix.
var uniqueFields = map[string]string{
	"tenants_subdomain_key":               "subdomain",
	"tenants_name_key":                    "name",
	"tenants_pkey":                        "id",
	"tenant_domains_pkey":                 "hostname",
	"tenant_locations_tenant_id_code_key": "code",
	"tenant_locations_pkey":               "id",
}

// translate maps storage errors to the package's sentinels: no rows →
// ErrNotFound, unique violation → *ConflictError naming the field, anything
// that is not an answer from PostgreSQL (refused connection, timeout) →
// ErrUnavailable. Other PostgreSQL errors are returned as they are.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) || errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		if pe.Code == "23505" && pe.ConstraintName == "tenants_database_key" {
			return databaseInUse("database_url", "names a database another tenant uses")
		}
		if pe.Code == "23503" && pe.ConstraintName == "tenants_plan_fkey" {
			return invalid("plan", "names no plan (see GET /api/plans or tenantctl plans list)")
		}
		if pe.Code == "23505" {
			field := uniqueFields[pe.ConstraintName]
			if field == "" {
				field = pe.ConstraintName
			}
			return &ConflictError{Field: field, Message: "is already taken"}
		}
		return err
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, redactErr(err))
}

// redactErr removes passwords that pgx may echo from a connection string.
func redactErr(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if !strings.Contains(msg, "://") && !strings.Contains(msg, "password") {
		return err
	}
	return redactedError{msg: redactText(msg), err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e redactedError) Error() string { return e.msg }
func (e redactedError) Unwrap() error { return e.err }

// redactText replaces the password of every URL and every password=…
// key/value in s.
func redactText(s string) string {
	fields := strings.Fields(s)
	for i, f := range fields {
		if strings.HasPrefix(strings.ToLower(f), "password=") {
			fields[i] = "password=xxxxx"
			continue
		}
		if j := strings.Index(f, "://"); j >= 0 {
			k := j
			for k > 0 && isSchemeChar(f[k-1]) {
				k--
			}
			end := len(f)
			for end > j && strings.ContainsRune(`"'()[],;`+"`", rune(f[end-1])) {
				end--
			}
			fields[i] = f[:k] + RedactURL(f[k:end]) + f[end:]
		}
	}
	return strings.Join(fields, " ")
}

func isSchemeChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'
}
