package e2e

import (
	"bufio"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The project Caddyfile's tenant sites proxy with tenant_proxy
// (caddymodule/tenantproxy); these tests cover what it does beyond the
// headers TestEdge checks.

// deadUpstream returns an address nothing listens on.
func deadUpstream(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestEdgeProxyBalancesAndSkipsDeadUpstream(t *testing.T) {
	a, b := newCountingUpstream(t, 0), newCountingUpstream(t, 0)
	w := newWorldWith(t, "", strings.Join([]string{a.addr(), deadUpstream(t), b.addr()}, " "))
	for i := range 30 {
		resp, body := w.edge.get(t, "acme.localhost", "/", nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d with one of three upstreams down: status %d %s", i, resp.StatusCode, body)
		}
	}
	_, _, na := a.counts("acme.localhost")
	_, _, nb := b.counts("acme.localhost")
	if na == 0 || nb == 0 || na+nb != 30 {
		t.Errorf("live upstreams got %d and %d of 30 requests; want both a share", na, nb)
	}
}

func TestEdgeProxyAllUpstreamsDownIs502Page(t *testing.T) {
	w := newWorldWith(t, "", deadUpstream(t)+" "+deadUpstream(t))
	resp, body := w.edge.get(t, "acme.localhost", "/", http.Header{"Accept": {"application/json"}})
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("every upstream down: status %d %s, want 502", resp.StatusCode, body)
	}
	var got struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(body, &got); err != nil || got.Error.Code == "" {
		t.Fatalf("502 answer %q: want tenant_error's JSON (%v)", body, err)
	}
	if strings.Contains(string(body), "127.0.0.1") || strings.Contains(string(body), "dial") {
		t.Errorf("the 502 answer leaks the upstream error: %s", body)
	}
	resp, body = w.edge.get(t, "acme.localhost", "/", nil)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "<html") {
		t.Errorf("every upstream down, browser: status %d %q, want tenant_error's 502 page", resp.StatusCode, body)
	}
}

// upgradeUpstream echoes an upgraded connection (Upgrade: echo) and, for
// POST, answers the length and SHA-256 of the body; both report whether the
// edge's X-Tenant-Token arrived and a client's X-Tenant-Id did not.
func upgradeUpstream(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tenantHeaders := fmt.Sprintf("token=%t forged=%q", r.Header.Get("X-Tenant-Token") != "", r.Header.Get("X-Tenant-Id"))
		if r.Method == http.MethodPost {
			sum := sha256.New()
			n, _ := io.Copy(sum, r.Body)
			fmt.Fprintf(w, "%s %d %x", tenantHeaders, n, sum.Sum(nil))
			return
		}
		if r.Header.Get("Upgrade") != "echo" {
			return // health checks
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\nX-Seen: %s\r\n\r\n", tenantHeaders)
		_ = brw.Flush()
		_, _ = io.Copy(c, brw)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestEdgeProxyUpgradeAndUpload(t *testing.T) {
	up := upgradeUpstream(t)
	w := newWorldWith(t, "", strings.TrimPrefix(up.URL, "http://"))

	t.Run("upgrade", func(t *testing.T) {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", w.edge.httpPort))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprint(c, "GET /live HTTP/1.1\r\nHost: acme.localhost\r\nConnection: Upgrade\r\nUpgrade: echo\r\nX-Tenant-Id: forged\r\n\r\n")
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("upgrade through the edge: %v %v", resp, err)
		}
		if seen := resp.Header.Get("X-Seen"); seen != `token=true forged=""` {
			t.Errorf("the upstream saw %s; want the edge's token and no client X-Tenant-Id", seen)
		}
		for _, msg := range []string{"ping\n", "pong\n"} {
			fmt.Fprint(c, msg)
			if got, err := br.ReadString('\n'); err != nil || got != msg {
				t.Fatalf("echo over the upgraded connection: %q, %v; want %q", got, err, msg)
			}
		}
	})

	t.Run("upload", func(t *testing.T) {
		body := strings.Repeat("upload ", 200_000)
		resp, answer := w.edge.do(t, http.MethodPost, "acme.localhost", "/upload", body, http.Header{"X-Tenant-Id": {"forged"}})
		want := fmt.Sprintf(`token=true forged="" %d %x`, len(body), sha256.Sum256([]byte(body)))
		if resp.StatusCode != http.StatusOK || string(answer) != want {
			t.Errorf("upload: status %d, upstream answered %q, want %q", resp.StatusCode, answer, want)
		}
	})
}
