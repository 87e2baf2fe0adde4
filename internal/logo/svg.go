package logo

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
)

// XML namespaces an SVG logo may use.
const (
	svgNS   = "http://www.w3.org/2000/svg"
	xlinkNS = "http://www.w3.org/1999/xlink"
	xmlNS   = "http://www.w3.org/XML/1998/namespace"
)

// Bounds of an SVG logo's tree.
const (
	maxSVGDepth    = 64
	maxSVGElements = 20_000
)

// svgElements are the elements kept: shapes, text, grouping, gradients,
// clipping and masking, and <image> and <style> under extra checks. Anything
// else (script, foreignObject, a, animate/set, filters, iframe, …) is dropped
// with its whole subtree.
var svgElements = set("svg", "g", "defs", "title", "desc", "symbol", "use", "path", "rect", "circle",
	"ellipse", "line", "polyline", "polygon", "text", "tspan", "textPath", "linearGradient",
	"radialGradient", "stop", "clipPath", "mask", "pattern", "marker", "image", "style")

// svgAttributes are the unprefixed attributes kept: geometry and
// presentation. No event handler (on*) is among them.
var svgAttributes = set("id", "class", "style", "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx", "ry",
	"fx", "fy", "fr", "width", "height", "viewBox", "preserveAspectRatio", "d", "points", "pathLength",
	"fill", "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-linecap", "stroke-linejoin",
	"stroke-miterlimit", "stroke-dasharray", "stroke-dashoffset", "stroke-opacity", "opacity", "color",
	"transform", "gradientUnits", "gradientTransform", "spreadMethod", "offset", "stop-color",
	"stop-opacity", "clip-path", "clip-rule", "clipPathUnits", "mask", "maskUnits", "maskContentUnits",
	"patternUnits", "patternContentUnits", "patternTransform", "markerWidth", "markerHeight",
	"markerUnits", "refX", "refY", "orient", "marker-start", "marker-mid", "marker-end",
	"font-family", "font-size", "font-weight", "font-style", "font-variant", "text-anchor",
	"dominant-baseline", "alignment-baseline", "baseline-shift", "letter-spacing", "word-spacing",
	"text-decoration", "dx", "dy", "rotate", "textLength", "lengthAdjust", "startOffset", "visibility",
	"display", "overflow", "version", "role", "aria-label", "aria-hidden", "shape-rendering",
	"text-rendering", "image-rendering", "vector-effect", "paint-order", "mix-blend-mode", "isolation",
	"href")

// cssFunctions are the CSS functions a style or attribute value may call;
// url() is further limited to a fragment (url(#id)).
var cssFunctions = set("url", "rgb", "rgba", "hsl", "hsla", "translate", "translatex", "translatey",
	"scale", "scalex", "scaley", "rotate", "skewx", "skewy", "matrix", "calc", "var")

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// SanitizeSVG parses data as XML and writes back only what the allow-lists
// keep, so the result cannot run script or load anything from elsewhere:
// no script or foreignObject, no event handler, no link but to a fragment
// of the same document (or an embedded PNG/JPEG/GIF/WebP for <image>), no
// CSS that imports, escapes or calls url() on anything but a fragment.
// Comments and processing instructions are dropped. A DOCTYPE (and with it
// every entity definition: no billion laughs) is refused, as is anything
// that is not well-formed XML with one <svg> root.
func SanitizeSVG(data []byte) ([]byte, error) {
	s := &svgSanitizer{d: xml.NewDecoder(bytes.NewReader(data))}
	s.d.Strict = true // undefined entities, mismatched tags: errors
	s.out.Grow(len(data))
	if err := s.run(); err != nil {
		return nil, err
	}
	return s.out.Bytes(), nil
}

type svgSanitizer struct {
	d        *xml.Decoder
	out      bytes.Buffer
	depth    int      // open elements of the input
	skip     int      // depth of the dropped element being skipped, 0 when none
	elements int      // elements seen
	open     []string // names of the elements written and still open
	roots    int
	style    *strings.Builder // the text of an open <style>, checked as a whole at its end
}

func (s *svgSanitizer) run() error {
	for {
		tok, err := s.d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return invalid("SVG is not well-formed XML: %v", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return invalid("SVG with a DOCTYPE or another <!…> declaration is refused")
		case xml.StartElement:
			if err := s.start(t); err != nil {
				return err
			}
		case xml.EndElement:
			s.end()
		case xml.CharData:
			s.text(t)
		}
		// xml.Comment and xml.ProcInst are dropped.
	}
	if s.roots == 0 {
		return invalid("SVG has no <svg> root element")
	}
	return nil
}

