package clientinfo

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestClientIPAndScheme(t *testing.T) {
	p := Proxies(DefaultTrustedProxies)
	tests := []struct {
		name      string
		remote    string
		xff       []string
		proto     string
		tls       bool
		wantIP    string
		wantHTTPS bool
	}{
		{"direct client", "203.0.113.7:5000", nil, "", false, "203.0.113.7", false},
		{"direct client lying", "203.0.113.7:5000", []string{"198.51.100.1"}, "https", false, "203.0.113.7", false},
		{"edge on loopback", "127.0.0.1:5000", []string{"198.51.100.1"}, "https", false, "198.51.100.1", true},
		{"edge appends to a client's list: rightmost wins", "127.0.0.1:5000", []string{"10.0.0.1, 198.51.100.2"}, "http", false, "198.51.100.2", false},
		{"several header lines: the last one", "[::1]:5000", []string{"10.0.0.1", "2001:db8::5"}, "", false, "2001:db8::5", false},
		{"edge without X-Forwarded-For", "127.0.0.1:5000", nil, "", false, "127.0.0.1", false},
		{"garbage X-Forwarded-For", "127.0.0.1:5000", []string{"not an ip"}, "", false, "127.0.0.1", false},
		{"local client through the edge", "127.0.0.1:5000", []string{"127.0.0.1"}, "", false, "127.0.0.1", false},
		{"trusted hops are skipped, forged entries left of the client are not read", "127.0.0.1:5000", []string{"203.0.113.99, 198.51.100.4, 127.0.0.2"}, "", false, "198.51.100.4", false},
		{"TLS here", "203.0.113.7:5000", nil, "", true, "203.0.113.7", true},
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
			if got := p.ClientIP(r); got != tc.wantIP {
				t.Errorf("clientIP = %q, want %q", got, tc.wantIP)
			}
			if got := p.IsHTTPS(r); got != tc.wantHTTPS {
				t.Errorf("isHTTPS = %v, want %v", got, tc.wantHTTPS)
			}
		})
	}
}

func TestIPBucket(t *testing.T) {
	for ip, want := range map[string]string{
		"198.51.100.7":          "198.51.100.7",
		"2001:db8:1:2:aaaa::1":  "2001:db8:1:2::/64",
		"2001:db8:1:2:bbbb::99": "2001:db8:1:2::/64",
		"unknown":               "unknown",
	} {
		if got := IPBucket(ip); got != want {
			t.Errorf("IPBucket(%q) = %q, want %q", ip, got, want)
		}
	}
}

func TestParseTrustedProxies(t *testing.T) {
	got, err := ParseTrustedProxies(" 10.0.0.0/8, 192.0.2.1 ,::1")
	if err != nil || len(got) != 3 || got[1].String() != "192.0.2.1/32" || got[2].String() != "::1/128" {
		t.Errorf("ParseTrustedProxies = %v, %v; want 10.0.0.0/8, 192.0.2.1/32, ::1/128", got, err)
	}
	if _, err := ParseTrustedProxies("10.0.0.0/8,example.com"); err == nil {
		t.Error("ParseTrustedProxies(a host name) succeeded, want an error")
	}
}
