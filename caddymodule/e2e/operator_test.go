package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/internal/testenv"
)

// TestAdminSiteMetricsNeedToken puts the real appserver behind the real
// edge, as `make run` does, and asks the public admin host for /metrics:
// without the admin token it must not answer them.
func TestAdminSiteMetricsNeedToken(t *testing.T) {
	testenv.Integration(t)
	bin := appserverBinary(t)
	keyString, _ := newKeys(t)
	tok := make([]byte, 24)
	_, _ = rand.Read(tok)
	adminToken := "tga_" + hex.EncodeToString(tok)
	env := map[string]string{
		"DATABASE_URL":        withDatabase(t),
		"REDIS_URL":           testenv.RedisURL(),
		"REDIS_KEY_PREFIX":    testenv.KeyPrefix(t),
		"TENANT_DB_PREFIX":    testenv.TenantPrefix(t),
		"TENANT_SIGNING_KEYS": keyString,
		"ADMIN_TOKENS":        adminToken,
	}
	ports := testenv.FreePorts(t, 2)
	appAddr, adminAddr := fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1])
	cmd := exec.Command(bin)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, "APP_ADDR="+appAddr, "ADMIN_ADDR="+adminAddr)
	out := new(testenv.Output)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("appserver output:\n%s", out)
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("appserver exited during start-up: %v\n%s", err, out)
		default:
		}
		if res, err := http.Get("http://" + adminAddr + "/healthz"); err == nil {
			res.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("appserver admin listener not up within 60 s\n%s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}

	edgeEnv := map[string]string{"ADMIN_UPSTREAMS": adminAddr}
	for k, v := range env {
		edgeEnv[k] = v
	}
	e := startEdge(t, appAddr, edgeEnv)

	tests := []struct {
		name   string
		header http.Header
		want   int
	}{
		{"no token", nil, http.StatusUnauthorized},
		{"wrong token", http.Header{"Authorization": {"Bearer tga_" + strings.Repeat("0", 48)}}, http.StatusUnauthorized},
		{"admin token", http.Header{"Authorization": {"Bearer " + adminToken}}, http.StatusOK},
	}
	for _, tc := range tests {
		resp, body := e.get(t, "admin.localhost", "/metrics", tc.header)
		if resp.StatusCode != tc.want {
			t.Errorf("%s: GET http://admin.localhost/metrics through the edge = %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
		if shown := strings.Contains(string(body), "go_goroutines"); shown != (tc.want == http.StatusOK) {
			t.Errorf("%s: metrics in the answer = %v, want %v", tc.name, shown, tc.want == http.StatusOK)
		}
	}
}
