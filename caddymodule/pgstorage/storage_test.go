package pgstorage

import (
	"context"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// TestProvisionSharesBackendAcrossReloads: two configs with the same
// settings (a reload) share one backend, so a lock taken through the old
// config is released through the new one; the last Cleanup closes it.
func TestProvisionSharesBackendAcrossReloads(t *testing.T) {
	url := newDB(t)
	t.Setenv("PGSTORAGE_TEST_URL", url)
	t.Setenv("PGSTORAGE_TEST_KEY", testKey)
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()

	old := &Storage{DatabaseURL: "{env.PGSTORAGE_TEST_URL}", EncryptionKey: "{env.PGSTORAGE_TEST_KEY}"}
	if err := old.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if old.b.keys == nil || old.b.databaseURL != url {
		t.Fatalf("placeholders not expanded: url %q, keys %v", old.b.databaseURL, old.b.keys)
	}
	if err := old.Lock(ctx, "issue_cert_reload"); err != nil {
		t.Fatal(err)
	}
	reloaded := &Storage{DatabaseURL: url, EncryptionKey: testKey}
	if err := reloaded.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if reloaded.b != old.b {
		t.Fatal("a reload with the same settings got a new backend")
	}
	if err := old.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if err := reloaded.Unlock(ctx, "issue_cert_reload"); err != nil {
		t.Errorf("Unlock through the reloaded config of a lock taken before the reload = %v", err)
	}
	other := &Storage{DatabaseURL: url}
	if err := other.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if other.b == reloaded.b {
		t.Error("storages with different keys share a backend")
	}
	b := reloaded.b
	_ = reloaded.Cleanup()
	_ = other.Cleanup()
	select {
	case <-b.stop:
	default:
		t.Error("the backend is still open after the last Cleanup")
	}
}

func TestProvisionRefusesBadKey(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	const bad = "c2hvcnQta2V5LW9mLTE2Yg=="
	err := (&Storage{DatabaseURL: "postgres://127.0.0.1:1/x", EncryptionKey: bad}).Provision(ctx)
	if err == nil || !strings.Contains(err.Error(), "encryption key") || strings.Contains(err.Error(), bad) {
		t.Errorf("Provision with a 16-byte key = %v, want an error naming the encryption key without its value", err)
	}
}
