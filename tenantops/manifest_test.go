package tenantops_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantgate/tenantgate/internal/tenanttoken"
	"github.com/tenantgate/tenantgate/tenantops"
)

// copyBackup copies the three files of the backup at file into a new
// directory and returns the copy's dump path.
func copyBackup(t *testing.T, file string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(file))
	for _, s := range []string{"", tenantops.ChecksumSuffix, tenantops.ManifestSuffix} {
		b, err := os.ReadFile(file + s)
		if err != nil {
			t.Fatal(err)
		}
		write(t, dst+s, b)
	}
	return dst
}

// editManifest rewrites the manifest beside file through edit, as someone
// with write access to the backup directory could.
func editManifest(t *testing.T, file string, edit func(m map[string]any)) {
	t.Helper()
	b, err := os.ReadFile(file + tenantops.ManifestSuffix)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	write(t, file+tenantops.ManifestSuffix, out)
}

// TestRestoreRefusesAnEditedManifest: whoever can write to the backup
// directory must not be able to make a restore believe a manifest the
// backup did not write — neither to restore one tenant's dump into another
// (issue 11 item 10) nor to slip in another dump with recomputed checksums.
func TestRestoreRefusesAnEditedManifest(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	acme := e.createTenant(t, "acme", 10)
	globex := e.createTenant(t, "globex", 3)
	acmeRes, err := e.ops.Backup(ctx, "acme", t.TempDir(), nil)
	if err != nil {
		t.Fatalf("Backup acme: %v", err)
	}
	globexRes, err := e.ops.Backup(ctx, "globex", t.TempDir(), nil)
	if err != nil {
		t.Fatalf("Backup globex: %v", err)
	}
	globexDump, err := os.ReadFile(globexRes.File)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		from   string // the backup the attacker starts from
		edit   func(t *testing.T, file string)
		reason string // what the error must say
	}{
		{"another tenant's backup relabelled", globexRes.File, func(t *testing.T, file string) {
			editManifest(t, file, func(m map[string]any) {
				m["subdomain"], m["tenant_id"], m["database_name"] = "acme", acme.ID, acme.DatabaseName
			})
		}, "signature"},
		{"another tenant's dump with recomputed checksums", acmeRes.File, func(t *testing.T, file string) {
			write(t, file, globexDump)
			sum := sha256.Sum256(globexDump)
			write(t, file+tenantops.ChecksumSuffix, fmt.Appendf(nil, "%s  %s\n", hex.EncodeToString(sum[:]), filepath.Base(file)))
			editManifest(t, file, func(m map[string]any) {
				m["sha256"], m["size"], m["tables"] = hex.EncodeToString(sum[:]), len(globexDump), globexRes.Manifest.Tables
			})
		}, "signature"},
		{"row counts edited", acmeRes.File, func(t *testing.T, file string) {
			editManifest(t, file, func(m map[string]any) { m["tables"].(map[string]any)["public.customers"] = 11 })
		}, "signature"},
		{"signature removed", acmeRes.File, func(t *testing.T, file string) {
			editManifest(t, file, func(m map[string]any) { delete(m, "mac") })
		}, "not signed"},
		{"old unsigned format", acmeRes.File, func(t *testing.T, file string) {
			editManifest(t, file, func(m map[string]any) { delete(m, "mac"); m["format"] = 1 })
		}, "format 1"},
	}
	before := e.databases(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := copyBackup(t, tc.from)
			tc.edit(t, file)
			_, err := e.ops.Restore(ctx, "acme", file, tenantops.RestoreOptions{}, nil)
			if !errors.Is(err, tenantops.ErrBadBackup) || !strings.Contains(err.Error(), tc.reason) || !strings.Contains(err.Error(), "nothing was changed") {
				t.Errorf("Restore(%s) = %v, want tenantops.ErrBadBackup saying %q and that nothing was changed", tc.name, err, tc.reason)
			}
			if got := e.tenant(t, "acme"); got.DatabaseName != acme.DatabaseName {
				t.Errorf("acme after the refused restore is on %s, want %s", got.DatabaseName, acme.DatabaseName)
			}
			if n := e.count(t, e.tenant(t, "acme"), "customers"); n != 10 {
				t.Errorf("acme's customers after the refused restore = %d, want its own 10", n)
			}
			if after := e.databases(t); !sameSet(before, after) {
				t.Errorf("databases after the refused restore = %v, want %v", after, before)
			}
		})
	}
	_ = globex
}

