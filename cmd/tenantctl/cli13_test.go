package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// runTerminal runs tenantctl as on a terminal: stdin answers prompts with
// input, and stderr counts as a terminal (progress bars).
func (c *cli) runTerminal(input string, args ...string) (code int, stdout, stderr string) {
	c.t.Helper()
	var out, errb bytes.Buffer
	a := newApp(func(k string) string { return c.env[k] }, &out, &errb)
	a.migrations, a.bcryptCost, a.notifier = c.migrations, 4, c
	a.stdin, a.interactive, a.tty = strings.NewReader(input), true, true
	code = a.execute(context.Background(), args)
	return code, out.String(), errb.String()
}

// TestCLIHelpWithoutArguments: tenantctl alone shows what it can do.
func TestCLIHelpWithoutArguments(t *testing.T) {
	c := newCLI(t)
	out, _ := c.must(exitOK)
	for _, want := range []string{"Usage:", "create", "rename", "maintenance", "domains", "jobs", "migrate", "--yes"} {
		if !strings.Contains(out, want) {
			t.Errorf("tenantctl (no arguments) output lacks %q:\n%s", want, out)
		}
	}
}

// TestCLIRenameMaintenanceDomainsJobs walks the commands issue 13 adds:
// rename, maintenance, domains list, jobs, and --json on migrate and check.
func TestCLIRenameMaintenanceDomainsJobs(t *testing.T) {
	c := newCLI(t)
	c.must(0, "create", "Acme", "acme", "boss@acme.test")
	c.must(0, "create", "Globex", "globex", "boss@globex.test")

	t.Run("rename", func(t *testing.T) {
		out, _ := c.must(0, "rename", "acme", "acme-corp")
		if !strings.Contains(out, "acme-corp") {
			t.Errorf("rename output = %q, want the new subdomain", out)
		}
		c.must(0, "show", "acme-corp")
		_, errs := c.must(1, "show", "acme")
		if !strings.Contains(errs, "tenantctl list") {
			t.Errorf("show(old name) stderr = %q, want what to do next", errs)
		}
		c.must(1, "rename", "acme-corp", "globex") // taken
		c.must(2, "rename", "acme-corp", "Not A Subdomain!")
		c.must(2, "rename", "acme-corp")
	})

	t.Run("maintenance and activate", func(t *testing.T) {
		out, _ := c.must(0, "maintenance", "globex")
		if !strings.Contains(out, "maintenance") {
			t.Errorf("maintenance output = %q", out)
		}
		out, _ = c.must(0, "show", "globex", "--json")
		if !strings.Contains(out, `"status":"maintenance"`) {
			t.Errorf("show after maintenance = %s", out)
		}
		c.must(0, "activate", "globex")
	})

	t.Run("domains list", func(t *testing.T) {
		out, _ := c.must(0, "domains", "list", "globex")
		if !strings.Contains(out, "no custom domains") {
			t.Errorf("domains list (none) = %q", out)
		}
		c.must(0, "domains", "add", "globex", "shop.globex.test")
		out, _ = c.must(0, "domains", "list", "globex")
		for _, want := range []string{"shop.globex.test", "unverified", "_tenantgate.shop.globex.test"} {
			if !strings.Contains(out, want) {
				t.Errorf("domains list lacks %q:\n%s", want, out)
			}
		}
		out, _ = c.must(0, "domains", "list", "globex", "--json")
		var d struct {
			Hostname  string
			TXTRecord string `json:"txt_record"`
			Verified  bool
		}
		if err := json.Unmarshal([]byte(out), &d); err != nil || d.TXTRecord != "_tenantgate.shop.globex.test" || d.Verified {
			t.Errorf("domains list --json = %s (%v), want the record and verified false", out, err)
		}
		c.must(1, "domains", "list", "nobody")
		// Not published yet: the operation failed (1), not bad usage (2).
		code, _, errs := c.run("domains", "verify", "globex", "shop.globex.test")
		if code != exitFailed || !strings.Contains(errs, "_tenantgate.shop.globex.test") || !strings.Contains(errs, "publish") {
			t.Errorf("domains verify (no TXT) = exit %d, stderr %q; want 1, the record and what to do", code, errs)
		}
		c.must(2, "domains", "verify", "globex", "not a host")
	})

	t.Run("jobs", func(t *testing.T) {
		out, _ := c.must(0, "jobs")
		if !strings.Contains(out, "no jobs") {
			t.Errorf("jobs (none) = %q", out)
		}
		// A failed backup is a job too (no manifest key is set).
		c.must(1, "backup", "globex", "--output", t.TempDir())
		c.must(1, "move", "globex", "--new-url", "postgres://postgres@127.0.0.1:1/x?connect_timeout=2")
		out, _ = c.must(0, "jobs", "--tenant", "globex")
		if !strings.Contains(out, "move") || !strings.Contains(out, "globex") || !strings.Contains(out, "failed") {
			t.Errorf("jobs --tenant globex = %q, want the failed move", out)
		}
		out, _ = c.must(0, "jobs", "--json", "--tenant", "acme-corp")
		if strings.TrimSpace(out) != "" {
			t.Errorf("jobs --json --tenant acme-corp = %q, want nothing", out)
		}
		out, _ = c.must(0, "jobs", "--json")
		var j struct{ Kind, Tenant, Status string }
		if err := json.Unmarshal([]byte(strings.Split(out, "\n")[0]), &j); err != nil || j.Tenant != "globex" || j.Status != "failed" {
			t.Errorf("jobs --json first line = %q (%v), want globex's failed job", out, err)
		}
	})

	t.Run("migrate and check --json", func(t *testing.T) {
		out, _ := c.must(0, "migrate", "--check", "--json")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 3 || !strings.Contains(lines[2], `"type":"summary"`) {
			t.Fatalf("migrate --check --json = %d lines, want 2 tenants and a summary:\n%s", len(lines), out)
		}
		var m struct {
			Subdomain, Status string
			Version           int64 `json:"version"`
		}
		if err := json.Unmarshal([]byte(lines[0]), &m); err != nil || m.Status != "up_to_date" || m.Version < 1 || m.Subdomain == "" {
			t.Errorf("migrate --json line = %s (%v), want a tenant up to date", lines[0], err)
		}
		out, _ = c.must(0, "check", "--json")
		var ch struct {
			Subdomain, Status string
			LatencyMS         float64 `json:"latency_ms"`
		}
		if err := json.Unmarshal([]byte(strings.Split(out, "\n")[0]), &ch); err != nil || ch.Status != "ok" {
			t.Errorf("check --json = %s (%v), want status ok", out, err)
		}
	})
}

