package pgstorage

import (
	"context"
	"io/fs"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/tenantgate/tenantgate/internal/testenv"
)

// testKey is base64 of 32 bytes, for the encryption tests.
const (
	testKey  = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	testKey2 = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="
)

// newDB returns the URL of a fresh database (dropped at the end) with the
// control-plane migrations applied, pool connections capped so that many
// backends fit under the shared server's max_connections.
func newDB(t testing.TB) string {
	t.Helper()
	testenv.Integration(t)
	url := testenv.NewDatabase(t)
	b := open(t, url, "", time.Second, time.Second)
	if !b.schemaReady.Load() {
		t.Fatal("schema not ready after newBackend")
	}
	return url
}

// open starts a backend on url, destroyed at the end of the test.
func open(t testing.TB, url, keys string, lease, poll time.Duration) *backend {
	t.Helper()
	kr, err := parseKeys(keys)
	if err != nil {
		t.Fatalf("parseKeys: %v", err)
	}
	var logger *zap.Logger = zap.NewNop()
	if tt, ok := t.(*testing.T); ok {
		logger = zaptest.NewLogger(tt, zaptest.Level(zap.WarnLevel))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if strings.HasPrefix(url, "postgres") && !strings.Contains(url, "pool_max_conns") {
		url += "&pool_max_conns=4"
	}
	b, err := newBackend(ctx, settings{databaseURL: url, keys: kr, lease: lease, poll: poll}, logger)
	if err != nil {
		t.Fatalf("newBackend: %v", err)
	}
	t.Cleanup(func() { _ = b.Destruct() })
	return b
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func errNotExistSentinel() error { return fs.ErrNotExist }
