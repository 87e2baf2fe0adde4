package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tenantgate/tenantgate/internal/testenv"
)

// testSigningKeys is a TENANT_SIGNING_KEYS value for the tests.
const testSigningKeys = "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

func TestCLIBackupRestoreMove(t *testing.T) {
	c := newCLI(t)
	c.env["TENANT_SIGNING_KEYS"] = testSigningKeys
	c.env["ACME_PW"] = "acme-admin-password"
	c.must(0, "create", "Acme", "acme", "boss@acme.test", "--admin-password-env", "ACME_PW")
	dir := t.TempDir()

	out, _ := c.must(0, "backup", "acme", "--output", dir)
	m := regexp.MustCompile(`written to (\S+\.dump) .*\nSHA-256: ([0-9a-f]{64})`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("backup output = %q, want the file and its SHA-256", out)
	}
	file := m[1]
	if sum, err := os.ReadFile(file + ".sha256"); err != nil || !strings.HasPrefix(string(sum), m[2]+"  ") {
		t.Errorf("checksum file = %q, %v; want it to start with the printed SHA-256", sum, err)
	}

	out, _ = c.must(0, "restore", "acme", "--backup", file)
	if !strings.Contains(out, "switched the tenant") || !strings.Contains(out, "kept") {
		t.Errorf("restore output = %q, want the switch and the kept database", out)
	}

	corrupt := filepath.Join(t.TempDir(), filepath.Base(file))
	for _, s := range []string{"", ".sha256", ".json"} {
		b, err := os.ReadFile(file + s)
		if err != nil {
			t.Fatal(err)
		}
		if s == "" {
			b = b[:len(b)/2]
		}
		if err := os.WriteFile(corrupt+s, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, errs := c.must(1, "restore", "acme", "--backup", corrupt)
	if !strings.Contains(errs, "corrupt or truncated") || !strings.Contains(errs, "nothing was changed") {
		t.Errorf("restore of a truncated backup stderr = %q, want it called corrupt and nothing changed", errs)
	}

	// Another database on the same server is a valid move target.
	target := testenv.WithDatabase(testenv.PostgresURL(), c.env["TENANT_DB_PREFIX"]+"moved")
	out, _ = c.must(0, "move", "acme", "--new-url", target, "--drain", "100ms")
	if !strings.Contains(out, "moved acme") || strings.Contains(out, "postgres://") {
		t.Errorf("move output = %q, want the move reported without URLs", out)
	}
	out, _ = c.must(0, "show", "acme", "--json")
	if !strings.Contains(out, `"status":"active"`) || !strings.Contains(out, c.env["TENANT_DB_PREFIX"]+"moved") {
		t.Errorf("show after move = %s, want active on the new database", out)
	}

	// delete --backup-to writes the same verified backup.
	c.must(0, "suspend", "acme")
	delDir := t.TempDir()
	c.must(0, "delete", "acme", "--backup-to", delDir)
	for _, pattern := range []string{"acme-*.dump", "acme-*.dump.sha256", "acme-*.dump.json"} {
		if got, _ := filepath.Glob(filepath.Join(delDir, pattern)); len(got) != 1 {
			t.Errorf("delete --backup-to wrote %v for %s, want one file", got, pattern)
		}
	}
}

func TestCLIOperationsExitCodes(t *testing.T) {
	c := newCLI(t)
	c.must(0, "create", "Acme", "acme", "boss@acme.test")
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"backup without --output", []string{"backup", "acme"}, exitUsage},
		{"backup without subdomain", []string{"backup", "--output", dir}, exitUsage},
		{"backup of unknown tenant", []string{"backup", "nobody", "--output", dir}, exitFailed},
		{"restore without --backup", []string{"restore", "acme"}, exitUsage},
		{"restore of a missing file", []string{"restore", "acme", "--backup", filepath.Join(dir, "none.dump")}, exitFailed},
		{"move without --new-url", []string{"move", "acme"}, exitUsage},
		{"move to a non-URL", []string{"move", "acme", "--new-url", "not a url"}, exitUsage},
		{"move to the current database", []string{"move", "acme", "--new-url", testenv.WithDatabase(testenv.PostgresURL(), c.env["TENANT_DB_PREFIX"]+"acme")}, exitUsage},
		{"move to an unreachable server", []string{"move", "acme", "--new-url", "postgres://postgres@127.0.0.1:1/x?connect_timeout=2"}, exitFailed},
		{"move with a negative drain", []string{"move", "acme", "--new-url", "postgres://h/x", "--drain", "-1s"}, exitUsage},
		{"domains add without hostname", []string{"domains", "add", "acme"}, exitUsage},
		{"domains add", []string{"domains", "add", "acme", "shop.acme.test"}, exitOK},
		{"domains remove", []string{"domains", "remove", "acme", "shop.acme.test"}, exitOK},
		{"domains remove again", []string{"domains", "remove", "acme", "shop.acme.test"}, exitFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := c.run(tc.args...)
			if code != tc.want {
				t.Errorf("tenantctl %s = exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(tc.args, " "), code, tc.want, out, errs)
			}
			if strings.Contains(out+errs, "password=") {
				t.Errorf("output shows a password:\n%s%s", out, errs)
			}
		})
	}
	// A missing TXT record fails verification (exit 1: the usage was
	// right) and names the record to publish.
	c.must(0, "domains", "add", "acme", "www.acme.test")
	code, _, errs := c.run("domains", "verify", "acme", "www.acme.test")
	if code != exitFailed || !strings.Contains(errs, "_tenantgate.www.acme.test") {
		t.Errorf("domains verify without TXT record = exit %d, stderr %q; want 1 and the record named", code, errs)
	}
	out, _ := c.must(0, "show", "acme", "--json")
	if !strings.Contains(out, `"status":"active"`) {
		t.Errorf("show after failed moves = %s, want acme still active", out)
	}
}