// TestCLIConfirmation: on a terminal destructive commands ask first and do
// nothing unless the answer is yes (delete wants the subdomain typed);
// --yes skips the question; without a terminal nothing is asked.
func TestCLIConfirmation(t *testing.T) {
	c := newCLI(t)
	c.must(0, "create", "Acme", "acme", "boss@acme.test")
	status := func() string {
		out, _ := c.must(0, "show", "acme", "--json")
		var s struct{ Status string }
		_ = json.Unmarshal([]byte(out), &s)
		return s.Status
	}

	code, _, errs := c.runTerminal("n\n", "suspend", "acme")
	if code != exitFailed || !strings.Contains(errs, "[y/N]") || !strings.Contains(errs, "nothing was changed") || !strings.Contains(errs, "--yes") {
		t.Errorf("suspend answered n = exit %d, stderr %q; want 1, the question, nothing changed and --yes named", code, errs)
	}
	if strings.Contains(errs, "--verbose") {
		t.Errorf("suspend answered n: stderr %q offers details where there are none", errs)
	}
	if s := status(); s != "active" {
		t.Errorf("after a declined suspend acme is %s, want active", s)
	}
	if code, _, errs = c.runTerminal("y\n", "suspend", "acme"); code != exitOK || status() != "suspended" {
		t.Errorf("suspend answered y = exit %d (%s), status %s; want suspended", code, errs, status())
	}

	code, _, errs = c.runTerminal("yes\n", "delete", "acme", "--drop-database")
	if code != exitFailed || !strings.Contains(errs, "Type acme to confirm") {
		t.Errorf("delete answered yes instead of the subdomain = exit %d, stderr %q; want 1 and the subdomain asked for", code, errs)
	}
	c.must(0, "show", "acme")

	c.must(0, "activate", "acme")
	if code, _, errs = c.runTerminal("", "maintenance", "acme", "--yes"); code != exitOK || strings.Contains(errs, "[y/N]") {
		t.Errorf("maintenance --yes on a terminal = exit %d, stderr %q; want no question", code, errs)
	}
	c.must(0, "suspend", "acme") // no terminal: no question
	if code, _, errs = c.runTerminal("acme\n", "delete", "acme"); code != exitOK {
		t.Errorf("delete with the subdomain typed = exit %d, stderr %q; want 0", code, errs)
	}
	c.must(1, "show", "acme")
}

