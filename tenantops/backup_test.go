package tenantops_test

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/tenantgate/tenantgate/tenantops"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/internal/testenv"
	"github.com/tenantgate/tenantgate/tenantstore"
)

func TestBackupDeleteRestoreBringsRowsBack(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tn := e.createTenant(t, "acme", 25)
	dir := t.TempDir()

	res, err := e.ops.Backup(ctx, "acme", dir, nil)
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	if !regexp.MustCompile(`^acme-\d{8}T\d{6}Z\.dump$`).MatchString(filepath.Base(res.File)) {
		t.Errorf("backup file = %s, want acme-<yyyymmddThhmmssZ>.dump", filepath.Base(res.File))
	}
	sum, err := os.ReadFile(res.File + tenantops.ChecksumSuffix)
	if err != nil {
		t.Fatalf("reading the checksum file: %v", err)
	}
	if want := res.SHA256 + "  " + filepath.Base(res.File) + "\n"; string(sum) != want {
		t.Errorf("checksum file = %q, want %q", sum, want)
	}
	if got := res.Manifest.Tables["public.customers"]; got != 25 {
		t.Errorf("manifest customers = %d, want 25", got)
	}
	if got := res.Manifest.Tables["public.users"]; got != 1 {
		t.Errorf("manifest users = %d, want 1", got)
	}
	if res.Manifest.MigrationVersion < 1 || res.Manifest.TenantID != tn.ID {
		t.Errorf("manifest = version %d tenant %s, want version ≥ 1 tenant %s", res.Manifest.MigrationVersion, res.Manifest.TenantID, tn.ID)
	}

	e.exec(t, tn, "DELETE FROM customers WHERE name <> 'customer 1'")
	if got := e.count(t, tn, "customers"); got != 1 {
		t.Fatalf("customers after delete = %d, want 1", got)
	}

	rr, err := e.ops.Restore(ctx, "acme", res.File, tenantops.RestoreOptions{}, nil)
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	after := e.tenant(t, "acme")
	if after.DatabaseName != rr.NewDatabase || after.DatabaseName == tn.DatabaseName {
		t.Errorf("database after restore = %s, want the new %s (not the old %s)", after.DatabaseName, rr.NewDatabase, tn.DatabaseName)
	}
	if got := e.count(t, after, "customers"); got != 25 {
		t.Errorf("customers after restore = %d, want 25", got)
	}
	// The app's role owns the restored tables: it can write.
	e.exec(t, after, "INSERT INTO customers (name) VALUES ('after restore')")
	if got := e.count(t, tn, "customers"); got != 1 {
		t.Errorf("old database customers = %d, want 1 (kept as it was)", got)
	}

	// A second restore with --drop-old drops the database it replaces.
	rr2, err := e.ops.Restore(ctx, "acme", res.File, tenantops.RestoreOptions{DropOld: true}, nil)
	if err != nil {
		t.Fatalf("second Restore: %v", err)
	}
	dbs := e.databases(t)
	if !rr2.OldDropped || dbs[rr.NewDatabase] || !dbs[rr2.NewDatabase] || !dbs[tn.DatabaseName] {
		t.Errorf("after restore --drop-old: dropped=%v databases=%v, want %s gone, %s and %s present",
			rr2.OldDropped, dbs, rr.NewDatabase, rr2.NewDatabase, tn.DatabaseName)
	}
}

