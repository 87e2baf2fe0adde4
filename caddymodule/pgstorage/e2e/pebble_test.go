package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/internal/testenv"
)

// pebble is a running Pebble ACME server. Validation always passes
// (PEBBLE_VA_ALWAYS_VALID), so no challenge needs to reach the edges.
type pebble struct {
	addr, mgmt string
	logs       *testenv.Output
}

func startPebble(t *testing.T) *pebble {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/letsencrypt/pebble/v2").Output()
	if err != nil {
		t.Fatalf("locating pebble's module: %v", err)
	}
	src := strings.TrimSpace(string(out))
	ports := testenv.FreePorts(t, 2)
	p := &pebble{addr: fmt.Sprintf("127.0.0.1:%d", ports[0]), mgmt: fmt.Sprintf("127.0.0.1:%d", ports[1]), logs: new(testenv.Output)}
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":                  p.addr,
		"managementListenAddress":        p.mgmt,
		"certificate":                    filepath.Join(src, "test/certs/localhost/cert.pem"),
		"privateKey":                     filepath.Join(src, "test/certs/localhost/key.pem"),
		"httpPort":                       5002,
		"tlsPort":                        5001,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
		"retryAfter":                     map[string]int{"authz": 1, "order": 1},
		"keyAlgorithm":                   "ecdsa",
		"profiles":                       map[string]any{"default": map[string]any{"description": "default", "validityPeriod": 7776000}},
	}}
	b, _ := json.Marshal(cfg)
	path := filepath.Join(t.TempDir(), "pebble.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(pebbleBin, "-config", path)
	cmd.Env = append(os.Environ(), "PEBBLE_VA_ALWAYS_VALID=1", "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0")
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	// Pdeathsig: a test binary killed by its timeout takes Pebble with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("pebble output (last 4000 bytes):\n%s", tail(p.logs.String(), 4000))
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", p.addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble did not listen within 30 s:\n%s", p.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// orders is how many orders Pebble says it created.
func (p *pebble) orders() int { return strings.Count(p.logs.String(), "Added order") }

// root returns Pebble's root certificate, from its management interface.
func (p *pebble) root(t *testing.T) *x509.Certificate {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := c.Get("https://" + p.mgmt + "/roots/0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("pebble root: no PEM in %q", b)
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// acmeProxy sits between the edges and Pebble. It counts new orders per
// name (from the JWS payload of each newOrder request) and can hold the
// finalization of one name's order, so that a test can kill the edge that
// is in the middle of ordering it.
type acmeProxy struct {
	url    string // the directory URL the edges use
	caFile string // PEM of the CA that signed the proxy's certificate

	mu       sync.Mutex
	perHost  map[string]int
	finalize map[string]string // finalize path → name
	holdHost string
	held     chan string
	release  chan struct{}
}

func startProxy(t *testing.T, p *pebble) *acmeProxy {
	t.Helper()
	caPEM, cert := proxyCert(t)
	px := &acmeProxy{perHost: map[string]int{}, finalize: map[string]string{}, held: make(chan string, 1), release: make(chan struct{})}
	px.caFile = filepath.Join(t.TempDir(), "proxy-ca.pem")
	if err := os.WriteFile(px.caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	target, _ := url.Parse("https://" + p.addr)
	rp := httputil.NewSingleHostReverseProxy(target) // keeps the client's Host: Pebble builds its URLs with the proxy's address
	rp.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, MaxIdleConnsPerHost: 64}
	rp.ModifyResponse = func(resp *http.Response) error {
		name := resp.Request.Header.Get("X-Test-Order-Name")
		if name == "" || resp.StatusCode != http.StatusCreated {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		var order struct {
			Finalize string `json:"finalize"`
		}
		if json.Unmarshal(body, &order) == nil {
			if u, err := url.Parse(order.Finalize); err == nil {
				px.mu.Lock()
				px.finalize[u.Path] = name
				px.mu.Unlock()
			}
		}
		return nil
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/order-plz":
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			if name := orderName(body); name != "" {
				px.mu.Lock()
				px.perHost[name]++
				px.mu.Unlock()
				r.Header.Set("X-Test-Order-Name", name)
			}
		case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/finalize-order/"):
			px.mu.Lock()
			name := px.finalize[r.URL.Path]
			hold := name != "" && name == px.holdHost
			if hold {
				px.holdHost = "" // only the first order of that name
			}
			px.mu.Unlock()
			if hold {
				px.held <- name
				select {
				case <-px.release:
				case <-r.Context().Done():
					return
				}
			}
		}
		rp.ServeHTTP(w, r)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	go func() {
		if err := srv.ServeTLS(ln, "", ""); err != http.ErrServerClosed {
			fmt.Fprintln(os.Stderr, "acme proxy:", err)
		}
	}()
	t.Cleanup(func() { _ = srv.Close() })
	px.url = "https://" + ln.Addr().String() + "/dir"
	return px
}

// orderName returns the first identifier of a newOrder JWS (flattened JSON).
func orderName(body []byte) string {
	var jws struct {
		Payload string `json:"payload"`
	}
	if json.Unmarshal(body, &jws) != nil {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(jws.Payload)
	if err != nil {
		return ""
	}
	var order struct {
		Identifiers []struct {
			Value string `json:"value"`
		} `json:"identifiers"`
	}
	if json.Unmarshal(raw, &order) != nil || len(order.Identifiers) == 0 {
		return ""
	}
	return order.Identifiers[0].Value
}

func (px *acmeProxy) counts() map[string]int {
	px.mu.Lock()
	defer px.mu.Unlock()
	out := make(map[string]int, len(px.perHost))
	for k, v := range px.perHost {
		out[k] = v
	}
	return out
}

// holdFinalize makes the proxy hold the next finalization of name's order.
func (px *acmeProxy) holdFinalize(name string) {
	px.mu.Lock()
	px.holdHost = name
	px.mu.Unlock()
}

// proxyCert makes a throwaway CA and a certificate for 127.0.0.1 signed by
// it; the edges trust the CA through acme_ca_root.
func proxyCert(t *testing.T) ([]byte, tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pgstorage e2e proxy CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

var _ = context.Background
