package webpage

import (
	"bytes"
	"strings"
	"testing"
	"testing/fstest"
)

func TestBrandStyle(t *testing.T) {
	for _, tc := range []struct{ color, css string }{
		{"#ffffff", ":root{--brand:#ffffff;--brand-ink:#1d2433}"},
		{"#C0FFEE", ":root{--brand:#c0ffee;--brand-ink:#1d2433}"},
		{"#000000", ":root{--brand:#000000;--brand-ink:#ffffff}"},
		{"#b4141e", ":root{--brand:#b4141e;--brand-ink:#ffffff}"},
		{"", ""},
		{"red", ""},
		{"#000;}body{display:none", ""},
		{"#00000g", ""},
	} {
		css, src := brandStyle(tc.color)
		if string(css) != tc.css || (tc.css == "") != (src == "") {
			t.Errorf("brandStyle(%q) = %q, %q; want %q", tc.color, css, src, tc.css)
		}
		if src != "" && !strings.HasPrefix(src, "'sha256-") {
			t.Errorf("brandStyle(%q) source = %q, want a CSP hash", tc.color, src)
		}
	}
}

// TestMustParseParts: a file without "content" is a part every page may
// use, not a page.
func TestMustParseParts(t *testing.T) {
	fsys := fstest.MapFS{
		"web/layout.html":       {Data: []byte(`<main>{{template "content" .}}</main>`)},
		"web/tenant.html":       {Data: []byte(`{{define "content"}}page {{template "tenant_extra" .}}{{end}}`)},
		"web/tenant_extra.html": {Data: []byte(`{{define "tenant_extra"}}extra {{.Title}}{{end}}`)},
	}
	set := MustParse(fsys, "web")
	if _, ok := set["tenant_extra"]; ok || len(set) != 1 {
		t.Fatalf("MustParse pages = %v, want only tenant", set)
	}
	var buf bytes.Buffer
	if err := set["tenant"].Execute(&buf, &Data{Title: "T"}); err != nil || buf.String() != "<main>page extra T</main>" {
		t.Errorf("tenant page = %q, %v; want the part included", buf.String(), err)
	}
}
