package appserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantgate/tenantgate/appserver/tenantpool"
	"github.com/tenantgate/tenantgate/internal/tenanttoken"
	"github.com/tenantgate/tenantgate/internal/testenv"
	"github.com/tenantgate/tenantgate/migrations"
	"github.com/tenantgate/tenantgate/tenantstore"
)

const testPassword = "correct horse battery"

// fakeDirectory stands in for the resolver and the control plane's
// locations: tenants by ID, mutable by the test.
type fakeDirectory struct {
	mu        sync.Mutex
	tenants   map[string]*tenantstore.Tenant
	locations map[string][]tenantstore.Location
	logos     map[string]*tenantstore.Logo // by tenant id
	logoLoads int                          // Logo calls
}

func (d *fakeDirectory) ResolveID(_ context.Context, id string) (*tenantstore.Tenant, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t, ok := d.tenants[id]
	if !ok {
		return nil, tenantstore.ErrNotFound
	}
	return t, nil
}

func (d *fakeDirectory) ListLocations(_ context.Context, id string) ([]tenantstore.Location, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]tenantstore.Location(nil), d.locations[id]...), nil
}

func (d *fakeDirectory) Logo(_ context.Context, id string) (*tenantstore.Logo, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.logoLoads++
	if l, ok := d.logos[id]; ok {
		return l, nil
	}
	return nil, tenantstore.ErrNotFound
}

// put replaces a tenant (tenants handed out are never modified in place).
func (d *fakeDirectory) put(t *tenantstore.Tenant) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.tenants[t.ID] = t
}

// env is one test's appserver over real tenant databases.
type env struct {
	t       testing.TB
	prefix  string
	tmpl    string // name of the migrated template database
	dir     *fakeDirectory
	signer  *tenanttoken.Signer
	key     []byte // the signing secret, to forge odd tokens
	srv     *Server
	handler http.Handler

	mu    sync.Mutex
	dbs   []string  // databases to drop at cleanup
	admin *pgx.Conn // to the maintenance database, for CREATE DATABASE
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

// tenantFixture is one provisioned tenant: its admin's session token.
type tenantFixture struct {
	*tenantstore.Tenant
	Host    string
	Session string // bearer token of the admin user
	AdminID string
}

func newEnv(t testing.TB, pools tenantpool.Config) *env {
	t.Helper()
	testenv.Integration(t)
	keys := []tenanttoken.Key{{ID: "k1", Secret: randomBytes(32)}}
	signer, err := tenanttoken.NewSigner(keys)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := tenanttoken.NewVerifier(keys)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{
		t:      t,
		prefix: testenv.TenantPrefix(t),
		dir: &fakeDirectory{tenants: map[string]*tenantstore.Tenant{}, locations: map[string][]tenantstore.Location{},
			logos: map[string]*tenantstore.Logo{}},
		signer: signer,
		key:    keys[0].Secret,
	}
	e.tmpl = e.prefix + "tmpl"
	// Registered after TenantPrefix, so it runs first: the databases are
	// dropped a few at a time, each with its own deadline, which a busy
	// server needs for 50 of them (TenantPrefix's sweep has one deadline).
	t.Cleanup(e.dropDBs)
	e.createTemplate()
	srv, err := New(Config{
		Verifier:   verifier,
		Tenants:    e.dir,
		Locations:  e.dir,
		Logos:      e.dir,
		DSN:        func(_ context.Context, t *tenantstore.Tenant) (string, error) { return t.Placement.URL, nil },
		Pools:      pools,
		Logger:     slog.New(slog.NewJSONHandler(io.Discard, nil)),
		BcryptCost: bcrypt.MinCost,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	e.srv = srv
	e.handler = srv.AppHandler()
	return e
}

func (e *env) addDB(name string) {
	e.mu.Lock()
	e.dbs = append(e.dbs, name)
	e.mu.Unlock()
}

func (e *env) dropDBs() {
	e.mu.Lock()
	names := e.dbs
	e.mu.Unlock()
	work := make(chan string)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for n := range work {
				testenv.DropDatabases(e.t, n)
			}
		})
	}
	for _, n := range names {
		work <- n
	}
	close(work)
	wg.Wait()
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// createTemplate makes a database with the tenant migrations applied, from
// which every tenant database of the test is copied (much faster than
// migrating each).
func (e *env) createTemplate() {
	e.t.Helper()
	ctx := context.Background()
	e.admin = testenv.Admin(e.t)
	if _, err := e.admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{e.tmpl}.Sanitize()); err != nil {
		e.t.Fatalf("creating template database: %v", err)
	}
	e.addDB(e.tmpl)
	cfg, err := pgx.ParseConfig(testenv.WithDatabase(testenv.PostgresURL(), e.tmpl))
	if err != nil {
		e.t.Fatal(err)
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	if err := migrate(ctx, db); err != nil {
		e.t.Fatalf("migrating template database: %v", err)
	}
}

func migrate(ctx context.Context, db *sql.DB) error {
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.Tenant())
	if err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}