// TestCLIBackupManifestKeys: backup and restore need a manifest key and say
// which variables provide one; a manifest edited to pass one tenant's
// backup off as another's is refused (issue 11 item 10).
func TestCLIBackupManifestKeys(t *testing.T) {
	c := newCLI(t)
	c.must(0, "create", "Acme", "acme", "boss@acme.test")
	c.must(0, "create", "Globex", "globex", "boss@globex.test")
	dir := t.TempDir()

	_, errs := c.must(1, "backup", "acme", "--output", dir)
	if !strings.Contains(errs, "TENANT_SIGNING_KEYS") || !strings.Contains(errs, "BACKUP_KEY") {
		t.Errorf("backup without a key: stderr %q, want it to name TENANT_SIGNING_KEYS and BACKUP_KEY", errs)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("backup without a key wrote %d files, want none", len(entries))
	}
	c.env["BACKUP_KEY"] = "too-short"
	c.must(exitUsage, "backup", "acme", "--output", dir)
	delete(c.env, "BACKUP_KEY")

	c.env["TENANT_SIGNING_KEYS"] = testSigningKeys
	out, _ := c.must(0, "backup", "globex", "--output", dir)
	m := regexp.MustCompile(`written to (\S+\.dump) `).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("backup output = %q, want the file", out)
	}
	manifest, err := os.ReadFile(m[1] + ".json")
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(manifest), `"subdomain": "globex"`, `"subdomain": "acme"`, 1)
	if edited == string(manifest) {
		t.Fatalf("manifest %s has no subdomain globex to edit", manifest)
	}
	if err := os.WriteFile(m[1]+".json", []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errs = c.must(1, "restore", "acme", "--backup", m[1])
	if !strings.Contains(errs, "signature") || !strings.Contains(errs, "nothing was changed") {
		t.Errorf("restore of a relabelled backup: stderr %q, want the signature refused and nothing changed", errs)
	}
	out, _ = c.must(0, "show", "acme", "--json")
	if !strings.Contains(out, `"database_name":"`+c.env["TENANT_DB_PREFIX"]+`acme"`) {
		t.Errorf("acme after the refused restore = %s, want it on its own database", out)
	}
}
