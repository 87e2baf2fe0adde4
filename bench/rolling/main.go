// Command rolling restarts a fleet of bin/caddy edges one at a time under
// load and counts the requests that failed (bench/rolling.sh runs it).
//
// The fleet is what the README's "Several edges" section describes: EDGES
// edges sharing caddy.storage.postgres, each with the production health
// site (/healthz answers 503 during shutdown_delay, then the listeners
// close), behind a TCP load balancer that forwards connections only to
// edges whose health check passed and tries the next edge when a connect
// fails (as HAProxy with `option redispatch` does). The balancer, the
// upstream, the on-demand permission endpoint and the load generator run in
// this process; the edges are real bin/caddy processes.
//
// Clients keep their connections alive and open a new one (a new TLS
// handshake) every few requests; a request fails when it gets a transport
// error or a status other than 200.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const caddyfile = `{
	admin 127.0.0.1:{$ADMIN_PORT}
	http_port {$HTTP_PORT}
	https_port {$HTTPS_PORT}
	skip_install_trust
	grace_period 10s
	shutdown_delay {$SHUTDOWN_DELAY}
	storage postgres {
		database_url {env.DATABASE_URL}
		encryption_key {env.CERT_STORAGE_KEY}
	}
	on_demand_tls {
		permission http {$ASK_URL}
	}
}

https:// {
	tls internal {
		on_demand
	}
	reverse_proxy {$UPSTREAM}
}

