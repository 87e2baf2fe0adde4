package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// emptyDir fails t unless dir holds nothing: every passfile directory was
// removed.
func emptyDir(t *testing.T, dir, when string) {
	t.Helper()
	if left, err := os.ReadDir(dir); err != nil || len(left) != 0 {
		t.Errorf("%s: %s holds %v (%v); want the password file's directory removed", when, dir, left, err)
	}
}

// TestCLIDbshell runs the real psql: it connects as the tenant's own role,
// the password is on no command line and in no environment (only
// PGPASSFILE's path), the password file is 0600 and gone afterwards (also
// after SIGTERM), psql's exit code is tenantctl's.
func TestCLIDbshell(t *testing.T) {
	c := newCLI(t)
	runtimeDir := t.TempDir()
	c.env["XDG_RUNTIME_DIR"] = runtimeDir
	c.must(0, "create", "Acme", "acme", "boss@acme.test")
	tn, err := c.manager().Get(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	role, password := tn.Placement.RoleName, tn.Placement.RolePassword
	if role == "" || password == "" {
		t.Fatalf("tenant acme has no login role: %+v", tn.Placement)
	}

	// psql's \! runs a shell whose parent is psql: it shows psql's command
	// line and environment.
	probe := `\! tr '\0' ' ' < /proc/$PPID/cmdline; echo; tr '\0' '\n' < /proc/$PPID/environ; echo "passfile=$PGPASSFILE"; stat -c 'mode=%a' "$PGPASSFILE"`
	out, _ := c.must(0, "dbshell", "acme", "--", "-X", "-At", "-c", "select current_user", "-c", probe)
	if !strings.HasPrefix(out, role+"\n") {
		t.Errorf("dbshell current_user = %q; want the tenant's role %s first", out, role)
	}
	if strings.Contains(out, password) {
		t.Errorf("psql's command line or environment holds the tenant's password:\n%s", out)
	}
	for _, want := range []string{"PGPASSFILE=" + runtimeDir, "PGUSER=" + role, "mode=600", "-c select current_user"} {
		if !strings.Contains(out, want) {
			t.Errorf("dbshell probe lacks %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{"DATABASE_URL=", "TENANT_SIGNING_KEYS=", "PGPASSWORD="} {
		if strings.Contains(out, "\n"+secret) {
			t.Errorf("psql's environment has %s:\n%s", secret, out)
		}
	}
	_, passfile, _ := strings.Cut(out, "\npassfile=")
	passfile, _, _ = strings.Cut(passfile, "\n")
	if _, err := os.Stat(passfile); !os.IsNotExist(err) || !strings.HasPrefix(passfile, runtimeDir) {
		t.Errorf("password file %q after dbshell: %v; want it removed", passfile, err)
	}
	emptyDir(t, runtimeDir, "after dbshell")

	// psql's exit code: 3 for a script error with ON_ERROR_STOP.
	script := filepath.Join(t.TempDir(), "fail.sql")
	if err := os.WriteFile(script, []byte("select 1/0;\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := c.run("dbshell", "acme", "--", "-X", "-v", "ON_ERROR_STOP=1", "-f", script); code != 3 || !strings.Contains(errs, "division by zero") {
		t.Errorf("dbshell with a failing script = exit %d (%q); want psql's 3", code, errs)
	}
	emptyDir(t, runtimeDir, "after a failing psql")

	if code, _, errs := c.run("dbshell", "nobody"); code != exitFailed || !strings.Contains(errs, "nobody") || !strings.Contains(errs, "tenantctl list") {
		t.Errorf("dbshell nobody = exit %d, %q; want 1 naming the tenant and what to do", code, errs)
	}
	for _, args := range [][]string{{"dbshell"}, {"dbshell", "acme", "globex"}} {
		if code, _, _ := c.run(args...); code != exitUsage {
			t.Errorf("tenantctl %v = exit %d, want 2", args, code)
		}
	}

	c.must(0, "suspend", "acme")
	if out, errs := c.must(0, "dbshell", "acme", "--", "-X", "-Atc", "select 42"); out != "42\n" || !strings.Contains(errs, "suspended") {
		t.Errorf("dbshell on a suspended tenant = %q, %q; want it opened with a note", out, errs)
	}

	// SIGTERM to tenantctl while psql runs: passed on to psql, the password
	// file removed.
	done := make(chan int, 1)
	go func() {
		code, _, _ := c.run("dbshell", "acme", "--", "-X", "-Atc", "select pg_sleep(600)")
		done <- code
	}()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		if left, _ := os.ReadDir(runtimeDir); len(left) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("dbshell made no password file within a minute")
		}
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code == 0 {
			t.Errorf("dbshell killed by SIGTERM = exit 0, want a failure")
		}
	case <-time.After(time.Minute):
		t.Fatal("dbshell did not end within a minute of SIGTERM")
	}
	emptyDir(t, runtimeDir, "after SIGTERM")
}

func TestPsqlConnection(t *testing.T) {
	for _, tc := range []struct {
		name, url, user, password string
		env                       []string // all of these, and no other
	}{
		{"template", "postgres://sales_acme:s3cr%3At@db1:5433/sales_acme?sslmode=require&pool_max_conns=4",
			"sales_acme", "s3cr:t", []string{"PGHOST=db1", "PGPORT=5433", "PGDATABASE=sales_acme", "PGUSER=sales_acme", "PGSSLMODE=require"}},
		{"several hosts, default port", "postgresql://u:p@a,b:6000/d?connect_timeout=3&application_name=x",
			"u", "p", []string{"PGHOST=a,b", "PGPORT=5432,6000", "PGDATABASE=d", "PGUSER=u", "PGCONNECT_TIMEOUT=3", "PGAPPNAME=x"}},
		{"password in the query", "postgres:///d?host=/run/postgresql&user=u&password=pw-q",
			"u", "pw-q", []string{"PGHOST=/run/postgresql", "PGDATABASE=d", "PGUSER=u"}},
		{"keyword/value", "host=h port=5439 dbname=d user=u password=pw sslmode=disable",
			"u", "pw", []string{"PGHOST=h", "PGPORT=5439", "PGDATABASE=d", "PGUSER=u", "PGSSLMODE=disable"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := psqlConnection(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(c.env)
			want := slices.Sorted(slices.Values(tc.env))
			if c.user != tc.user || c.password != tc.password || !slices.Equal(c.env, want) {
				t.Errorf("psqlConnection(%q) = %q/%q %v; want %q/%q %v", tc.url, c.user, c.password, c.env, tc.user, tc.password, want)
			}
			for _, kv := range c.env {
				if strings.Contains(kv, tc.password) {
					t.Errorf("environment %q holds the password", kv)
				}
			}
		})
	}
	// net/url cannot read every libpq URL (IPv6 among several hosts):
	// pgx's parser reads those, for the first host.
	if c, err := psqlConnection("postgres://u:pw@[::1]:6000,b/d"); err != nil || c.password != "pw" || !slices.Contains(c.env, "PGHOST=::1") {
		t.Errorf("psqlConnection(IPv6 among several hosts) = %+v, %v", c, err)
	}
	if _, err := psqlConnection("mysql://u:secret@h/d"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("psqlConnection(mysql URL) = %v; want an error without the password", err)
	}
}
