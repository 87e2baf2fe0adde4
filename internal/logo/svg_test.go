package logo

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// hostile SVGs: each must be refused, or come out without what makes it
// dangerous (mustNot, case-insensitive).
var hostileSVGs = []struct {
	name    string
	in      string
	refused bool
	mustNot []string
}{
	{name: "script element", in: `<svg xmlns="http://www.w3.org/2000/svg"><script>document.title='pwned'</script><rect width="1" height="1"/></svg>`, mustNot: []string{"script", "pwned"}},
	{name: "script in CDATA", in: `<svg xmlns="http://www.w3.org/2000/svg"><script><![CDATA[fetch('/x')]]></script></svg>`, mustNot: []string{"script", "fetch"}},
	{name: "namespaced script", in: `<svg xmlns="http://www.w3.org/2000/svg" xmlns:h="http://www.w3.org/1999/xhtml"><h:script>alert(1)</h:script></svg>`, mustNot: []string{"script", "alert"}},
	{name: "onload on root", in: `<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`, mustNot: []string{"onload", "alert"}},
	{name: "upper-case handler", in: `<svg xmlns="http://www.w3.org/2000/svg"><rect ONCLICK="alert(1)" onmouseover="x()"/></svg>`, mustNot: []string{"onclick", "onmouseover", "alert"}},
	{name: "xlink:href javascript", in: `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"><a xlink:href="javascript:alert(1)"><rect/></a><use xlink:href="javascript:alert(2)"/></svg>`, mustNot: []string{"javascript", "alert"}},
	{name: "use href external", in: `<svg xmlns="http://www.w3.org/2000/svg"><use href="https://evil.example/x.svg#a"/><use href="//evil.example/x.svg#b"/></svg>`, mustNot: []string{"evil"}},
	{name: "image external", in: `<svg xmlns="http://www.w3.org/2000/svg"><image href="https://evil.example/track.png"/></svg>`, mustNot: []string{"evil"}},
	{name: "image svg data url", in: `<svg xmlns="http://www.w3.org/2000/svg"><image href="data:image/svg+xml;base64,PHN2Zz48c2NyaXB0Lz48L3N2Zz4="/></svg>`, mustNot: []string{"data:"}},
	{name: "data html href", in: `<svg xmlns="http://www.w3.org/2000/svg"><use href="data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;"/></svg>`, mustNot: []string{"data:", "alert"}},
	{name: "foreignObject", in: `<svg xmlns="http://www.w3.org/2000/svg"><foreignObject><body xmlns="http://www.w3.org/1999/xhtml"><iframe src="https://evil.example"/></body></foreignObject></svg>`, mustNot: []string{"foreignobject", "iframe", "evil"}},
	{name: "animate sets href", in: `<svg xmlns="http://www.w3.org/2000/svg"><a><animate attributeName="href" to="javascript:alert(1)"/><set attributeName="onclick" to="alert(1)"/></a></svg>`, mustNot: []string{"animate", "set ", "javascript", "alert"}},
	{name: "style import", in: `<svg xmlns="http://www.w3.org/2000/svg"><style>@import url(https://evil.example/x.css);</style></svg>`, mustNot: []string{"import", "evil"}},
	{name: "style external url", in: `<svg xmlns="http://www.w3.org/2000/svg"><style>rect{fill:url(https://evil.example/p.svg#g)}</style></svg>`, mustNot: []string{"evil"}},
	{name: "style split by CDATA", in: `<svg xmlns="http://www.w3.org/2000/svg"><style>rect{fill:u<![CDATA[rl(https://evil.example/)]]>}</style></svg>`, mustNot: []string{"evil"}},
	{name: "style escape", in: `<svg xmlns="http://www.w3.org/2000/svg"><rect style="fill:\75rl(https://evil.example/)"/></svg>`, mustNot: []string{"evil"}},
	{name: "style attribute url", in: `<svg xmlns="http://www.w3.org/2000/svg"><rect style="background:url('//evil.example/x')"/><rect fill="url(https://evil.example/#g)"/></svg>`, mustNot: []string{"evil"}},
	{name: "image-set", in: `<svg xmlns="http://www.w3.org/2000/svg"><rect style="fill:image-set('https://evil.example/x' 1x)"/></svg>`, mustNot: []string{"evil"}},
	{name: "doctype", in: `<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd"><svg xmlns="http://www.w3.org/2000/svg"/>`, refused: true},
	{name: "billion laughs", in: `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><svg xmlns="http://www.w3.org/2000/svg"><text>&lol3;</text></svg>`, refused: true},
	{name: "external entity", in: `<!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><svg xmlns="http://www.w3.org/2000/svg"><text>&xxe;</text></svg>`, refused: true},
	{name: "undefined entity", in: `<svg xmlns="http://www.w3.org/2000/svg"><text>&xxe;</text></svg>`, refused: true},
	{name: "html root", in: `<html><script>alert(1)</script></html>`, refused: true},
	{name: "two roots", in: `<svg xmlns="http://www.w3.org/2000/svg"/><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`, refused: true},
	{name: "svg in another namespace", in: `<svg xmlns="http://www.w3.org/1999/xhtml"/>`, refused: true},
	{name: "not well-formed", in: `<svg xmlns="http://www.w3.org/2000/svg"><g></svg>`, refused: true},
	{name: "empty", in: ``, refused: true},
	{name: "too deep", in: `<svg xmlns="http://www.w3.org/2000/svg">` + strings.Repeat("<g>", 100) + strings.Repeat("</g>", 100) + `</svg>`, refused: true},
	{name: "attribute breaks out", in: `<svg xmlns="http://www.w3.org/2000/svg"><rect id="a&quot; onload=&quot;alert(1)"/></svg>`, mustNot: []string{`" onload`}},
}

