// Package testenv gives integration tests the real PostgreSQL and Redis that
// `make test` started (or found), and private, disposable pieces of them: a
// database, a name prefix, a Redis key prefix, each removed in t.Cleanup.
//
// A missing service fails the test: integration tests never skip because a
// service is absent. Under `go test -short` they may skip (see Integration).
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// Default service URLs, the same as the binaries' defaults (SPEC §3).
const (
	DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	DefaultRedisURL    = "redis://127.0.0.1:6379/0"
)

// Integration skips t under -short; integration tests call it first.
func Integration(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped under -short")
	}
}

// PostgresURL is the URL of the test server's maintenance database, from
// TEST_POSTGRES_URL or the default.
func PostgresURL() string {
	if u := os.Getenv("TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return DefaultPostgresURL
}

// RedisURL is the URL of the test Redis, from TEST_REDIS_URL or REDIS_URL or
// the default.
func RedisURL() string {
	for _, k := range []string{"TEST_REDIS_URL", "REDIS_URL"} {
		if u := os.Getenv(k); u != "" {
			return u
		}
	}
	return DefaultRedisURL
}

// WithDatabase returns base with its database name replaced by name.
func WithDatabase(base, name string) string {
	u, err := url.Parse(base)
	if err != nil {
		panic(fmt.Sprintf("testenv: bad URL: %v", err))
	}
	u.Path = "/" + name
	return u.String()
}

// UniqueName returns prefix followed by 10 random hex characters, usable as
// a database, role or key name.
func UniqueName(prefix string) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// Admin connects to the maintenance database and fails t when PostgreSQL does
// not answer.
func Admin(t testing.TB) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, PostgresURL())
	if err != nil {
		t.Fatalf("PostgreSQL is not reachable at %s (make test starts it): %v", PostgresURL(), err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// NewDatabase creates an empty database with a unique name and returns its
// URL; the database is dropped (forcibly) when the test ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	name := UniqueName("tg_test_")
	conn := Admin(t)
	if _, err := conn.Exec(context.Background(), "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("creating test database %s: %v", name, err)
	}
	t.Cleanup(func() { DropDatabases(t, name) })
	return WithDatabase(PostgresURL(), name)
}

// TenantPrefix returns a unique TENANT_DB_PREFIX for one test; every database
// and role whose name starts with it is dropped when the test ends, so
// provisioning tests leave nothing behind even when they fail.
func TenantPrefix(t testing.TB) string {
	t.Helper()
	prefix := UniqueName("t") + "_"
	t.Cleanup(func() { DropWithPrefix(t, prefix) })
	return prefix
}

// DropDatabases drops the named databases, closing their connections. Each
// DROP DATABASE waits for a checkpoint, which on a busy machine can take tens
// of seconds, hence the generous bound.
func DropDatabases(t testing.TB, names ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, PostgresURL())
	if err != nil {
		t.Errorf("cleanup: connecting to PostgreSQL: %v", err)
		return
	}
	defer conn.Close(ctx)
	for _, n := range names {
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{n}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("cleanup: dropping database %s: %v", n, err)
		}
	}
}

// DropWithPrefix drops every database and role whose name starts with prefix.
func DropWithPrefix(t testing.TB, prefix string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, PostgresURL())
	if err != nil {
		t.Errorf("cleanup: connecting to PostgreSQL: %v", err)
		return
	}
	defer conn.Close(ctx)
	like := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(prefix) + "%"
	dbs, err := collect(ctx, conn, "SELECT datname FROM pg_database WHERE datname LIKE $1", like)
	if err != nil {
		t.Errorf("cleanup: listing databases: %v", err)
	}
	for _, n := range dbs {
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{n}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("cleanup: dropping database %s: %v", n, err)
		}
	}
	roles, err := collect(ctx, conn, "SELECT rolname FROM pg_roles WHERE rolname LIKE $1", like)
	if err != nil {
		t.Errorf("cleanup: listing roles: %v", err)
	}
	for _, n := range roles {
		if _, err := conn.Exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{n}.Sanitize()); err != nil {
			t.Errorf("cleanup: dropping role %s: %v", n, err)
		}
	}
}

func collect(ctx context.Context, conn *pgx.Conn, sql string, args ...any) ([]string, error) {
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// Redis connects to the test Redis and fails t when it does not answer.
func Redis(t testing.TB) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(RedisURL())
	if err != nil {
		t.Fatalf("parsing REDIS_URL: %v", err)
	}
	c := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("Redis is not reachable at %s (make test starts it): %v", RedisURL(), err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// KeyPrefix returns a unique Redis key prefix for one test; every key under
// it is deleted when the test ends.
func KeyPrefix(t testing.TB) string {
	t.Helper()
	prefix := UniqueName("tgtest:") + ":"
	c := Redis(t)
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	return prefix
}
