package main

import (
	"encoding/json"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantgate/tenantgate/internal/logo"
	"github.com/tenantgate/tenantgate/internal/testenv"
)

func TestCLIBranding(t *testing.T) {
	c := newCLI(t)
	c.must(0, "create", "Acme", "acme", "boss@acme.test")
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	for _, bad := range [][]string{
		{"branding", "set", "acme"},
		{"branding", "set", "acme", "--color", "red"},
		{"branding", "set", "acme", "--color", "#12345"},
		{"branding", "set", "acme", "--display-name", strings.Repeat("x", 101)},
		{"branding", "logo", "acme"},
		{"branding", "logo", "acme", write("a.png", nil), "--remove"},
		{"branding", "logo", "acme", write("big.png", make([]byte, logo.MaxBytes+1))},
		{"branding", "logo", "acme", write("a.gif", []byte("GIF89a"))},
		{"branding", "logo", "acme", write("fake.png", []byte("not a png"))},
		{"branding", "logo", "acme", write("doctype.svg", []byte(`<!DOCTYPE svg><svg xmlns="http://www.w3.org/2000/svg"/>`))},
		{"branding", "logo", "acme", filepath.Join(dir, "missing.png")},
	} {
		c.must(exitUsage, bad...)
	}
	c.must(exitFailed, "branding", "set", "nope", "--color", "#000000")

	out, _ := c.must(0, "branding", "set", "acme", "--display-name", "Acme Rockets", "--color", "#AB12EF")
	if !strings.Contains(out, "Acme Rockets") || !strings.Contains(out, "#ab12ef") {
		t.Errorf("branding set output = %q", out)
	}
	c.must(0, "branding", "set", "acme", "--color", "#00ff00") // the name is kept
	out, _ = c.must(0, "branding", "logo", "acme", write("logo.png", testenv.PNG(4, 4, color.White)))
	if !strings.Contains(out, "image/png, sha256 ") {
		t.Errorf("branding logo output = %q", out)
	}
	out, _ = c.must(0, "branding", "show", "acme", "--json")
	var b map[string]any
	if err := json.Unmarshal([]byte(out), &b); err != nil || b["display_name"] != "Acme Rockets" || b["primary_color"] != "#00ff00" || b["logo_content_type"] != "image/png" {
		t.Errorf("branding show --json = %s (%v)", out, err)
	}
	// An SVG without an extension is recognised and stored sanitised.
	c.must(0, "branding", "logo", "acme", write("logo", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="x()"><rect/></svg>`)))
	if out, _ = c.must(0, "branding", "show", "acme"); !strings.Contains(out, "image/svg+xml") || !strings.Contains(out, "Acme Rockets") {
		t.Errorf("branding show = %s", out)
	}
	c.must(0, "branding", "logo", "acme", "--remove")
	if out, _ = c.must(0, "branding", "show", "acme"); strings.Contains(out, "sha256") {
		t.Errorf("branding show after --remove = %s", out)
	}
}
