// Package clientinfo is what the appserver may believe about a client behind
// the edge: its IP and scheme, read from X-Forwarded-For and
// X-Forwarded-Proto only when the direct peer is a trusted proxy, the bucket
// per-IP limits count, and whether an Origin names the request's own host.
// It imports tenantstore only; appserver and its rooms use it.
package clientinfo

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/tenantgate/tenantgate/tenantstore"
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

// Proxies are the trusted Proxies: the edge, which replaces whatever
// X-Forwarded-* a client sent with what it saw itself.
type Proxies []netip.Prefix

// peer is the direct peer's address, or the zero Addr.
func peer(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

func (p Proxies) trusted(a netip.Addr) bool {
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

// ClientIP is the IP the edge saw: when the direct peer is a trusted proxy,
// the rightmost X-Forwarded-For entry that is not itself a trusted proxy
// (a load balancer in front of the edge, when TRUSTED_PROXIES names it);
// the peer's address otherwise. A client's own X-Forwarded-For never counts:
// the edge (Caddy's reverse_proxy, no trusted_proxies of its own) replaces
// it, and entries left of the first untrusted one are never read.
func (p Proxies) ClientIP(r *http.Request) string {
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

// IsHTTPS reports whether the client reached us over HTTPS: TLS here, or
// X-Forwarded-Proto https from a trusted proxy.
func (p Proxies) IsHTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	return p.trusted(peer(r)) && strings.EqualFold(lastValue(r, "X-Forwarded-Proto"), "https")
}

// IPBucket is what the per-IP limits count: the address for IPv4, its /64
// for IPv6, since one client usually holds a whole /64 and could otherwise
// take a fresh address for every few guesses.
func IPBucket(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Is4() {
		return ip
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// SafeMethod reports whether m is GET, HEAD or OPTIONS, which change nothing.
func SafeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// SameHost reports whether the URL origin (an Origin or Referer value) names
// the request host, ignoring case and port.
func SameHost(origin, requestHost string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	a, ok1 := tenantstore.NormalizeHost(u.Host)
	b, ok2 := tenantstore.NormalizeHost(requestHost)
	return ok1 && ok2 && a == b
}
