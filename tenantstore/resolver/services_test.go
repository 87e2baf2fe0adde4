package resolver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tenantgate/tenantgate/internal/testenv"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// This file holds the real services the integration tests use: the control
// store on the shared PostgreSQL (optionally behind a proxy that can cut it
// off), the shared Redis, and private redis-servers the tests kill.

// newStore opens a control-plane store on a private database, through
// databaseURL when given.
func newStore(t testing.TB, databaseURL string) *tenantstore.Store {
	t.Helper()
	if databaseURL == "" {
		databaseURL = testenv.NewDatabase(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := tenantstore.Open(ctx, databaseURL)
	if err != nil {
		t.Fatalf("tenantstore.Open: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// insertTenant adds an active tenant at sub.
func insertTenant(t testing.TB, s *tenantstore.Store, sub string) *tenantstore.Tenant {
	t.Helper()
	tn := &tenantstore.Tenant{
		Name: "Org " + sub, Subdomain: sub, AdminEmail: "admin@example.com", Status: tenantstore.StatusActive,
		MaxUsers: 5, DatabaseName: "sales_" + sub,
		Placement: tenantstore.Placement{RoleName: "sales_" + sub, RolePassword: "pw-" + sub},
	}
	if err := s.Insert(context.Background(), tn); err != nil {
		t.Fatalf("Insert(%s): %v", sub, err)
	}
	return tn
}

// newRedisClient connects to url with NewRedisClient's request-path options.
func newRedisClient(t testing.TB, url string) redis.UniversalClient {
	t.Helper()
	rdb, err := NewRedisClient(url)
	if err != nil {
		t.Fatalf("NewRedisClient: %v", err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// testConfig returns a config with a private Redis key prefix.
func testConfig(t testing.TB) Config {
	t.Helper()
	return Config{BaseDomain: "example.com", KeyPrefix: testenv.KeyPrefix(t), MACKeys: testenv.EntryKeys()}
}

// startResolver creates and starts a resolver and, with Redis, waits until
// it is subscribed to invalidations.
func startResolver(t testing.TB, cfg Config, src Source, rdb redis.UniversalClient) *Resolver {
	t.Helper()
	r, err := New(cfg, src, rdb)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	r.Start(context.Background())
	if rdb != nil {
		waitFor(t, 5*time.Second, "the resolver to subscribe", func() bool { return r.Stats().Subscribed })
	}
	return r
}

// waitFor polls cond every 10 ms until it holds, failing t after limit.
func waitFor(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// redisServer is a private redis-server a test can stop and start again.
type redisServer struct {
	t    testing.TB
	port int
	cmd  *exec.Cmd
}

// startRedisServer starts a private, non-persistent redis-server on a free
// port and stops it when the test ends.
func startRedisServer(t testing.TB) *redisServer {
	t.Helper()
	s := &redisServer{t: t, port: testenv.FreePort(t)}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *redisServer) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", s.port) }

func (s *redisServer) start() {
	s.t.Helper()
	s.cmd = exec.Command("/usr/bin/redis-server", "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--protected-mode", "no")
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("starting redis-server: %v", err)
	}
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", s.port)})
	defer c.Close()
	waitFor(s.t, 10*time.Second, "the private redis-server", func() bool {
		return c.Ping(context.Background()).Err() == nil
	})
}

// stop kills the server (like a crash) and waits for it to exit.
func (s *redisServer) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// pgProxy forwards a local port to the shared PostgreSQL, so a test can cut
// the store off (connection refused, connections reset) and restore it.
type pgProxy struct {
	t      testing.TB
	port   int
	target string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func startPGProxy(t testing.TB) *pgProxy {
	t.Helper()
	p := &pgProxy{t: t, port: testenv.FreePort(t), target: "127.0.0.1:5432", conns: map[net.Conn]struct{}{}}
	p.start()
	t.Cleanup(func() { p.stop(); p.wg.Wait() })
	return p
}

// databaseURL is a new private database reached through the proxy.
func (p *pgProxy) databaseURL(t testing.TB) string {
	u := testenv.NewDatabase(t)
	return replaceHost(u, fmt.Sprintf("127.0.0.1:%d", p.port))
}

func (p *pgProxy) start() {
	p.t.Helper()
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p.port))
	if err != nil {
		p.t.Fatalf("proxy listen: %v", err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Go(func() { p.serve(c) })
		}
	})
}

func (p *pgProxy) serve(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[up] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
	_ = c.Close()
	_ = up.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// stop closes the listener and every open connection: PostgreSQL is gone.
func (p *pgProxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
	}
}

// countingSource counts the queries that reach the real store, per key.
type countingSource struct {
	Source
	mu     sync.Mutex
	counts map[string]int
	total  atomic.Int64
}

func newCountingSource(s Source) *countingSource {
	return &countingSource{Source: s, counts: map[string]int{}}
}

func (c *countingSource) count(key string) {
	c.total.Add(1)
	c.mu.Lock()
	c.counts[key]++
	c.mu.Unlock()
}

func (c *countingSource) Get(ctx context.Context, id string) (*tenantstore.Tenant, error) {
	c.count("id:" + id)
	return c.Source.Get(ctx, id)
}

func (c *countingSource) GetBySubdomain(ctx context.Context, sub string) (*tenantstore.Tenant, error) {
	c.count("sub:" + sub)
	return c.Source.GetBySubdomain(ctx, sub)
}

func (c *countingSource) GetByHostname(ctx context.Context, host string) (*tenantstore.Tenant, error) {
	c.count("host:" + host)
	return c.Source.GetByHostname(ctx, host)
}

// maxPerKey returns the largest number of queries made for one key.
func (c *countingSource) maxPerKey() (key string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, v := range c.counts {
		if v > n {
			key, n = k, v
		}
	}
	return key, n
}

// resolveUntil polls ResolveHost until check accepts the answer, failing t
// after limit: the functional deadline of an invalidation.
func resolveUntil(t testing.TB, r *Resolver, host string, limit time.Duration, what string,
	check func(*tenantstore.Tenant, error) bool) {
	t.Helper()
	var (
		got *tenantstore.Tenant
		err error
	)
	deadline := time.Now().Add(limit)
	for {
		got, err = r.ResolveHost(context.Background(), host)
		if check(got, err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ResolveHost(%s) = %+v, %v after %v; want %s", host, got, err, limit, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func isNotFound(_ *tenantstore.Tenant, err error) bool {
	return errors.Is(err, tenantstore.ErrNotFound)
}

// replaceHost returns rawURL with its host:port replaced.
func replaceHost(rawURL, hostport string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		panic(err)
	}
	u.Host = hostport
	return u.String()
}

// mustPublisher is NewPublisher for tests.
func mustPublisher(t testing.TB, rdb redis.UniversalClient, cfg Config) tenantstore.Notifier {
	t.Helper()
	p, err := NewPublisher(rdb, cfg)
	if err != nil {
		t.Fatalf("NewPublisher: %v", err)
	}
	return p
}

// isTombstone reports whether value, read under key, is an authentic
// tombstone.
func isTombstone(cfg Config, key, value string) bool {
	payload, ok := entryMAC{keys: cfg.MACKeys}.open(key, []byte(value))
	if !ok {
		return false
	}
	_, err := decodeTenant(payload, time.Now())
	return errors.Is(err, errTombstone)
}

// scanPrefix returns every key under prefix in the test Redis with its
// value.
func scanPrefix(t testing.TB, prefix string) map[string]string {
	t.Helper()
	ctx := context.Background()
	rdb := testenv.Redis(t)
	out := map[string]string{}
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		v, err := rdb.Get(ctx, iter.Val()).Result()
		if err == nil {
			out[iter.Val()] = v
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("scanning %s*: %v", prefix, err)
	}
	return out
}

// credentialsInURL matches a URL with a password in its user info
// ("scheme://user:password@") or in its query.
var credentialsInURL = regexp.MustCompile(`://[^/@\s"]*:[^/@\s"]*@|[?&]password=`)

// secretIn says which secret value contains, "" when none.
func secretIn(value string, secrets ...string) string {
	for _, s := range secrets {
		if strings.Contains(value, s) {
			return "the password " + s
		}
	}
	if credentialsInURL.MatchString(value) {
		return "a URL with credentials"
	}
	return ""
}
