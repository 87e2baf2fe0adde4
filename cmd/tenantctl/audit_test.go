package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tenantgate/tenantgate/internal/actor"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// TestCLIAudit: every change tenantctl makes is in the audit trail as the
// OS user running it, with no password, and 'tenantctl audit' shows it
// newest first, as a table (escaped) or JSON, filtered by tenant.
func TestCLIAudit(t *testing.T) {
	c := newCLI(t)
	c.env["ACME_ADMIN_PW"] = "acme-admin-password-audit"
	c.must(0, "create", "Acme Inc", "acme", "boss@acme.test", "--admin-password-env", "ACME_ADMIN_PW")
	out, _ := c.must(0, "create", "Globex", "globex", "ceo@globex.test")
	generated := strings.TrimSpace(out[strings.Index(out, "admin password: ")+len("admin password: "):])
	generated = strings.Fields(generated)[0]
	c.must(0, "suspend", "acme")
	c.must(0, "rename", "acme", "acme-co")

	out, _ = c.must(0, "audit", "--json")
	var entries []tenantstore.AuditEntry
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e tenantstore.AuditEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("audit --json line %q: %v", line, err)
		}
		entries = append(entries, e)
	}
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action+":"+e.Subdomain)
		if want := actor.OSUser(); e.Actor.Kind != actor.Tenantctl || e.Actor.ID != want.ID || e.Actor.ID == "" {
			t.Errorf("entry %d actor = %+v, want tenantctl %q", e.ID, e.Actor, want.ID)
		}
	}
	want := "tenant.update:acme-co,tenant.update:acme,tenant.create:globex,tenant.create:acme"
	if got := strings.Join(actions, ","); got != want {
		t.Errorf("audit actions (newest first) = %s, want %s", got, want)
	}
	if len(entries) == 4 && (!strings.Contains(string(entries[1].Before), `"active"`) || !strings.Contains(string(entries[1].After), `"suspended"`)) {
		t.Errorf("suspend entry before/after = %s / %s, want the status change", entries[1].Before, entries[1].After)
	}
	for _, secret := range []string{"acme-admin-password-audit", generated} {
		if strings.Contains(out, secret) {
			t.Errorf("audit output holds the password %q", secret)
		}
	}

	out, _ = c.must(0, "audit", "--tenant", "globex")
	if !strings.Contains(out, "tenant.create") || strings.Contains(out, "acme") || !strings.Contains(out, "tenantctl:") {
		t.Errorf("audit --tenant globex = %q, want globex's create by tenantctl only", out)
	}
	// A renamed tenant's history is found under its new subdomain.
	out, _ = c.must(0, "audit", "--tenant", "acme-co")
	if strings.Count(out, "tenant.") != 3 || strings.Contains(out, "globex") {
		t.Errorf("audit --tenant acme-co = %q, want acme's create, suspend and rename", out)
	}
	out, _ = c.must(0, "audit", "--limit", "1", "--json")
	if strings.Count(out, "\n") != 1 || !strings.Contains(out, `"subdomain":"acme-co"`) {
		t.Errorf("audit --limit 1 --json = %q, want the newest entry (the rename) only", out)
	}
	c.must(2, "audit", "--limit", "0")
	c.must(2, "audit", "--limit", "501")
}