// TestCLIProgressAndErrors: progress is a bar on a terminal and one summary
// line otherwise; an error is one sentence and the next step, with the
// wrapped chain only under --verbose.
func TestCLIProgressAndErrors(t *testing.T) {
	c := newCLI(t)
	for _, sub := range []string{"alpha", "beta", "gamma"} {
		c.must(0, "create", "Org "+sub, sub, "a@"+sub+".test")
	}
	defer func(old int) { progressThreshold = old }(progressThreshold)
	progressThreshold = 2

	_, errs := c.must(0, "migrate")
	if n := strings.Count(errs, "\n"); n != 1 || !strings.Contains(errs, "migrate: 3/3 tenants, 0 failed") {
		t.Errorf("migrate without a terminal stderr = %q, want one summary line", errs)
	}
	code, _, errs := c.runTerminal("", "migrate")
	if code != exitOK || !strings.Contains(errs, "3/3") || !strings.Contains(errs, "\r") || strings.Contains(errs, "migrate: 3/3 tenants") {
		t.Errorf("migrate on a terminal = exit %d, stderr %q; want a redrawn bar, not the summary line", code, errs)
	}

	// A database that cannot be reached: one sentence naming the tenant
	// and the cause, a next step, and the chain only with --verbose.
	c.env["TENANT_BETA_DATABASE_URL"] = "postgres://postgres@127.0.0.1:1/x?connect_timeout=2"
	c.env["TENANT_SIGNING_KEYS"] = testSigningKeys
	code, _, errs = c.run("backup", "beta", "--output", t.TempDir())
	lines := strings.Split(strings.TrimSpace(errs), "\n")
	if code != exitFailed || !strings.HasPrefix(lines[0], "tenantctl: ") || len(lines) > 3 || !strings.Contains(lines[0], "beta") ||
		len(lines) < 2 || !strings.Contains(lines[1], "tenantctl check") || strings.Contains(errs, "dial tcp") {
		t.Errorf("backup of an unreachable tenant = exit %d, stderr:\n%s\nwant exit 1 and one sentence naming beta with a next step", code, errs)
	}
	_, _, verbose := c.run("backup", "beta", "--output", t.TempDir(), "--verbose")
	if !strings.Contains(verbose, "details:") || len(verbose) <= len(errs) {
		t.Errorf("backup --verbose stderr = %q, want the details added", verbose)
	}
	if strings.Contains(errs+verbose, "password=") {
		t.Errorf("an error shows a password:\n%s%s", errs, verbose)
	}
}

// TestCLICheckProgress: check reports progress as migrate does (issue 13
// item 8): one summary line on stderr without a terminal, a redrawn bar on
// one, and no bar with --json, whose stdout stays one object per tenant.
func TestCLICheckProgress(t *testing.T) {
	c := newCLI(t)
	for _, sub := range []string{"alpha", "beta", "gamma"} {
		c.must(0, "create", "Org "+sub, sub, "a@"+sub+".test")
	}
	defer func(old int) { progressThreshold = old }(progressThreshold)
	progressThreshold = 2

	out, errs := c.must(0, "check")
	if errs != "check: 3/3 tenants, 0 failed\n" {
		t.Errorf("check without a terminal: stderr = %q, want exactly the summary line %q", errs, "check: 3/3 tenants, 0 failed\n")
	}
	if !strings.Contains(out, "3 tenants, 0 unreachable") {
		t.Errorf("check stdout = %q, want the table and its total", out)
	}
	code, _, errs := c.runTerminal("", "check")
	if code != exitOK || !strings.Contains(errs, "3/3") || !strings.Contains(errs, "\r") || strings.Contains(errs, "check: 3/3 tenants") {
		t.Errorf("check on a terminal = exit %d, stderr %q; want a redrawn bar, not the summary line", code, errs)
	}
	code, out, errs = c.runTerminal("", "check", "--json")
	if code != exitOK || errs != "" || strings.Count(out, "\n") != 3 || !strings.HasPrefix(out, "{") {
		t.Errorf("check --json on a terminal = exit %d, stdout %q, stderr %q; want three JSON lines and no bar", code, out, errs)
	}

	// Below the threshold: no progress at all, as migrate.
	progressThreshold = 4
	if _, errs := c.must(0, "check"); errs != "" {
		t.Errorf("check of 3 tenants under a threshold of 4: stderr = %q, want nothing", errs)
	}

	// An unreachable tenant counts as failed in the bar's summary.
	progressThreshold = 2
	c.env["TENANT_BETA_DATABASE_URL"] = "postgres://postgres@127.0.0.1:1/x?connect_timeout=2"
	_, errs = c.must(1, "check")
	if lines := strings.Split(strings.TrimSpace(errs), "\n"); lines[0] != "check: 3/3 tenants, 1 failed" || len(lines) != 2 {
		t.Errorf("check with beta unreachable: stderr = %q, want the summary line (1 failed) then the unreachable message", errs)
	}
}
