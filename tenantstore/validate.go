package tenantstore

import (
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// DefaultReservedSubdomains are subdomains no tenant may take, because the
// edge or the operators use them.
var DefaultReservedSubdomains = []string{"admin", "www", "api", "app", "static", "assets", "mail", "localhost"}

// MaxSubdomainLength is the longest subdomain: one DNS label.
const MaxSubdomainLength = 63

// NormalizeSubdomain lower-cases s and checks it against the rules of a
// subdomain: 1–63 characters of a-z, 0-9 and '-', not starting or ending with
// '-', and not one of reserved. A label starting with "xn--" must be a valid
// IDNA A-label (see validALabel). The error is a *ValidationError for field
// "subdomain".
func NormalizeSubdomain(s string, reserved []string) (string, error) {
	s = strings.ToLower(s)
	if s == "" {
		return "", invalid("subdomain", "must not be empty")
	}
	if len(s) > MaxSubdomainLength {
		return "", invalid("subdomain", "must be at most %d characters", MaxSubdomainLength)
	}
	if !isLabel(s) {
		return "", invalid("subdomain", "use only a-z, 0-9 and '-', not at the start or end")
	}
	if !validALabel(s) {
		return "", invalid("subdomain", "%q starts with xn-- but is not a valid internationalized (IDNA) name", s)
	}
	if slices.Contains(reserved, s) {
		return "", invalid("subdomain", "%q is reserved", s)
	}
	return s, nil
}

// isLabel reports whether s is a lower-case DNS label of letters, digits and
// inner hyphens. s must already be lower-case.
func isLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// validALabel reports whether a DNS label (lower-case LDH) is acceptable as
// far as IDNA goes: a label that does not start with "xn--" always is; one
// that does must be a valid A-label under the IDNA2008 registration rules,
// the encoding of a Unicode name that encodes back to exactly the same
// label. Anything else ("xn--a", "xn--beta-" for plain ASCII) is a name that
// browsers refuse or show differently from what the operator typed.
func validALabel(label string) bool {
	if !strings.HasPrefix(label, "xn--") {
		return true
	}
	u, err := idna.Registration.ToUnicode(label)
	if err != nil || u == label {
		return false
	}
	back, err := idna.Registration.ToASCII(u)
	return err == nil && back == label
}

// NormalizeDomain checks a tenant's custom hostname and returns its
// normalised form (see NormalizeHost): a DNS name of at least two labels,
// without port, user info or brackets, every xn-- label a valid A-label, and
// not an IP address in any spelling: its last label may not be all digits
// nor 0x-hex, which browsers and resolvers read as an IPv4 address ("127.1",
// "10.0.0.0x1"). The error is a *ValidationError for field "hostname".
func NormalizeDomain(hostname string) (string, error) {
	hostname = strings.TrimSpace(hostname)
	h, ok := NormalizeHost(hostname)
	if !ok || strings.Contains(hostname, ":") || !strings.Contains(h, ".") {
		return "", invalid("hostname", "must be a DNS name such as shop.example.com")
	}
	if numericLabel(h[strings.LastIndexByte(h, '.')+1:]) {
		return "", invalid("hostname", "must be a DNS name such as shop.example.com, not an IP address")
	}
	for label := range strings.SplitSeq(h, ".") {
		if !validALabel(label) {
			return "", invalid("hostname", "label %q starts with xn-- but is not a valid internationalized (IDNA) name", label)
		}
	}
	return h, nil
}

// numericLabel reports whether a lower-case label reads as a number in an
// IPv4 address: all decimal digits, or 0x followed by hex digits.
func numericLabel(label string) bool {
	digits := "0123456789"
	if rest, ok := strings.CutPrefix(label, "0x"); ok {
		label, digits = rest, "0123456789abcdef"
	}
	for i := 0; i < len(label); i++ {
		if strings.IndexByte(digits, label[i]) < 0 {
			return false
		}
	}
	return true
}

// MaxTextLength bounds a free-text field such as a location's address.
const MaxTextLength = 500

// ValidateText checks a free-text value shown to operators and users (a
// tenant's or location's name, an address): valid UTF-8, at most max runes,
// and only printable runes — letters, marks, digits, punctuation, symbols
// and the ASCII space (unicode.IsPrint). That refuses control characters
// (C0, DEL, C1: terminal escape sequences, newlines that fake table rows),
// other spaces and separators (U+2028, U+2029, NBSP), and format characters
// (bidi overrides and isolates, zero-width characters), which let a name
// look like something else. The error is a *ValidationError naming field.
func ValidateText(field, s string, max int) error {
	if !utf8.ValidString(s) {
		return invalid(field, "must be valid UTF-8")
	}
	if n := utf8.RuneCountInString(s); n > max {
		return invalid(field, "must be at most %d characters", max)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return invalid(field, "must not contain control, formatting or invisible characters (found %U)", r)
		}
	}
	return nil
}

// NormalizeHost turns the Host of a request into the name used for lookups:
// lower-case, without port and trailing dot. It fails for anything that is
// not a valid DNS host name (IP literals, user info, empty labels, over 253
// bytes). It does not allocate when host is already normal.
func NormalizeHost(host string) (string, bool) {
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		port := host[i+1:]
		for j := 0; j < len(port); j++ {
			if port[j] < '0' || port[j] > '9' {
				return "", false
			}
		}
		host = host[:i]
	}
	host = strings.TrimSuffix(host, ".")
	if host == "" || len(host) > 253 {
		return "", false
	}
	lower := true
	for i := 0; i < len(host); i++ {
		if c := host[i]; c >= 'A' && c <= 'Z' {
			lower = false
			break
		}
	}
	if !lower {
		host = strings.ToLower(host)
	}
	for label := range strings.SplitSeq(host, ".") {
		if !isLabel(label) {
			return "", false
		}
	}
	return host, true
}

// SubdomainOf returns the subdomain when host is exactly
// "<subdomain>.<baseDomain>" (one label below the base domain). Both
// arguments must be normalised.
func SubdomainOf(host, baseDomain string) (string, bool) {
	if len(host) <= len(baseDomain)+1 || !strings.HasSuffix(host, baseDomain) || host[len(host)-len(baseDomain)-1] != '.' {
		return "", false
	}
	sub := host[:len(host)-len(baseDomain)-1]
	if strings.IndexByte(sub, '.') >= 0 {
		return "", false
	}
	return sub, true
}

// ValidateEmail checks an e-mail address and names field in the error. Like
// names, an address may hold printable runes only (ValidateText): net/mail
// alone lets bidi overrides and zero-width characters through.
func ValidateEmail(field, addr string) error {
	a, err := mail.ParseAddress(addr)
	if err != nil || a.Address != addr || !strings.Contains(addr[strings.LastIndexByte(addr, '@')+1:], ".") && !strings.HasSuffix(addr, "@localhost") {
		return invalid(field, "must be a valid e-mail address")
	}
	if err := ValidateText(field, addr, MaxTextLength); err != nil {
		return err
	}
	return nil
}

// RedactURL returns a database or Redis URL with its password replaced by
// "xxxxx", for logs and output. Anything that does not parse is redacted
// whole.
func RedactURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "[redacted]"
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
