package tenantops

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Contents is what a backup, a restore and a move compare: the schema
// version (goose) and the number of rows of every table, keyed
// "schema.table".
type Contents struct {
	MigrationVersion int64            `json:"migration_version"`
	Tables           map[string]int64 `json:"tables"`
}

// readContents counts the rows of every user table and reads the schema
// version, in the transaction (or connection) q.
func readContents(ctx context.Context, q interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}) (Contents, error) {
	rows, err := q.Query(ctx, `SELECT schemaname, tablename FROM pg_tables
		WHERE schemaname NOT IN ('pg_catalog', 'information_schema') AND schemaname NOT LIKE 'pg\_%'
		ORDER BY 1, 2`)
	if err != nil {
		return Contents{}, fmt.Errorf("listing tables: %w", err)
	}
	type table struct{ schema, name string }
	tables, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (table, error) {
		var t table
		err := r.Scan(&t.schema, &t.name)
		return t, err
	})
	if err != nil {
		return Contents{}, fmt.Errorf("listing tables: %w", err)
	}
	c := Contents{Tables: make(map[string]int64, len(tables))}
	for _, t := range tables {
		var n int64
		if err := q.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{t.schema, t.name}.Sanitize()).Scan(&n); err != nil {
			return Contents{}, fmt.Errorf("counting rows of %s.%s: %w", t.schema, t.name, err)
		}
		c.Tables[t.schema+"."+t.name] = n
	}
	// The same query as tenantstore's migrate status.
	err = q.QueryRow(ctx, "SELECT coalesce(max(version_id), 0) FROM goose_db_version WHERE is_applied").Scan(&c.MigrationVersion)
	var pe *pgconn.PgError
	if err != nil && !(errors.As(err, &pe) && pe.Code == "42P01") { // undefined_table: goose never ran
		return Contents{}, fmt.Errorf("reading the schema version: %w", err)
	}
	return c, nil
}

// contentsOf reads the contents of the database at rawURL in one
// REPEATABLE READ transaction.
func contentsOf(ctx context.Context, rawURL string) (Contents, error) {
	conn, err := connect(ctx, rawURL)
	if err != nil {
		return Contents{}, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return Contents{}, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	return readContents(ctx, tx)
}

// diff describes how got differs from want, or "" when they are equal.
func (want Contents) diff(got Contents) string {
	var d []string
	if got.MigrationVersion != want.MigrationVersion {
		d = append(d, fmt.Sprintf("migration version %d, want %d", got.MigrationVersion, want.MigrationVersion))
	}
	names := slices.Sorted(maps.Keys(want.Tables))
	for _, n := range names {
		g, ok := got.Tables[n]
		switch {
		case !ok:
			d = append(d, fmt.Sprintf("table %s missing", n))
		case g != want.Tables[n]:
			d = append(d, fmt.Sprintf("table %s has %d rows, want %d", n, g, want.Tables[n]))
		}
	}
	for _, n := range slices.Sorted(maps.Keys(got.Tables)) {
		if _, ok := want.Tables[n]; !ok {
			d = append(d, fmt.Sprintf("unexpected table %s", n))
		}
	}
	return strings.Join(d, "; ")
}
