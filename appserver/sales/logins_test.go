package sales

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tenantgate/tenantgate/appserver/clientinfo"
)

// TestSessionCookieFollowsScheme: the session cookie's name follows the
// scheme the client used, as clientinfo reads it (the cases of
// clientinfo.TestClientIPAndScheme).
func TestSessionCookieFollowsScheme(t *testing.T) {
	p := clientinfo.Proxies(clientinfo.DefaultTrustedProxies)
	tests := []struct {
		name       string
		remote     string
		xff        []string
		proto      string
		tls        bool
		wantCookie string
	}{
		{"direct client", "203.0.113.7:5000", nil, "", false, SessionCookie},
		{"direct client lying", "203.0.113.7:5000", []string{"198.51.100.1"}, "https", false, SessionCookie},
		{"edge on loopback", "127.0.0.1:5000", []string{"198.51.100.1"}, "https", false, SecureSessionCookie},
		{"edge appends to a client's list: rightmost wins", "127.0.0.1:5000", []string{"10.0.0.1, 198.51.100.2"}, "http", false, SessionCookie},
		{"several header lines: the last one", "[::1]:5000", []string{"10.0.0.1", "2001:db8::5"}, "", false, SessionCookie},
		{"edge without X-Forwarded-For", "127.0.0.1:5000", nil, "", false, SessionCookie},
		{"garbage X-Forwarded-For", "127.0.0.1:5000", []string{"not an ip"}, "", false, SessionCookie},
		{"local client through the edge", "127.0.0.1:5000", []string{"127.0.0.1"}, "", false, SessionCookie},
		{"trusted hops are skipped, forged entries left of the client are not read", "127.0.0.1:5000", []string{"203.0.113.99, 198.51.100.4, 127.0.0.2"}, "", false, SessionCookie},
		{"TLS here", "203.0.113.7:5000", nil, "", true, SecureSessionCookie},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if tc.proto != "" {
				r.Header.Set("X-Forwarded-Proto", tc.proto)
			}
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			if got := (&Server{proxies: p}).sessionCookie(r); got != tc.wantCookie {
				t.Errorf("sessionCookie = %q, want %q", got, tc.wantCookie)
			}
		})
	}
}
