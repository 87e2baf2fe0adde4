package tenantops_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

// databaseExists reports whether the server at serverURL has database name.
func databaseExists(t *testing.T, serverURL, name string) bool {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}
