package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// TestCLILimits: set changes only the limits named, "default" and reset
// return them to the edge's default, show prints them (and JSON with null
// for a default), and bad values are bad usage (exit 2) naming the field.
func TestCLILimits(t *testing.T) {
	c := newCLI(t)
	c.insertAcme(5)
	showJSON := func() tenantstore.TenantLimits {
		t.Helper()
		out, _ := c.must(0, "limits", "show", "acme", "--json")
		var v struct {
			Subdomain string                   `json:"subdomain"`
			Limits    tenantstore.TenantLimits `json:"limits"`
		}
		if err := json.Unmarshal([]byte(out), &v); err != nil || v.Subdomain != "acme" {
			t.Fatalf("limits show --json = %q (%v)", out, err)
		}
		return v.Limits
	}
	out, _ := c.must(0, "limits", "show", "acme")
	if strings.Count(out, "default") != 3 {
		t.Errorf("limits show of a new tenant = %q, want three defaults", out)
	}
	out, _ = c.must(0, "limits", "set", "acme", "--rate", "0.5", "--burst", "3")
	if !strings.Contains(out, "0.5/s") || !strings.Contains(out, "3") {
		t.Errorf("limits set output = %q, want the new limits", out)
	}
	c.must(0, "limits", "set", "acme", "--max-in-flight", "7", "--burst", "default")
	l := showJSON()
	if l.RatePerSecond == nil || *l.RatePerSecond != 0.5 || l.Burst != nil || l.MaxInFlight == nil || *l.MaxInFlight != 7 {
		t.Errorf("limits = %+v, want rate 0.5, burst default, in flight 7", l)
	}
	if n := len(c.changes); n == 0 || c.changes[n-1].Subdomains[0] != "acme" {
		t.Errorf("changes told to caches = %+v, want acme's", c.changes)
	}
	for _, tc := range []struct {
		args  []string
		field string
	}{
		{[]string{"--rate", "0"}, "limits.rate_per_second"},
		{[]string{"--rate", "-2"}, "limits.rate_per_second"},
		{[]string{"--rate", "lots"}, "--rate"},
		{[]string{"--burst", "1.5"}, "--burst"},
		{[]string{"--max-in-flight", "0"}, "limits.max_in_flight"},
		{[]string{"--max-in-flight", "99999999999999999999"}, "--max-in-flight"},
		{nil, "needs --rate"},
	} {
		_, errOut := c.must(2, append([]string{"limits", "set", "acme"}, tc.args...)...)
		if !strings.Contains(errOut, tc.field) {
			t.Errorf("limits set %v: stderr %q, want it to name %s", tc.args, errOut, tc.field)
		}
	}
	c.must(0, "limits", "reset", "acme")
	if l := showJSON(); !l.IsDefault() {
		t.Errorf("limits after reset = %+v, want all default", l)
	}
	c.must(1, "limits", "show", "nobody")
	c.must(2, "limits")
}