// addTenant creates a tenant database from the template, with one admin user
// and a session for it.
func (e *env) addTenant(sub string, maxUsers int) *tenantFixture {
	e.t.Helper()
	ctx := context.Background()
	name := e.prefix + sub
	e.mu.Lock() // one connection, one statement at a time
	_, err := e.admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE "+pgx.Identifier{e.tmpl}.Sanitize())
	e.mu.Unlock()
	if err != nil {
		e.t.Fatalf("creating tenant database: %v", err)
	}
	e.addDB(name)
	t := &tenantstore.Tenant{
		ID: uuid.NewString(), Name: sub, Subdomain: sub, Status: tenantstore.StatusActive,
		MaxUsers: maxUsers, DatabaseName: name,
		Placement: tenantstore.Placement{URL: testenv.WithDatabase(testenv.PostgresURL(), name)},
	}
	f := &tenantFixture{Tenant: t, Host: sub + ".localhost"}
	conn, err := pgx.Connect(ctx, t.Placement.URL)
	if err != nil {
		e.t.Fatal(err)
	}
	defer conn.Close(ctx)
	hash, _ := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	if err := conn.QueryRow(ctx, `INSERT INTO users (email, name, role, password_hash) VALUES ($1, 'Admin', 'admin', $2) RETURNING id::text`,
		"admin@"+sub+".example.com", string(hash)).Scan(&f.AdminID); err != nil {
		e.t.Fatal(err)
	}
	f.Session = uuid.NewString()
	if _, err := conn.Exec(ctx, `INSERT INTO sessions (token_hash, user_id, expires_at) VALUES ($1, $2, now() + interval '1 hour')`,
		sessionHash(f.Session), f.AdminID); err != nil {
		e.t.Fatal(err)
	}
	e.dir.put(t)
	return f
}

// call is one request to the app listener as the edge would forward it.
type call struct {
	method, path string
	body         any
	host         string // Host header; the tenant's host when empty
	token        string // X-Tenant-Token; signed for the tenant and host when empty
	noToken      bool
	session      string // bearer token; the admin's when empty
	noSession    bool
	header       http.Header
}

type response struct {
	Status int
	Body   map[string]any
	Raw    []byte
	Header http.Header
}

func (r response) errorCode() string {
	if e, ok := r.Body["error"].(map[string]any); ok {
		s, _ := e["code"].(string)
		return s
	}
	return ""
}

func (r response) errorField() string {
	if e, ok := r.Body["error"].(map[string]any); ok {
		s, _ := e["field"].(string)
		return s
	}
	return ""
}

func (e *env) do(f *tenantFixture, c call) response {
	e.t.Helper()
	var body io.Reader
	if c.body != nil {
		if s, ok := c.body.(string); ok {
			body = strings.NewReader(s)
		} else {
			b, _ := json.Marshal(c.body)
			body = bytes.NewReader(b)
		}
	}
	req := httptest.NewRequest(c.method, c.path, body)
	host := c.host
	if host == "" {
		host = f.Host
	}
	req.Host = host
	if !c.noToken {
		tok := c.token
		if tok == "" {
			var err error
			if tok, err = e.signer.Sign(f.ID, f.Subdomain, host, time.Now()); err != nil {
				e.t.Fatal(err)
			}
		}
		req.Header.Set(tenanttoken.Header, tok)
	}
	if !c.noSession {
		s := c.session
		if s == "" {
			s = f.Session
		}
		req.Header.Set("Authorization", "Bearer "+s)
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	res := response{Status: rec.Code, Raw: rec.Body.Bytes(), Header: rec.Header()}
	_ = json.Unmarshal(res.Raw, &res.Body)
	return res
}

// must fails the test unless the response has status want.
func (e *env) must(want int, r response, what string) response {
	e.t.Helper()
	if r.Status != want {
		e.t.Fatalf("%s: status = %d, want %d; body %s", what, r.Status, want, r.Raw)
	}
	return r
}

// sessionHash is what the sessions table stores for a session token (the
// SHA-256 of the token, as sales stores it), to plant a session directly.
func sessionHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}
