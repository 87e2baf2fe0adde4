package appserver

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/tenantgate/tenantgate/internal/loginlimit"
)

// Login throttling (SPEC §9). Every login attempt is counted before the
// password is checked and given back when it succeeds, so the limits are on
// failures; over any of them the login answers 429 too_many_attempts with
// Retry-After, even with the right password.
var (
	// LoginAccountRule limits failed logins per (tenant, e-mail): a
	// password guesser gets 5 tries per 15 minutes per account.
	LoginAccountRule = loginlimit.Rule{Max: 5, Window: 15 * time.Minute}
	// LoginIPRule limits failed logins per client IP, whatever the tenant
	// or e-mail: guessing across many accounts from one address.
	LoginIPRule = loginlimit.Rule{Max: 20, Window: time.Minute}
	// AdminLoginIPRule limits failed admin-dashboard token logins per
	// client IP.
	AdminLoginIPRule = loginlimit.Rule{Max: 10, Window: 15 * time.Minute}
)

// DefaultTrustedProxies are the peers whose X-Forwarded-For and
// X-Forwarded-Proto are believed when TRUSTED_PROXIES is unset: loopback,
// where the development edge runs.
var DefaultTrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// ParseTrustedProxies parses TRUSTED_PROXIES: comma-separated IP addresses
// or CIDR prefixes.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an IP address nor a CIDR prefix", f)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// proxies are the trusted proxies: the edge, which replaces whatever
// X-Forwarded-* a client sent with what it saw itself.
type proxies []netip.Prefix

// peer is the direct peer's address, or the zero Addr.
func peer(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

func (p proxies) trusted(a netip.Addr) bool {
	for _, pre := range p {
		if a.IsValid() && pre.Contains(a) {
			return true
		}
	}
	return false
}

// lastValue is the rightmost comma-separated entry of header h: the one the
// nearest proxy set.
func lastValue(r *http.Request, h string) string {
	vs := r.Header.Values(h)
	if len(vs) == 0 {
		return ""
	}
	v := vs[len(vs)-1]
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return strings.TrimSpace(v)
}

// clientIP is the IP the edge saw: when the direct peer is a trusted proxy,
// the rightmost X-Forwarded-For entry that is not itself a trusted proxy
// (a load balancer in front of the edge, when TRUSTED_PROXIES names it);
// the peer's address otherwise. A client's own X-Forwarded-For never counts:
// the edge (Caddy's reverse_proxy, no trusted_proxies of its own) replaces
// it, and entries left of the first untrusted one are never read.
func (p proxies) clientIP(r *http.Request) string {
	a := peer(r)
	if !a.IsValid() {
		return "unknown"
	}
	if !p.trusted(a) {
		return a.String()
	}
	vs := r.Header.Values("X-Forwarded-For")
	for i := len(vs) - 1; i >= 0; i-- {
		entries := strings.Split(vs[i], ",")
		for j := len(entries) - 1; j >= 0; j-- {
			f, err := netip.ParseAddr(strings.TrimSpace(entries[j]))
			if err != nil {
				return a.String() // a hop we cannot read: stop at what we know
			}
			a = f.Unmap()
			if !p.trusted(a) {
				return a.String()
			}
		}
	}
	return a.String()
}

// isHTTPS reports whether the client reached us over HTTPS: TLS here, or
// X-Forwarded-Proto https from a trusted proxy.
func (p proxies) isHTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	return p.trusted(peer(r)) && strings.EqualFold(lastValue(r, "X-Forwarded-Proto"), "https")
}

// tenantLoginKeys are the counters of a tenant login: the (tenant, e-mail)
// account, hashed so no address is stored in Redis, and the client IP.
func tenantLoginKeys(tenantID, email, ip string) []loginlimit.Key {
	sum := sha256.Sum256([]byte(tenantID + "\x00" + strings.ToLower(email)))
	return []loginlimit.Key{
		{Name: "account:" + hex.EncodeToString(sum[:16]), Rule: LoginAccountRule},
		{Name: "ip:" + ipBucket(ip), Rule: LoginIPRule},
	}
}

// adminLoginKeys are the counters of a dashboard token login.
func adminLoginKeys(ip string) []loginlimit.Key {
	return []loginlimit.Key{{Name: "admin:ip:" + ipBucket(ip), Rule: AdminLoginIPRule}}
}

// ipBucket is what the per-IP limits count: the address for IPv4, its /64
// for IPv6, since one client usually holds a whole /64 and could otherwise
// take a fresh address for every few guesses.
func ipBucket(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Is4() {
		return ip
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// tooManyAttempts is the 429 of a refused login attempt.
func tooManyAttempts(err error) *Error {
	retry := time.Minute
	var le *loginlimit.LimitedError
	if errors.As(err, &le) {
		retry = le.RetryAfter
	}
	secs := max(int((retry+time.Second-1)/time.Second), 1)
	return &Error{Status: http.StatusTooManyRequests, Code: "too_many_attempts",
		Message:    "too many login attempts; try again in " + strconv.Itoa(secs) + " s",
		RetryAfter: secs}
}