func TestBackupNeverOverwrites(t *testing.T) {
	e := newEnv(t)
	e.createTenant(t, "acme", 1)
	fixed := time.Date(2026, 11, 27, 1, 2, 3, 0, time.UTC)
	e.ops.SetClock(func() time.Time { return fixed })
	dir := t.TempDir()
	existing := filepath.Join(dir, tenantops.BackupName("acme", fixed)+tenantops.ChecksumSuffix)
	if err := os.WriteFile(existing, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := e.ops.Backup(context.Background(), "acme", dir, nil)
	if err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Fatalf("Backup over an existing file: err = %v, want a refusal to overwrite", err)
	}
	if b, _ := os.ReadFile(existing); string(b) != "precious" {
		t.Errorf("existing file = %q, want it untouched", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("files in dir = %d, want only the existing one", len(entries))
	}
}

func TestRestoreRefusesBadBackupAndChangesNothing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tn := e.createTenant(t, "acme", 10)
	res, err := e.ops.Backup(ctx, "acme", t.TempDir(), nil)
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	good, err := os.ReadFile(res.File)
	if err != nil {
		t.Fatal(err)
	}
	other := e.createTenant(t, "globex", 1)
	otherRes, err := e.ops.Backup(ctx, "globex", t.TempDir(), nil)
	if err != nil {
		t.Fatalf("Backup globex: %v", err)
	}
	_ = other

	tests := []struct {
		name    string
		file    string
		corrupt func(t *testing.T, path string)
	}{
		{"flipped byte", res.File, func(t *testing.T, p string) {
			b := append([]byte(nil), good...)
			b[len(b)/2] ^= 0x01
			write(t, p, b)
		}},
		{"truncated", res.File, func(t *testing.T, p string) { write(t, p, good[:len(good)-100]) }},
		{"empty", res.File, func(t *testing.T, p string) { write(t, p, nil) }},
		{"checksum file missing", res.File, func(t *testing.T, p string) { os.Remove(p + tenantops.ChecksumSuffix) }},
		{"manifest missing", res.File, func(t *testing.T, p string) { os.Remove(p + tenantops.ManifestSuffix) }},
		{"another tenant's backup", otherRes.File, func(*testing.T, string) {}},
		{"no such file", filepath.Join(t.TempDir(), "nothing.dump"), func(*testing.T, string) {}},
	}
	before := e.databases(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := tc.file
			if file == res.File {
				// Work on a copy so each case starts from the good backup.
				file = filepath.Join(t.TempDir(), filepath.Base(res.File))
				for _, s := range []string{"", tenantops.ChecksumSuffix, tenantops.ManifestSuffix} {
					b, err := os.ReadFile(res.File + s)
					if err != nil {
						t.Fatal(err)
					}
					write(t, file+s, b)
				}
			}
			tc.corrupt(t, file)
			_, err := e.ops.Restore(ctx, "acme", file, tenantops.RestoreOptions{}, nil)
			if !errors.Is(err, tenantops.ErrBadBackup) {
				t.Fatalf("Restore(%s) = %v, want tenantops.ErrBadBackup", tc.name, err)
			}
			if !strings.Contains(err.Error(), "nothing was changed") {
				t.Errorf("error %q does not say nothing was changed", err)
			}
			if got := e.tenant(t, "acme"); got.DatabaseName != tn.DatabaseName || got.Version != tn.Version {
				t.Errorf("tenant after refused restore: database %s version %d, want %s version %d",
					got.DatabaseName, got.Version, tn.DatabaseName, tn.Version)
			}
			if after := e.databases(t); !sameSet(before, after) {
				t.Errorf("databases after refused restore = %v, want %v", after, before)
			}
		})
	}
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestMissingToolIsAClearError(t *testing.T) {
	e := newEnv(t)
	e.createTenant(t, "acme", 1)
	e.ops.SetPgDump("pg_dump_not_installed")
	_, err := e.ops.Backup(context.Background(), "acme", t.TempDir(), nil)
	if err == nil || !strings.Contains(err.Error(), "pg_dump_not_installed not found on PATH") {
		t.Errorf("Backup without pg_dump: err = %v, want it to say the program is not on PATH", err)
	}
}

func TestRestoreOfExplicitlyPlacedTenantRewritesItsURL(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.createTenant(t, "acme", 7)
	// A move (to another database of the same server) gives the tenant an
	// explicit URL.
	moved := testenv.WithDatabase(testenv.PostgresURL(), e.prefix+"explicit")
	if _, err := e.ops.Move(ctx, "acme", moved, tenantops.MoveOptions{}, nil); err != nil {
		t.Fatalf("Move: %v", err)
	}
	tn := e.tenant(t, "acme")
	res, err := e.ops.Backup(ctx, "acme", t.TempDir(), nil)
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	e.exec(t, tn, "DELETE FROM customers")
	rr, err := e.ops.Restore(ctx, "acme", res.File, tenantops.RestoreOptions{}, nil)
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	after := e.tenant(t, "acme")
	// The stored URL names the new database, without credentials: the
	// tenant connects as its own role (issue 11).
	want, _ := tenantstore.WithoutCredentials(testenv.WithDatabase(testenv.PostgresURL(), rr.NewDatabase))
	if after.Placement.URL != want || after.Placement.RoleName != tn.Placement.RoleName {
		t.Errorf("placement after restore = %s as %s, want %s as %s", after.Placement.URL, after.Placement.RoleName, want, tn.Placement.RoleName)
	}
	if got := e.count(t, after, "customers"); got != 7 {
		t.Errorf("customers after restore = %d, want 7", got)
	}
}

func TestRestoreFailingVerificationDropsTheNewDatabase(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tn := e.createTenant(t, "acme", 5)
	res, err := e.ops.Backup(ctx, "acme", t.TempDir(), nil)
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	// A manifest promising rows the dump does not hold (signed, as by a
	// faulty backup): the restore runs, then verification must refuse to
	// switch.
	m := res.Manifest
	m.Tables["public.customers"] = 6
	if err := e.ops.SignManifest(&m); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	write(t, res.ManifestFile, b)
	before := e.databases(t)

	_, err = e.ops.Restore(ctx, "acme", res.File, tenantops.RestoreOptions{}, nil)
	if err == nil || !strings.Contains(err.Error(), "public.customers has 5 rows, want 6") {
		t.Fatalf("Restore with a wrong manifest = %v, want a verification failure naming the table", err)
	}
	if got := e.tenant(t, "acme"); !tenantops.SameDatabase(tn, got) {
		t.Errorf("tenant database after failed restore = %s, want %s", got.DatabaseName, tn.DatabaseName)
	}
	if after := e.databases(t); !sameSet(before, after) {
		t.Errorf("databases after failed restore = %v, want %v (the new one dropped)", after, before)
	}
}