func (s *svgSanitizer) start(t xml.StartElement) error {
	s.depth++
	s.elements++
	if s.depth > maxSVGDepth {
		return invalid("SVG nests deeper than %d elements", maxSVGDepth)
	}
	if s.elements > maxSVGElements {
		return invalid("SVG has more than %d elements", maxSVGElements)
	}
	if s.depth == 1 {
		s.roots++
		if s.roots > 1 || t.Name.Local != "svg" || (t.Name.Space != svgNS && t.Name.Space != "") {
			return invalid("SVG must have exactly one root element, <svg>")
		}
	}
	if s.skip > 0 {
		return nil
	}
	inStyle := s.style != nil
	if inStyle || !svgElements[t.Name.Local] || (t.Name.Space != svgNS && t.Name.Space != "") {
		s.skip = s.depth
		return nil
	}
	s.out.WriteByte('<')
	s.out.WriteString(t.Name.Local)
	if s.depth == 1 {
		s.out.WriteString(` xmlns="` + svgNS + `" xmlns:xlink="` + xlinkNS + `"`)
	}
	written := map[string]bool{}
	for _, a := range t.Attr {
		name, ok := attrName(a.Name)
		if !ok || written[name] || !attrValueSafe(t.Name.Local, name, a.Value) {
			continue
		}
		written[name] = true
		s.out.WriteString(" " + name + `="`)
		_ = xml.EscapeText(&s.out, []byte(a.Value))
		s.out.WriteByte('"')
	}
	s.out.WriteByte('>')
	s.open = append(s.open, t.Name.Local)
	if t.Name.Local == "style" {
		s.style = &strings.Builder{}
	}
	return nil
}

func (s *svgSanitizer) end() {
	defer func() { s.depth-- }()
	if s.skip > 0 {
		if s.depth == s.skip {
			s.skip = 0
		}
		return
	}
	name := s.open[len(s.open)-1]
	s.open = s.open[:len(s.open)-1]
	if name == "style" {
		// The whole sheet is checked at once, so nothing split across
		// text chunks (CDATA, dropped children) slips through.
		if css := s.style.String(); cssSafe(css) {
			_ = xml.EscapeText(&s.out, []byte(css))
		}
		s.style = nil
	}
	s.out.WriteString("</" + name + ">")
}

func (s *svgSanitizer) text(t xml.CharData) {
	if s.skip > 0 || len(s.open) == 0 {
		return
	}
	if s.style != nil {
		s.style.Write(t)
		return
	}
	_ = xml.EscapeText(&s.out, t)
}

// attrName returns how an allowed attribute is written, or false to drop
// it. Namespace declarations are dropped (the root gets its own).
func attrName(n xml.Name) (string, bool) {
	switch n.Space {
	case "":
		return n.Local, svgAttributes[n.Local]
	case xlinkNS:
		return "xlink:href", n.Local == "href"
	case xmlNS:
		return "xml:space", n.Local == "space"
	}
	return "", false
}

// attrValueSafe checks an allowed attribute's value: links must stay in
// the document (or embed a raster image, for <image>), and no value may
// carry CSS that fetches or escapes.
func attrValueSafe(element, name, value string) bool {
	if name == "href" || name == "xlink:href" {
		if element == "image" {
			return embeddedImage(value)
		}
		return fragmentRef(strings.TrimSpace(value))
	}
	return cssSafe(value)
}

// fragmentRef reports whether v is "#id" with a plain id.
func fragmentRef(v string) bool {
	if len(v) < 2 || v[0] != '#' {
		return false
	}
	for _, c := range v[1:] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// embeddedImage reports whether v is a base64 data: URL of a raster image
// (never SVG, which could nest what the sanitiser removed).
func embeddedImage(v string) bool {
	v = strings.TrimSpace(v)
	for _, p := range []string{"data:image/png;base64,", "data:image/jpeg;base64,", "data:image/gif;base64,", "data:image/webp;base64,"} {
		if len(v) > len(p) && strings.EqualFold(v[:len(p)], p) {
			for _, c := range v[len(p):] {
				if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=' || c == ' ' || c == '\n' || c == '\r' || c == '\t') {
					return false
				}
			}
			return true
		}
	}
	return false
}

// cssSafe reports whether s (a style sheet, a style attribute or any
// presentation value) calls only harmless CSS functions, url() only on a
// fragment, with no at-rule (@import, @font-face) and no escape (a
// backslash could spell any of those in disguise).
func cssSafe(s string) bool {
	l := strings.ToLower(s)
	if strings.ContainsAny(l, `\@`) || strings.Contains(l, "javascript:") || strings.Contains(l, "expression") {
		return false
	}
	for i := 0; i < len(l); i++ {
		if l[i] != '(' {
			continue
		}
		j := i
		for j > 0 && (l[j-1] >= 'a' && l[j-1] <= 'z' || l[j-1] >= '0' && l[j-1] <= '9' || l[j-1] == '-') {
			j--
		}
		fn := l[j:i]
		if !cssFunctions[fn] {
			return false
		}
		if fn == "url" && !strings.HasPrefix(strings.TrimLeft(l[i+1:], " \t\r\n\f'\""), "#") {
			return false
		}
	}
	return true
}
