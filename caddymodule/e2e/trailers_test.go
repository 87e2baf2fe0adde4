package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/internal/tenanttoken"
)

// rawUpstream is an HTTP/1.1 upstream on a plain TCP listener that keeps the
// bytes of every request exactly as they arrived (nothing parses them into
// an http.Header first, so nothing is normalised or dropped), and answers
// each one 200 "ok".
type rawUpstream struct {
	ln net.Listener

	mu       sync.Mutex
	requests [][]byte
}

func newRawUpstream(t *testing.T) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUpstream{ln: ln}
	var wg sync.WaitGroup
	var conns sync.Map
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Store(c, true)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conns.Delete(c)
				defer c.Close()
				u.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
		wg.Wait()
	})
	return u
}

func (u *rawUpstream) addr() string { return u.ln.Addr().String() }

// serve reads requests from one connection (keep-alive) until it closes.
func (u *rawUpstream) serve(c net.Conn) {
	var raw bytes.Buffer
	br := bufio.NewReader(io.TeeReader(c, &raw))
	for {
		raw.Reset()
		path, err := readRawRequest(br)
		if err != nil {
			return
		}
		// The bufio.Reader may hold bytes of the next request; a proxy does
		// not pipeline, so what was read is this request.
		got := bytes.Clone(raw.Bytes()[:raw.Len()-br.Buffered()])
		if path != "/healthz" {
			u.mu.Lock()
			u.requests = append(u.requests, got)
			u.mu.Unlock()
		}
		if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"); err != nil {
			return
		}
	}
}

// taken returns the requests recorded so far and forgets them.
func (u *rawUpstream) taken() [][]byte {
	u.mu.Lock()
	defer u.mu.Unlock()
	r := u.requests
	u.requests = nil
	return r
}

// readRawRequest reads one HTTP/1.1 request (head, body by Content-Length
// or chunked, and the trailer section) and returns its path.
func readRawRequest(br *bufio.Reader) (string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	fields := strings.Fields(line)
	if len(fields) != 3 {
		return "", fmt.Errorf("request line %q", line)
	}
	chunked, length := false, int64(0)
	for {
		h, err := br.ReadString('\n')
		if err != nil {
			return "", err
		}
		h = strings.TrimRight(h, "\r\n")
		if h == "" {
			break
		}
		name, value, _ := strings.Cut(h, ":")
		value = strings.TrimSpace(value)
		switch strings.ToLower(name) {
		case "transfer-encoding":
			chunked = strings.Contains(strings.ToLower(value), "chunked")
		case "content-length":
			length, _ = strconv.ParseInt(value, 10, 64)
		}
	}
	if !chunked {
		_, err := io.CopyN(io.Discard, br, length)
		return fields[1], err
	}
	for {
		size, err := br.ReadString('\n')
		if err != nil {
			return "", err
		}
		size, _, _ = strings.Cut(strings.TrimSpace(size), ";")
		n, err := strconv.ParseInt(size, 16, 64)
		if err != nil {
			return "", fmt.Errorf("chunk size %q: %w", size, err)
		}
		if n == 0 {
			break
		}
		if _, err := io.CopyN(io.Discard, br, n+2); err != nil {
			return "", err
		}
	}
	for { // trailer section, up to the empty line
		h, err := br.ReadString('\n')
		if err != nil {
			return "", err
		}
		if strings.TrimRight(h, "\r\n") == "" {
			return fields[1], nil
		}
	}
}

// rawFields returns the header and trailer lines of a raw request as
// (name, value) pairs.
func rawFields(req []byte) (head, trailer [][2]string) {
	headPart, rest, _ := bytes.Cut(req, []byte("\r\n\r\n"))
	chunked := false
	for _, l := range strings.Split(string(headPart), "\r\n")[1:] {
		name, value, _ := strings.Cut(l, ":")
		head = append(head, [2]string{name, strings.TrimSpace(value)})
		chunked = chunked || strings.EqualFold(name, "Transfer-Encoding") && strings.Contains(strings.ToLower(value), "chunked")
	}
	if !chunked {
		return head, nil
	}
	br := bufio.NewReader(bytes.NewReader(rest))
	for { // skip the chunks up to the last, empty one
		size, err := br.ReadString('\n')
		if err != nil {
			return head, nil
		}
		size, _, _ = strings.Cut(strings.TrimSpace(size), ";")
		n, err := strconv.ParseInt(size, 16, 64)
		if err != nil || n == 0 {
			break
		}
		if _, err := br.Discard(int(n) + 2); err != nil {
			return head, nil
		}
	}
	for {
		l, err := br.ReadString('\n')
		if l = strings.TrimRight(l, "\r\n"); l == "" || err != nil {
			return head, trailer
		}
		name, value, _ := strings.Cut(l, ":")
		trailer = append(trailer, [2]string{name, strings.TrimSpace(value)})
	}
}

// isTenantName reports whether a field name is an X-Tenant* header in any
// spelling (case, '_' for '-').
func isTenantName(name string) bool {
	return strings.HasPrefix(strings.ReplaceAll(strings.ToLower(strings.TrimSpace(name)), "_", "-"), "x-tenant")
}