http://:{$HEALTH_PORT} {
	@draining expression "{http.shutting_down} == true"
	respond @draining 503
	respond /healthz 200
	respond 404
}
`

type config struct {
	caddy         string
	edges         int
	clients       int
	hosts         int
	newConnEvery  int
	settle        time.Duration
	shutdownDelay time.Duration
	basePort      int
}

func main() {
	var c config
	flag.StringVar(&c.caddy, "caddy", "bin/caddy", "the edge binary")
	flag.IntVar(&c.edges, "edges", 2, "edges in the fleet")
	flag.IntVar(&c.clients, "clients", 32, "concurrent clients")
	flag.IntVar(&c.hosts, "hosts", 20, "tenant host names the clients spread over")
	flag.IntVar(&c.newConnEvery, "new-conn-every", 20, "a client opens a new connection (TLS handshake) every N requests")
	flag.DurationVar(&c.settle, "settle", 5*time.Second, "load before, between and after restarts")
	flag.DurationVar(&c.shutdownDelay, "shutdown-delay", 2*time.Second, "the edges' shutdown_delay: /healthz says 503 this long before the listeners close")
	flag.IntVar(&c.basePort, "base-port", 23000, "first of the ports used (edges, balancer)")
	flag.Parse()
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "rolling:", err)
		os.Exit(1)
	}
}

type edge struct {
	name                     string
	https, health, http, adm int
	cmd                      *exec.Cmd
	done                     chan struct{}
	healthy                  atomic.Bool
}

func run(c config) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dbURL := os.Getenv("DATABASE_URL")
	if dbURL == "" {
		return errors.New("DATABASE_URL is not set")
	}
	dir, err := os.MkdirTemp("", "tg-rolling-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cf := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(cf, []byte(caddyfile), 0o600); err != nil {
		return err
	}

	upstream := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "app %s\n", r.Host) }))
	ask := serve(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))

	edges := make([]*edge, c.edges)
	for i := range edges {
		p := c.basePort + 10*i
		edges[i] = &edge{name: fmt.Sprintf("edge%d", i+1), http: p, https: p + 1, health: p + 2, adm: p + 3}
	}
	env := append(os.Environ(), "ASK_URL=http://"+ask, "UPSTREAM="+upstream, "SHUTDOWN_DELAY="+c.shutdownDelay.String())
	start := func(e *edge) error {
		e.cmd = exec.Command(c.caddy, "run", "--config", cf, "--adapter", "caddyfile")
		e.cmd.Env = append(slices.Clone(env),
			"HTTP_PORT="+strconv.Itoa(e.http), "HTTPS_PORT="+strconv.Itoa(e.https), "HEALTH_PORT="+strconv.Itoa(e.health),
			"ADMIN_PORT="+strconv.Itoa(e.adm), "XDG_DATA_HOME="+filepath.Join(dir, e.name, "data"), "XDG_CONFIG_HOME="+filepath.Join(dir, e.name, "config"))
		logf, err := os.Create(filepath.Join(dir, e.name+".log"))
		if err != nil {
			return err
		}
		e.cmd.Stdout, e.cmd.Stderr = logf, logf
		if err := e.cmd.Start(); err != nil {
			return err
		}
		e.done = make(chan struct{})
		go func() { _ = e.cmd.Wait(); logf.Close(); close(e.done) }()
		deadline := time.Now().Add(60 * time.Second)
		for !healthy(e) {
			if time.Now().After(deadline) {
				return fmt.Errorf("%s not healthy within 60 s", e.name)
			}
			time.Sleep(100 * time.Millisecond)
		}
		return nil
	}
	defer func() {
		for _, e := range edges {
			if e.cmd != nil && e.cmd.Process != nil {
				_ = e.cmd.Process.Signal(syscall.SIGTERM)
				<-e.done
			}
		}
	}()
	for _, e := range edges {
		if err := start(e); err != nil {
			return err
		}
	}

	lbAddr := fmt.Sprintf("127.0.0.1:%d", c.basePort+100)
	lb, err := newBalancer(lbAddr, edges)
	if err != nil {
		return err
	}
	defer lb.Close()

	var st stats
	lctx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := range c.clients {
		wg.Add(1)
		go func() { defer wg.Done(); client(lctx, c, lbAddr, i, &st) }()
	}

	phase := func(name string, d time.Duration) {
		before := st.snapshot()
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
		after := st.snapshot()
		fmt.Printf("%-28s %7d requests %4d failed\n", name, after.ok+after.failed-before.ok-before.failed, after.failed-before.failed)
	}
	phase("warm-up", c.settle)
	for _, e := range edges {
		t0 := time.Now()
		before := st.snapshot()
		_ = e.cmd.Process.Signal(syscall.SIGTERM)
		<-e.done
		if err := start(e); err != nil {
			stopLoad()
			wg.Wait()
			return err
		}
		after := st.snapshot()
		fmt.Printf("%-28s %7d requests %4d failed  (%s)\n", "restart "+e.name, after.ok+after.failed-before.ok-before.failed, after.failed-before.failed, time.Since(t0).Round(100*time.Millisecond))
		phase("settle after "+e.name, c.settle)
	}
	stopLoad()
	wg.Wait()
	total := st.snapshot()
	fmt.Printf("total: %d requests, %d failed", total.ok+total.failed, total.failed)
	if total.failed > 0 {
		fmt.Printf(" (first error: %s)", st.firstError())
	}
	fmt.Println()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if total.failed > 0 {
		return fmt.Errorf("%d requests failed", total.failed)
	}
	return nil
}

func serve(h http.Handler) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go func() { _ = http.Serve(ln, h) }()
	return ln.Addr().String()
}

func healthy(e *edge) bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", e.health))
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

type stats struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	first      string
}

type counts struct{ ok, failed int64 }

func (s *stats) snapshot() counts { return counts{s.ok.Load(), s.failed.Load()} }

func (s *stats) fail(msg string) {
	s.failed.Add(1)
	s.mu.Lock()
	if s.first == "" {
		s.first = msg
	}
	s.mu.Unlock()
}

func (s *stats) firstError() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first
}

// client sends GET https://<host>/ through the balancer until ctx is done.
func client(ctx context.Context, c config, lb string, id int, st *stats) {
	host := fmt.Sprintf("r%02d.tenants.example.com", id%c.hosts)
	newTransport := func() *http.Transport {
		return &http.Transport{
			TLSClientConfig: &tls.Config{ServerName: host, InsecureSkipVerify: true},
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, lb)
			},
			MaxIdleConnsPerHost: 1,
		}
	}
	tr := newTransport()
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	for n := 1; ctx.Err() == nil; n++ {
		if n%c.newConnEvery == 0 {
			tr.CloseIdleConnections()
			tr = newTransport()
			hc.Transport = tr
		}
		req, _ := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodGet, "https://"+host+"/", nil)
		resp, err := hc.Do(req)
		if err != nil {
			st.fail(err.Error())
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			st.fail("status " + resp.Status)
			continue
		}
		st.ok.Add(1)
	}
	tr.CloseIdleConnections()
}