func TestSanitizeSVGHostile(t *testing.T) {
	for _, tc := range hostileSVGs {
		t.Run(tc.name, func(t *testing.T) {
			out, err := SanitizeSVG([]byte(tc.in))
			if tc.refused {
				var ie *InvalidError
				if !errors.As(err, &ie) {
					t.Fatalf("SanitizeSVG = %q, %v; want an *InvalidError", out, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("SanitizeSVG: %v", err)
			}
			lower := strings.ToLower(string(out))
			for _, bad := range tc.mustNot {
				if strings.Contains(lower, strings.ToLower(bad)) {
					t.Errorf("SanitizeSVG = %s; still contains %q", out, bad)
				}
			}
			checkSafeSVG(t, out)
		})
	}
}

func TestSanitizeSVGKeepsALogo(t *testing.T) {
	in := `<?xml version="1.0" encoding="UTF-8"?>
<!-- made by hand -->
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 100 40" width="100" height="40">
  <defs><linearGradient id="g"><stop offset="0" stop-color="#0a7"/><stop offset="1" stop-color="#07a"/></linearGradient>
  <path id="p" d="M0 0h10v10z"/></defs>
  <style>.t { font-family: sans-serif; fill: url(#g) }</style>
  <rect x="0" y="0" width="100" height="40" rx="6" fill="url(#g)" transform="rotate(0)"/>
  <use xlink:href="#p"/><use href="#p" x="20"/>
  <text x="50" y="25" class="t" text-anchor="middle">Acme &amp; Co</text>
  <image width="1" height="1" href="data:image/png;base64,iVBORw0KGgo="/>
</svg>`
	out, err := SanitizeSVG([]byte(in))
	if err != nil {
		t.Fatalf("SanitizeSVG: %v", err)
	}
	for _, want := range []string{`viewBox="0 0 100 40"`, `<linearGradient id="g">`, `fill="url(#g)"`, `xlink:href="#p"`, `href="#p"`,
		`Acme &amp; Co`, `.t { font-family: sans-serif; fill: url(#g) }`, `href="data:image/png;base64,iVBORw0KGgo="`, `transform="rotate(0)"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("SanitizeSVG dropped %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "made by hand") {
		t.Errorf("SanitizeSVG kept a comment:\n%s", out)
	}
	again, err := SanitizeSVG(out)
	if err != nil || !bytes.Equal(again, out) {
		t.Errorf("SanitizeSVG(SanitizeSVG(x)) = %s, %v; want it unchanged", again, err)
	}
}

// checkSafeSVG parses out and fails on any element or attribute outside the
// allow-lists, and on any link leaving the document.
func checkSafeSVG(t testing.TB, out []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(out))
	d.Strict = true
	for {
		tok, err := d.Token()
		if err != nil {
			if err.Error() == "EOF" {
				return
			}
			t.Fatalf("sanitised SVG does not parse: %v\n%s", err, out)
		}
		switch tk := tok.(type) {
		case xml.Directive:
			t.Fatalf("sanitised SVG has a directive: %s", out)
		case xml.StartElement:
			if !svgElements[tk.Name.Local] || tk.Name.Space != svgNS {
				t.Fatalf("sanitised SVG has element %v: %s", tk.Name, out)
			}
			for _, a := range tk.Attr {
				if a.Name.Space == "xmlns" || a.Name.Local == "xmlns" {
					continue
				}
				name, ok := attrName(a.Name)
				if !ok || strings.HasPrefix(strings.ToLower(name), "on") {
					t.Fatalf("sanitised SVG has attribute %v: %s", a.Name, out)
				}
				if !attrValueSafe(tk.Name.Local, name, a.Value) {
					t.Fatalf("sanitised SVG has %s=%q: %s", name, a.Value, out)
				}
			}
		}
	}
}

func FuzzSanitizeSVG(f *testing.F) {
	for _, tc := range hostileSVGs {
		f.Add([]byte(tc.in))
	}
	f.Add([]byte(`<svg xmlns="http://www.w3.org/2000/svg"><style>a{fill:url(#x)}</style><use href="#x"/><text>a</text></svg>`))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := SanitizeSVG(in)
		if err != nil {
			return
		}
		checkSafeSVG(t, out)
		lower := bytes.ToLower(out)
		for _, bad := range []string{"<script", "<foreignobject", "<a ", "<animate"} {
			if bytes.Contains(lower, []byte(bad)) {
				t.Fatalf("SanitizeSVG(%q) = %q: contains %q", in, out, bad)
			}
		}
		again, err := SanitizeSVG(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("SanitizeSVG is not idempotent on %q: %q → %q, %v", in, out, again, err)
		}
	})
}

// BenchmarkSanitizeSVG sanitises a logo of about 40 KB: 400 paths under a
// gradient, a style sheet and some text.
func BenchmarkSanitizeSVG(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 400 400"><defs><linearGradient id="g"><stop offset="0" stop-color="#0a7"/><stop offset="1" stop-color="#07a"/></linearGradient></defs><style>.a{fill:url(#g);stroke:#333}</style>`)
	for i := range 400 {
		fmt.Fprintf(&sb, `<path class="a" d="M%d %d l10 0 l0 10 z" transform="rotate(%d 200 200)"/>`, i%400, i/4, i)
	}
	sb.WriteString(`<text x="10" y="390">Acme &amp; Co</text></svg>`)
	in := []byte(sb.String())
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := SanitizeSVG(in); err != nil {
			b.Fatal(err)
		}
	}
}
