package tenantstore

import (
	"net/mail"
	"net/url"
	"slices"
	"strings"
)

// DefaultReservedSubdomains are subdomains no tenant may take, because the
// edge or the operators use them.
var DefaultReservedSubdomains = []string{"admin", "www", "api", "app", "static", "assets", "mail", "localhost"}

// MaxSubdomainLength is the longest subdomain: one DNS label.
const MaxSubdomainLength = 63

// NormalizeSubdomain lower-cases s and checks it against the rules of a
// subdomain: 1–63 characters of a-z, 0-9 and '-', not starting or ending with
// '-', and not one of reserved. The error is a *ValidationError for field
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

// ValidateEmail checks an e-mail address and names field in the error.
func ValidateEmail(field, addr string) error {
	a, err := mail.ParseAddress(addr)
	if err != nil || a.Address != addr || !strings.Contains(addr[strings.LastIndexByte(addr, '@')+1:], ".") && !strings.HasSuffix(addr, "@localhost") {
		return invalid(field, "must be a valid e-mail address")
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
