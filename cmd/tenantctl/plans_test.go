package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// TestCLIPlansAndFeatures: plans list (table and JSON), plans set creating
// then updating a plan (caches told about its tenants), features set with
// on, off and default, show printing plan and effective features, and bad
// input as bad usage (exit 2) naming what is wrong.
func TestCLIPlansAndFeatures(t *testing.T) {
	c := newCLI(t)
	ctx := context.Background()
	store := c.insertAcme(0)

	out, _ := c.must(0, "plans", "list")
	if !strings.Contains(out, "standard (default)") || !strings.Contains(out, "free") || !strings.Contains(out, "enterprise") {
		t.Errorf("plans list = %q, want the seeded plans with standard the default", out)
	}
	out, _ = c.must(0, "plans", "set", "team", "--max-users", "20", "--rate", "50", "--feature", "reports=off")
	if !strings.Contains(out, "reports off") || !strings.Contains(out, "50/s") {
		t.Errorf("plans set team (create) = %q", out)
	}
	out, _ = c.must(0, "plans", "list", "--json")
	found := false
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var p tenantstore.Plan
		if err := json.Unmarshal([]byte(line), &p); err != nil {
			t.Fatalf("plans list --json line %q: %v", line, err)
		}
		if p.Name == "team" {
			found = p.MaxUsers == 20 && !p.Features["reports"]
		}
	}
	if !found {
		t.Errorf("plans list --json = %q, want team with 20 users and reports off", out)
	}

	out, _ = c.must(0, "features", "set", "acme", "expenses=off", "locations=on")
	if !strings.Contains(out, "expenses off (override)") || !strings.Contains(out, "reports on") {
		t.Errorf("features set = %q, want expenses off (override), reports on", out)
	}
	store.SetNotifier(nil)
	tn, err := store.GetBySubdomain(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	tn.Plan = "team"
	if err := store.Update(ctx, tn); err != nil {
		t.Fatal(err)
	}
	c.changes = nil
	c.must(0, "plans", "set", "team", "--feature", "locations=off", "--burst", "10")
	if len(c.changes) == 0 || c.changes[len(c.changes)-1].Subdomains[0] != "acme" {
		t.Errorf("changes told to caches after plans set = %+v, want acme's (on team)", c.changes)
	}
	if out, _ := c.must(0, "limits", "show", "acme"); !strings.Contains(out, "50/s (from plan team)") || !strings.Contains(out, "10 (from plan team)") {
		t.Errorf("limits show acme = %q, want team's rate 50/s and burst 10 shown as the plan's", out)
	}
	c.must(0, "features", "set", "acme", "expenses=default", "locations=on")
	out, _ = c.must(0, "show", "acme")
	for _, want := range []string{"team", "20 (the plan's)", "expenses on", "locations on (override)", "reports off"} {
		if !strings.Contains(out, want) {
			t.Errorf("show acme = %q, want it to contain %q", out, want)
		}
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"features", "set", "acme", "warp=on"}, "features.warp"},
		{[]string{"features", "set", "acme", "reports=maybe"}, "on, off or default"},
		{[]string{"features", "set", "acme", "reports"}, "<feature>=on|off|default"},
		{[]string{"features", "set", "acme"}, "at least one"},
		{[]string{"plans", "set", "team", "--max-users", "0"}, "max_users"},
		{[]string{"plans", "set", "Bad Name"}, "name"},
		{[]string{"plans", "set", "team", "--burst", "-4"}, "limits.burst"},
		{[]string{"plans", "set", "team", "--feature", "teleport=on"}, "features.teleport"},
	} {
		_, errOut := c.must(2, tc.args...)
		if !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: stderr %q, want it to name %s", tc.args, errOut, tc.want)
		}
	}
	c.must(1, "features", "set", "nobody", "reports=on")
}