// TestEdgeStripsTenantTrailers sends chunked requests whose trailers claim
// to be the tenant (X-Tenant-Token, X_Tenant_Id, …), declared in a Trailer
// header or not, and checks in the raw bytes the upstream received that no
// such field arrived, while an ordinary trailer still does and the only
// tenant token is the edge's own.
func TestEdgeStripsTenantTrailers(t *testing.T) {
	up := newRawUpstream(t)
	w := newWorldWith(t, "", up.addr())
	verifier, err := tenanttoken.NewVerifier(w.keys)
	if err != nil {
		t.Fatal(err)
	}
	w.waitStatus(t, "acme.localhost", 200, 5*time.Second)
	up.taken()

	const tenantTrailers = "X-Tenant-Token: forged.token.value\r\nX_Tenant_Id: someone-else\r\nx-tenant-role: admin\r\nX-TENANT-SUBDOMAIN: globex\r\n"
	tests := []struct {
		name     string
		declared string // the request's Trailer header, "" for none
		trailers string
		wantKept bool // whether X-Checksum must reach the upstream
	}{
		{"declared tenant trailers", "X-Tenant-Token, X_Tenant_Id, X-Tenant-Role, X-Tenant-Subdomain, X-Checksum", tenantTrailers + "X-Checksum: abc\r\n", true},
		{"undeclared tenant trailers beside a declared one", "X-Checksum", tenantTrailers + "X-Checksum: abc\r\n", true},
		{"no Trailer header at all", "", tenantTrailers + "X-Checksum: abc\r\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req strings.Builder
			req.WriteString("POST /upload HTTP/1.1\r\nHost: acme.localhost\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\nConnection: close\r\n")
			if tt.declared != "" {
				req.WriteString("Trailer: " + tt.declared + "\r\n")
			}
			req.WriteString("\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n" + tt.trailers + "\r\n")
			status := w.edge.rawRequest(t, req.String())
			if status != http.StatusOK && status != http.StatusBadRequest {
				t.Fatalf("chunked POST with tenant trailers = %d, want 200 (stripped) or 400 (refused)", status)
			}
			got := up.taken()
			if status == http.StatusBadRequest {
				if len(got) != 0 {
					t.Fatalf("refused with 400, but the upstream got %d request(s):\n%s", len(got), got[0])
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("upstream got %d requests, want 1", len(got))
			}
			head, trailer := rawFields(got[0])
			var tokens []string
			for _, f := range head {
				switch {
				case strings.EqualFold(f[0], tenanttoken.Header):
					tokens = append(tokens, f[1])
				case isTenantName(f[0]):
					t.Errorf("upstream got header %s: %s, want it deleted", f[0], f[1])
				case strings.EqualFold(f[0], "Trailer"):
					for _, name := range strings.Split(f[1], ",") {
						if isTenantName(name) {
							t.Errorf("upstream got Trailer: %s, announcing %s", f[1], strings.TrimSpace(name))
						}
					}
				}
			}
			kept := false
			for _, f := range trailer {
				if isTenantName(f[0]) {
					t.Errorf("upstream got trailer %s: %s, want it stripped", f[0], f[1])
				}
				kept = kept || strings.EqualFold(f[0], "X-Checksum") && f[1] == "abc"
			}
			if tt.wantKept && !kept {
				t.Errorf("upstream trailers %q lack X-Checksum: abc (trailers are not forwarded at all: the test proves nothing)", trailer)
			}
			if len(tokens) != 1 {
				t.Fatalf("upstream got %d %s headers %q, want exactly the edge's one", len(tokens), tenanttoken.Header, tokens)
			}
			if c, err := verifier.Verify(tokens[0], "acme.localhost", time.Now()); err != nil || c.Subdomain != "acme" {
				t.Errorf("upstream token: claims %+v, %v; want a valid token for acme", c, err)
			}
			if t.Failed() {
				t.Logf("raw request at the upstream:\n%s", got[0])
			}
		})
	}

	t.Run("HTTP/2 trailers", func(t *testing.T) {
		pem, err := os.ReadFile(filepath.Join(w.edge.dataDir, "caddy", "pki", "authorities", "local", "root.crt"))
		if err != nil {
			t.Fatalf("reading the local CA root: %v", err)
		}
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(pem)
		addr := fmt.Sprintf("127.0.0.1:%d", w.edge.httpsPort)
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: roots},
			ForceAttemptHTTP2: true,
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			},
		}}
		pr, pw := io.Pipe()
		req, err := http.NewRequest(http.MethodPost, "https://acme.localhost/upload", pr)
		if err != nil {
			t.Fatal(err)
		}
		req.Trailer = http.Header{"X-Tenant-Token": nil, "X-Tenant-Id": nil, "X-Checksum": nil}
		go func() {
			_, _ = io.WriteString(pw, "hello world")
			req.Trailer.Set("X-Tenant-Token", "forged.token.value")
			req.Trailer.Set("X-Tenant-Id", "someone-else")
			req.Trailer.Set("X-Checksum", "abc")
			pw.Close()
		}()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("POST over HTTP/2: %v", err)
		}
		resp.Body.Close()
		if resp.ProtoMajor != 2 {
			t.Fatalf("answer over %s, want HTTP/2", resp.Proto)
		}
		got := up.taken()
		if resp.StatusCode == http.StatusBadRequest && len(got) == 0 {
			return
		}
		if resp.StatusCode != http.StatusOK || len(got) != 1 {
			t.Fatalf("POST over HTTP/2 = %d with %d upstream requests, want 200 and 1 (or 400 and none)", resp.StatusCode, len(got))
		}
		_, trailer := rawFields(got[0])
		kept := false
		for _, f := range trailer {
			if isTenantName(f[0]) {
				t.Errorf("upstream got trailer %s: %s, want it stripped", f[0], f[1])
			}
			kept = kept || strings.EqualFold(f[0], "X-Checksum")
		}
		if !kept {
			t.Errorf("upstream trailers %q lack X-Checksum (trailers are not forwarded at all: the test proves nothing)", trailer)
		}
		if t.Failed() {
			t.Logf("raw request at the upstream:\n%s", got[0])
		}
	})
}

// rawRequest writes a hand-made request to the edge's HTTP port and returns
// the status code of the answer.
func (e *edge) rawRequest(t *testing.T, req string) int {
	t.Helper()
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", e.httpPort), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
