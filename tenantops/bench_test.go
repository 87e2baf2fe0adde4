package tenantops_test

import (
	"context"
	"github.com/tenantgate/tenantgate/tenantops"
	"testing"
)

// BenchmarkBackup measures a consistent backup (snapshot, row counts,
// pg_dump, SHA-256, manifest) of a tenant with 10,000 customers.
func BenchmarkBackup(b *testing.B) {
	e := newEnv(b)
	e.createTenant(b, "acme", 10_000)
	dir := b.TempDir()
	b.ReportAllocs()
	for b.Loop() {
		e.ops.SetClock(nextSecond()) // one file name per iteration
		if _, err := e.ops.Backup(context.Background(), "acme", dir, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRestore measures a verified restore (checksum, new database,
// pg_restore, row counts, switch) of that backup.
func BenchmarkRestore(b *testing.B) {
	e := newEnv(b)
	e.createTenant(b, "acme", 10_000)
	res, err := e.ops.Backup(context.Background(), "acme", b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		e.ops.SetClock(nextSecond()) // one database name per iteration
		if _, err := e.ops.Restore(context.Background(), "acme", res.File, tenantops.RestoreOptions{DropOld: true}, nil); err != nil {
			b.Fatal(err)
		}
	}
}
