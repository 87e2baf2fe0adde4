package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/internal/testenv"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// TestEdgeHTTPSRefusalPages: over HTTPS, as a browser arrives, a suspended
// tenant and one in maintenance get a certificate, so the handshake
// succeeds and the browser shows the edge's 403 or 503 page instead of a
// TLS error; an unknown name still gets no certificate (issue 13 item 7).
func TestEdgeHTTPSRefusalPages(t *testing.T) {
	w := newWorld(t, "")
	ctx := context.Background()
	if err := w.store.Insert(ctx, &tenantstore.Tenant{Name: "Initech", Subdomain: "initech", AdminEmail: "boss@initech.test",
		Status: tenantstore.StatusMaintenance, MaxUsers: 5, DatabaseName: "x_initech"}); err != nil {
		t.Fatalf("inserting tenant initech: %v", err)
	}
	roots := localCA(t, w.edge.dataDir)
	addr := fmt.Sprintf("127.0.0.1:%d", w.edge.httpsPort)
	browser := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}

	tests := []struct {
		host       string
		wantStatus int
		wantText   string
	}{
		{"umbrella.localhost", http.StatusForbidden, "suspended"},
		{"initech.localhost", http.StatusServiceUnavailable, "maintenance"},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, "https://"+tt.host+"/invoices", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Accept", "text/html,application/xhtml+xml")
			resp, err := browser.Do(req)
			if err != nil {
				t.Fatalf("GET https://%s/invoices: %v, want the handshake to succeed and a %d page", tt.host, err, tt.wantStatus)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("GET https://%s/invoices = %d, want %d", tt.host, resp.StatusCode, tt.wantStatus)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || !strings.Contains(string(body), tt.wantText) {
				t.Errorf("GET https://%s/invoices: Content-Type %q, body %q; want an HTML page saying %q", tt.host, ct, body, tt.wantText)
			}
			if cert := resp.TLS.PeerCertificates[0]; cert.VerifyHostname(tt.host) != nil {
				t.Errorf("certificate for %s names %v", tt.host, cert.DNSNames)
			}
		})
	}

	t.Run("unknown name gets no certificate", func(t *testing.T) {
		for _, name := range []string{"nobody.localhost", "evil.example.org"} {
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
				&tls.Config{ServerName: name, InsecureSkipVerify: true})
			if err == nil {
				conn.Close()
				t.Errorf("TLS handshake for %s succeeded, want it refused", name)
			}
			if issued, _ := filepath.Glob(filepath.Join(w.edge.dataDir, "caddy", "certificates", "*", name)); len(issued) > 0 {
				t.Errorf("a certificate was issued for %s: %v", name, issued)
			}
		}
	})
}

// localCA loads the root certificate of Caddy's local CA from the edge's
// data directory.
func localCA(t *testing.T, dataDir string) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join(dataDir, "caddy", "pki", "authorities", "local", "root.crt"))
	if err != nil {
		t.Fatalf("reading the local CA root: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	return roots
}

// TestProductionRedirectsHTTPToHTTPS adapts Caddyfile.production with the
// real bin/caddy and checks that the server on the HTTP port answers every
// request with a permanent redirect to the same host and URI over HTTPS.
func TestProductionRedirectsHTTPToHTTPS(t *testing.T) {
	testenv.Integration(t)
	cfg := adaptProduction(t)
	var doc struct {
		Apps struct {
			HTTP struct {
				Servers map[string]struct {
					Listen []string          `json:"listen"`
					Routes []json.RawMessage `json:"routes"`
				} `json:"servers"`
			} `json:"http"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(cfg, &doc); err != nil {
		t.Fatalf("adapted JSON: %v\n%s", err, cfg)
	}
	found := false
	for name, srv := range doc.Apps.HTTP.Servers {
		if len(srv.Listen) != 1 || srv.Listen[0] != ":80" {
			continue
		}
		found = true
		if len(srv.Routes) != 1 {
			t.Errorf("server %s on :80 has %d routes, want one catch-all redirect", name, len(srv.Routes))
			continue
		}
		var route struct {
			Match  []json.RawMessage `json:"match"`
			Handle []json.RawMessage `json:"handle"`
		}
		_ = json.Unmarshal(srv.Routes[0], &route)
		if len(route.Match) != 0 {
			t.Errorf("the redirect on :80 matches %s, want every request", route.Match)
		}
		var all []map[string]any
		for _, h := range route.Handle {
			var m map[string]any
			_ = json.Unmarshal(h, &m)
			all = append(all, flattenSubroutes(m)...)
		}
		ok := false
		for _, h := range all {
			hdr, _ := h["headers"].(map[string]any)
			loc, _ := hdr["Location"].([]any)
			if h["handler"] == "static_response" && fmt.Sprint(h["status_code"]) == "308" && len(loc) == 1 &&
				loc[0] == "https://{http.request.host}{http.request.uri}" {
				ok = true
			}
		}
		if !ok {
			t.Errorf("server %s on :80 handles with %s, want a 308 to https://{host}{uri}", name, srv.Routes[0])
		}
	}
	if !found {
		t.Errorf("adapted Caddyfile.production has no server on :80; want one redirecting to HTTPS\n%s", cfg)
	}
}

// flattenSubroutes returns h and every handler nested in its subroutes.
func flattenSubroutes(h map[string]any) []map[string]any {
	out := []map[string]any{h}
	routes, _ := h["routes"].([]any)
	for _, r := range routes {
		rm, _ := r.(map[string]any)
		hs, _ := rm["handle"].([]any)
		for _, x := range hs {
			if xm, ok := x.(map[string]any); ok {
				out = append(out, flattenSubroutes(xm)...)
			}
		}
	}
	return out
}

// adaptProduction runs bin/caddy adapt on Caddyfile.production with what an
// operator sets, leaving out the `tls { dns <provider> … }` blocks (bin/caddy
// has no DNS provider module; they configure certificates only).
func adaptProduction(t *testing.T) []byte {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(repoRoot, "Caddyfile.production"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	in := strings.Split(string(src), "\n")
	for i := 0; i < len(in); i++ {
		if i+2 < len(in) && strings.TrimSpace(in[i]) == "tls {" &&
			strings.HasPrefix(strings.TrimSpace(in[i+1]), "dns ") && strings.TrimSpace(in[i+2]) == "}" {
			i += 2
			continue
		}
		lines = append(lines, in[i])
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "Caddyfile.production")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(caddyBin, "adapt", "--config", file, "--adapter", "caddyfile")
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(k, "CADDY_ADMIN") && k != "HTTP_PORT" && k != "HTTPS_PORT" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "BASE_DOMAIN=example.com", "ACME_EMAIL=ops@example.com",
		"APP_UPSTREAMS=10.0.0.1:8000 10.0.0.2:8000", "ADMIN_UPSTREAMS=10.0.0.1:9000 10.0.0.2:9000",
		"HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bin/caddy adapt Caddyfile.production: %v\n%s", err, stderr.String())
	}
	return out
}