// opsWith returns an Ops on e's control plane whose manifest keys derive
// from signing (or from backupKey when set).
func (e *env) opsWith(t *testing.T, signing []tenanttoken.Key, backupKey string) *tenantops.Ops {
	t.Helper()
	var keys [][]byte
	if signing != nil || backupKey != "" {
		var err error
		if keys, err = tenantops.ManifestKeys(signing, backupKey); err != nil {
			t.Fatal(err)
		}
	}
	ops, err := tenantops.New(tenantops.Config{Store: e.store, DSN: e.dsn, TempDir: t.TempDir(), ManifestKeys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return ops
}

// TestBackupManifestKeyRotation: a backup signed with the old signing key
// restores while that key is still listed after the new one, and is refused
// once it is gone; BACKUP_KEY, when set, replaces the signing keys.
func TestBackupManifestKeyRotation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.createTenant(t, "acme", 4)
	oldKey := tenanttoken.Key{ID: "old", Secret: []byte("old-old-old-old-old-old-old-old-1")}
	newKey := tenanttoken.Key{ID: "new", Secret: []byte("new-new-new-new-new-new-new-new-2")}
	res, err := e.opsWith(t, []tenanttoken.Key{oldKey}, "").Backup(ctx, "acme", t.TempDir(), nil)
	if err != nil {
		t.Fatalf("Backup with the old key: %v", err)
	}

	if _, err := e.opsWith(t, []tenanttoken.Key{newKey}, "").Restore(ctx, "acme", res.File, tenantops.RestoreOptions{}, nil); !errors.Is(err, tenantops.ErrBadBackup) || !strings.Contains(err.Error(), "no longer listed") {
		t.Errorf("Restore with only the new key = %v, want ErrBadBackup saying the key is no longer listed", err)
	}
	rotated := e.opsWith(t, []tenanttoken.Key{newKey, oldKey}, "")
	if _, err := rotated.Restore(ctx, "acme", res.File, tenantops.RestoreOptions{}, nil); err != nil {
		t.Fatalf("Restore with the new key first and the old still listed: %v", err)
	}
	if n := e.count(t, e.tenant(t, "acme"), "customers"); n != 4 {
		t.Errorf("customers after the restore = %d, want 4", n)
	}

	// BACKUP_KEY: the first signs, every one verifies.
	k1 := base64.StdEncoding.EncodeToString([]byte("backup-key-one-backup-key-one-123"))
	k2 := base64.RawStdEncoding.EncodeToString([]byte("backup-key-two-backup-key-two-456"))
	res2, err := e.opsWith(t, []tenanttoken.Key{newKey}, k1).Backup(ctx, "acme", t.TempDir(), nil)
	if err != nil {
		t.Fatalf("Backup with BACKUP_KEY: %v", err)
	}
	if _, err := e.opsWith(t, nil, k2+","+k1).VerifyBackup(ctx, res2.File); err != nil {
		t.Errorf("VerifyBackup with BACKUP_KEY=new,old = %v, want nil", err)
	}
	if _, err := e.opsWith(t, []tenanttoken.Key{newKey}, "").VerifyBackup(ctx, res2.File); !errors.Is(err, tenantops.ErrBadBackup) {
		t.Errorf("VerifyBackup of a BACKUP_KEY backup with the signing keys = %v, want ErrBadBackup", err)
	}
}

// TestBackupAndRestoreNeedAManifestKey: without a key nothing is written
// and nothing restored, with an error that says what to set.
func TestBackupAndRestoreNeedAManifestKey(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.createTenant(t, "acme", 1)
	res, err := e.ops.Backup(ctx, "acme", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	keyless := e.opsWith(t, nil, "")
	dir := t.TempDir()
	if _, err := keyless.Backup(ctx, "acme", dir, nil); !errors.Is(err, tenantops.ErrNoManifestKey) || !strings.Contains(err.Error(), "TENANT_SIGNING_KEYS") {
		t.Errorf("Backup without a key = %v, want ErrNoManifestKey naming TENANT_SIGNING_KEYS", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("Backup without a key wrote %d files, want none", len(entries))
	}
	if _, err := keyless.Restore(ctx, "acme", res.File, tenantops.RestoreOptions{}, nil); !errors.Is(err, tenantops.ErrNoManifestKey) {
		t.Errorf("Restore without a key = %v, want ErrNoManifestKey", err)
	}
	for _, bad := range []string{"not base64!", base64.StdEncoding.EncodeToString([]byte("too short"))} {
		if _, err := tenantops.ManifestKeys(nil, bad); err == nil || strings.Contains(err.Error(), bad) {
			t.Errorf("ManifestKeys(BACKUP_KEY %q) = %v, want an error that does not repeat the key", bad, err)
		}
	}
}
