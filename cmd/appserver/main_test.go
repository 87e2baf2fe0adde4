package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/internal/testenv"
)

// appserverBin is the binary stack_test.go's TestMain built, so these
// tests run the real program as operators do.
func appserverBin(t *testing.T) string {
	t.Helper()
	testenv.Integration(t)
	return appBin
}

func secret(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// appEnv is a complete environment for bin/appserver on private ports over
// a private control plane and key prefix.
func appEnv(t *testing.T, adminTokens string, app, admin int) []string {
	t.Helper()
	return append(os.Environ(),
		"DATABASE_URL="+testenv.NewDatabase(t),
		"REDIS_URL="+testenv.RedisURL(),
		"REDIS_KEY_PREFIX="+testenv.KeyPrefix(t),
		"TENANT_DB_PREFIX="+testenv.TenantPrefix(t),
		"TENANT_SIGNING_KEYS=k1:"+base64.StdEncoding.EncodeToString([]byte(secret(32))),
		"ADMIN_TOKENS="+adminTokens,
		fmt.Sprintf("APP_ADDR=127.0.0.1:%d", app),
		fmt.Sprintf("ADMIN_ADDR=127.0.0.1:%d", admin),
	)
}

// TestShortAdminTokenRefusedAtStart starts the real binary with one
// ADMIN_TOKENS entry shorter than 32 characters: it must refuse to start,
// exit non-zero, and say which variable is wrong without printing a token.
func TestShortAdminTokenRefusedAtStart(t *testing.T) {
	testenv.Integration(t)
	bin := appserverBin(t)
	long, short := "tga_"+secret(32), "short-token-31-characters-long!"
	if len(short) != 31 {
		t.Fatalf("test token is %d characters, want 31", len(short))
	}
	ports := testenv.FreePorts(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = appEnv(t, long+","+short, ports[0], ports[1])
	proc := testenv.Start(t, "appserver", cmd)
	out := proc.Output
	// A binary that accepts the token goes on to serve: stop waiting as
	// soon as its admin listener answers.
	for {
		if done, _ := proc.Exited(); done {
			break
		}
		if testenv.HTTPOK(nil, fmt.Sprintf("http://127.0.0.1:%d/healthz", ports[1])) {
			t.Fatalf("bin/appserver started and serves with a %d-character admin token, want it refused at start\n%s", len(short), out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	err := proc.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("bin/appserver with a short admin token: %v, want a non-zero exit\n%s", err, out)
	}
	logs := out.String()
	if !strings.Contains(logs, "ADMIN_TOKENS") || !strings.Contains(logs, "32") {
		t.Errorf("output = %s\nwant a message naming ADMIN_TOKENS and the 32-character minimum", logs)
	}
	for _, tok := range []string{short, long} {
		if strings.Contains(logs, tok) {
			t.Errorf("output shows an admin token: %s", logs)
		}
	}
}

// TestMetricsNeedAdminToken runs the real binary: /metrics on the admin
// listener (which the edge proxies for admin.<base>) answers only to an
// admin token, and METRICS_ADDR serves it to an internal scraper.
func TestMetricsNeedAdminToken(t *testing.T) {
	testenv.Integration(t)
	bin := appserverBin(t)
	token := "tga_" + secret(32)
	ports := testenv.FreePorts(t, 3)
	cmd := exec.Command(bin)
	cmd.Env = append(appEnv(t, token, ports[0], ports[1]), fmt.Sprintf("METRICS_ADDR=127.0.0.1:%d", ports[2]))
	admin := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	testenv.Start(t, "appserver", cmd).WaitUntil(t, "bin/appserver", 60*time.Second, func() bool { return testenv.HTTPOK(nil, admin+"/healthz") })

	get := func(url, bearer string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	tests := []struct {
		name, url, bearer string
		want              int
	}{
		{"admin listener without a token", admin + "/metrics", "", http.StatusUnauthorized},
		{"admin listener with a wrong token", admin + "/metrics", "tga_" + secret(32), http.StatusUnauthorized},
		{"admin listener with the admin token", admin + "/metrics", token, http.StatusOK},
		{"internal metrics listener", fmt.Sprintf("http://127.0.0.1:%d/metrics", ports[2]), "", http.StatusOK},
	}
	for _, tc := range tests {
		code, body := get(tc.url, tc.bearer)
		if code != tc.want {
			t.Errorf("%s: GET /metrics = %d, want %d", tc.name, code, tc.want)
		}
		if hasMetrics := strings.Contains(body, "go_goroutines"); hasMetrics != (tc.want == http.StatusOK) {
			t.Errorf("%s: body shows metrics = %v, want %v", tc.name, hasMetrics, tc.want == http.StatusOK)
		}
	}
	if code, _ := get(admin+"/healthz", ""); code != http.StatusOK {
		t.Errorf("GET /healthz on the admin listener = %d, want 200 without a token (the edge's health check)", code)
	}
}
