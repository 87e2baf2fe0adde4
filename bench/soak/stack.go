package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// stack is the running bin/caddy and two bin/appservers.
type stack struct {
	httpPort int
	apps     []appProc
	procs    []*exec.Cmd
}

// appProc is one appserver: its pid and its internal metrics listener.
type appProc struct {
	name    string
	pid     int
	metrics string // http://host:port/metrics
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func freePorts(n int) ([]int, error) {
	ports := make([]int, n)
	for i := range ports {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	return ports, nil
}

// start runs bin with env in its own process group, output to dir/name.log.
func (s *stack) start(dir, name, bin string, env []string, args ...string) (*exec.Cmd, error) {
	log, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	s.procs = append(s.procs, cmd)
	go func() { _ = cmd.Wait(); log.Close() }()
	return cmd, nil
}

// stop ends what start started (SIGTERM to each process group, SIGKILL
// after 20 s).
func (s *stack) stop() {
	for _, c := range s.procs {
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, c := range s.procs {
		for syscall.Kill(c.Process.Pid, 0) == nil && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
	}
	s.procs = nil
}

func waitHTTP(ctx context.Context, what, url string, within time.Duration) error {
	deadline := time.Now().Add(within)
	client := &http.Client{Timeout: time.Second}
	for {
		res, err := client.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode < 500 {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s did not answer %s within %s", what, url, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startStack starts two appservers with TENANT_CONNS_MAX and one caddy in
// front of them, and waits until each answers.
func startStack(ctx context.Context, w *world, dir string, o options) (*stack, error) {
	s := &stack{}
	ports, err := freePorts(9)
	if err != nil {
		return nil, err
	}
	var upstreams []string
	for i := range 2 {
		app, admin, metrics := ports[3*i], ports[3*i+1], ports[3*i+2]
		name := fmt.Sprintf("appserver-%d", i+1)
		env := append(w.env(),
			"APP_ADDR=127.0.0.1:"+strconv.Itoa(app),
			"ADMIN_ADDR=127.0.0.1:"+strconv.Itoa(admin),
			"METRICS_ADDR=127.0.0.1:"+strconv.Itoa(metrics),
			"TENANT_CONNS_MAX="+strconv.Itoa(o.connsMax),
			"APPSERVERS=2",
		)
		cmd, err := s.start(dir, name, filepath.Join(o.binDir, "appserver"), env)
		if err != nil {
			s.stop()
			return nil, err
		}
		s.apps = append(s.apps, appProc{name: name, pid: cmd.Process.Pid,
			metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", metrics)})
		upstreams = append(upstreams, "127.0.0.1:"+strconv.Itoa(app))
	}
	for _, a := range s.apps {
		if err := waitHTTP(ctx, a.name, a.metrics, 60*time.Second); err != nil {
			s.stop()
			return nil, err
		}
	}
	s.httpPort = ports[6]
	caddyData := filepath.Join(dir, "caddy")
	env := append(w.env(),
		"HTTP_PORT="+strconv.Itoa(ports[6]),
		"HTTPS_PORT="+strconv.Itoa(ports[7]),
		"CADDY_ADMIN=127.0.0.1:"+strconv.Itoa(ports[8]),
		"APP_UPSTREAMS="+strings.Join(upstreams, " "),
		"ACCESS_LOG=discard",
		"XDG_DATA_HOME="+caddyData, "XDG_CONFIG_HOME="+caddyData,
	)
	caddyfile, err := filepath.Abs("Caddyfile")
	if err != nil {
		s.stop()
		return nil, err
	}
	if _, err := s.start(dir, "caddy", filepath.Join(o.binDir, "caddy"), env, "run", "--config", caddyfile, "--adapter", "caddyfile"); err != nil {
		s.stop()
		return nil, err
	}
	if err := waitHTTP(ctx, "caddy", fmt.Sprintf("http://127.0.0.1:%d/", s.httpPort), 60*time.Second); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}
