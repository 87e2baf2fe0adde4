package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tenantgate/tenantgate/internal/testenv"
)

func TestCLIServers(t *testing.T) {
	c := newCLI(t)
	second := testenv.StartPostgres(t)
	const secret = "cli-operator-secret-55d1"
	c.env["SECOND_PASSWORD"] = secret
	leaks := func(outs ...string) {
		t.Helper()
		for _, o := range outs {
			if strings.Contains(o, secret) {
				t.Errorf("tenantctl output shows the operator password:\n%s", o)
			}
		}
	}

	for _, bad := range [][]string{
		{"servers", "add", "Bad Name", second},
		{"servers", "add", "second", strings.Replace(second, "postgres@", "postgres:"+secret+"@", 1)},
		{"servers", "add", "second", second, "--password-env", "ADMIN_TOKENS"},
		{"servers", "add", "second", second, "--capacity", "0"},
		{"servers", "add", "second"},
		{"servers", "set", "default", "--capacity", "-1"},
		{"move", "acme", "--to-server", "second", "--new-url", second},
	} {
		out, errs := c.must(exitUsage, bad...)
		leaks(out, errs)
	}
	out, errs := c.must(0, "servers", "add", "second", second, "--password-env", "SECOND_PASSWORD", "--capacity", "4")
	leaks(out, errs)
	if !strings.Contains(out, "registered database server second") {
		t.Errorf("servers add output = %q", out)
	}
	c.must(0, "servers", "set", "default", "--capacity", "4")

	c.must(0, "servers", "drain", "second")
	out, _ = c.must(0, "create", "Acme", "acme", "boss@acme.test")
	if !strings.Contains(out, "on server default") {
		t.Errorf("create with second draining = %q, want it on default", out)
	}
	_, errs = c.must(1, "create", "Globex", "globex", "boss@globex.test", "--server", "second")
	if !strings.Contains(errs, "draining") {
		t.Errorf("create --server on a draining server: stderr %q, want it to say so", errs)
	}
	c.must(0, "servers", "undrain", "second")
	out, _ = c.must(0, "create", "Globex", "globex", "boss@globex.test")
	if !strings.Contains(out, "on server second") {
		t.Errorf("create with default holding one tenant = %q, want it on second", out)
	}

	out, errs = c.must(0, "show", "globex")
	leaks(out, errs)
	if !strings.Contains(out, "database server:") || !strings.Contains(out, "second (127.0.0.1:") || !strings.Contains(out, "open connection(s)") {
		t.Errorf("show globex = %s, want its server, size and connections", out)
	}

	out, errs = c.must(0, "move", "acme", "--to-server", "second", "--drain", "100ms")
	leaks(out, errs)
	out, errs = c.must(0, "servers", "list", "--json")
	leaks(out, errs)
	got := map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var s map[string]any
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatalf("servers list --json line %q: %v", line, err)
		}
		name, _ := s["name"].(string)
		got[name] = s
	}
	if s := got["second"]; s == nil || s["tenants"] != 2.0 || s["size_bytes"] == nil || s["connections"] == nil || s["password_env"] != "SECOND_PASSWORD" {
		t.Errorf("servers list --json = %s, want second with both tenants, a size and connections", out)
	}
	if s := got["default"]; s == nil || s["tenants"] != 0.0 {
		t.Errorf("servers list --json = %s, want default empty after the move", out)
	}
	out, errs = c.must(0, "servers", "list")
	leaks(out, errs)
	for _, want := range []string{"NAME", "CAPACITY", "second", "default", "/50", "MB"} {
		if !strings.Contains(out, want) {
			t.Errorf("servers list = %s, want %q in it", out, want)
		}
	}
	c.must(exitUsage, "move", "acme", "--to-server", "nowhere")
}
