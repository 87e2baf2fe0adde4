package tenantops_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/tenantgate/tenantgate/tenantops"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantgate/tenantgate/appserver"
	"github.com/tenantgate/tenantgate/internal/tenanttoken"
	"github.com/tenantgate/tenantgate/internal/testenv"
	"github.com/tenantgate/tenantgate/tenantstore"
	"github.com/tenantgate/tenantgate/tenantstore/resolver"
)

// app is the real appserver handler over the test's control plane, with the
// real resolver (Redis invalidation) in front of it, as in production
// behind the edge.
type app struct {
	handler http.Handler
	signer  *tenanttoken.Signer
}

func newApp(t *testing.T, e *env) *app {
	t.Helper()
	keys := []tenanttoken.Key{{ID: "k1", Secret: bytes.Repeat([]byte("s"), 32)}}
	signer, err := tenanttoken.NewSigner(keys)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := tenanttoken.NewVerifier(keys)
	if err != nil {
		t.Fatal(err)
	}
	prefix := testenv.KeyPrefix(t)
	res, err := resolver.New(resolver.Config{KeyPrefix: prefix, MACKeys: testenv.EntryKeys()}, e.store, testenv.Redis(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	res.Start(ctx)
	t.Cleanup(func() { cancel(); res.Close() })
	// The control plane's changes reach every resolver subscribed to the
	// channel, as tenantctl's publisher does in production.
	e.store.SetNotifier(res)
	srv, err := appserver.New(appserver.Config{
		Verifier:   verifier,
		Tenants:    res,
		Locations:  e.store,
		DSN:        controlPlaneDSN(t, e.store, e.dsn),
		Logger:     slog.New(slog.NewJSONHandler(io.Discard, nil)),
		BcryptCost: bcrypt.MinCost,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	res.OnChange(srv.TenantChanged)
	return &app{handler: srv.AppHandler(), signer: signer}
}

// do sends one request for tenant tn with a fresh edge token.
func (a *app) do(t *testing.T, tn *tenantstore.Tenant, method, path, session string, body any) (int, []byte) {
	host := tn.Subdomain + ".localhost"
	b, _ := json.Marshal(body)
	r := httptest.NewRequest(method, "http://"+host+path, bytes.NewReader(b))
	r.Header.Set("Content-Type", "application/json")
	tok, err := a.signer.Sign(tn.ID, tn.Subdomain, host, time.Now())
	if err != nil {
		t.Error(err)
	}
	r.Header.Set(tenanttoken.Header, tok)
	if session != "" {
		r.Header.Set("Authorization", "Bearer "+session)
	}
	w := httptest.NewRecorder()
	a.handler.ServeHTTP(w, r)
	return w.Code, w.Body.Bytes()
}

func (a *app) login(t *testing.T, tn *tenantstore.Tenant) string {
	t.Helper()
	code, body := a.do(t, tn, http.MethodPost, "/api/auth/login", "", map[string]string{"email": tn.AdminEmail, "password": adminPassword})
	var out struct{ Token string }
	if code != http.StatusOK || json.Unmarshal(body, &out) != nil || out.Token == "" {
		t.Fatalf("login = %d %s, want 200 with a token", code, body)
	}
	return out.Token
}

func TestMove(t *testing.T) {
	e := newEnv(t)
	second := testenv.StartPostgres(t)
	ctx := context.Background()

	t.Run("under write traffic nothing is lost", func(t *testing.T) {
		tn := e.createTenant(t, "acme", 20)
		a := newApp(t, e)
		session := a.login(t, tn)

		type attempt struct {
			name string
			code int
			body string
		}
		var mu sync.Mutex
		var attempts []attempt
		moveDone := make(chan struct{})
		writerDone := make(chan struct{})
		go func() {
			defer close(writerDone)
			okAfterMove := 0
			deadline := time.Now().Add(time.Minute)
			for i := 0; okAfterMove < 5 && time.Now().Before(deadline); i++ {
				name := fmt.Sprintf("writer %d", i)
				code, body := a.do(t, tn, http.MethodPost, "/api/customers", session, map[string]string{"name": name})
				mu.Lock()
				attempts = append(attempts, attempt{name, code, string(body)})
				mu.Unlock()
				select {
				case <-moveDone:
					if code == http.StatusCreated {
						okAfterMove++
					}
				default:
				}
				time.Sleep(3 * time.Millisecond)
			}
		}()
		// Let some writes land on the old database first.
		time.Sleep(300 * time.Millisecond)
		newURL := testenv.WithDatabase(second, e.prefix+"moved_acme")
		res, err := e.ops.Move(ctx, "acme", newURL, tenantops.MoveOptions{}, nil)
		close(moveDone)
		<-writerDone
		if err != nil {
			t.Fatalf("Move: %v", err)
		}

		var created []string
		refused := 0
		for _, at := range attempts {
			switch at.code {
			case http.StatusCreated:
				created = append(created, at.name)
			case http.StatusServiceUnavailable:
				refused++
			default:
				t.Errorf("insert %q = %d %s, want 201 or 503", at.name, at.code, at.body)
			}
		}
		t.Logf("%d inserts: %d created, %d refused with 503; maintenance %d ms", len(attempts), len(created), refused, res.MaintenanceMS)
		if refused == 0 {
			t.Errorf("no insert was refused with 503 during the move's maintenance (of %d attempts)", len(attempts))
		}

		after := e.tenant(t, "acme")
		// The operator's credentials are not stored: the tenant is on the
		// new server as its own role (issue 11).
		stored, _ := tenantstore.WithoutCredentials(newURL)
		if after.Status != tenantstore.StatusActive || after.Placement.URL != stored {
			t.Errorf("tenant after move: status %s, URL %s; want active on %s", after.Status,
				tenantstore.RedactURL(after.Placement.URL), stored)
		}
		conn := e.conn(t, after)
		rows, err := conn.Query(ctx, "SELECT name FROM customers WHERE name LIKE 'writer %'")
		if err != nil {
			t.Fatal(err)
		}
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		present := map[string]bool{}
		for _, n := range names {
			present[n] = true
		}
		for _, n := range created {
			if !present[n] {
				t.Errorf("customer %q was created (201) but is missing after the move", n)
			}
		}
		if len(names) != len(created) {
			t.Errorf("writer customers on the new server = %d, want %d (one per 201)", len(names), len(created))
		}
		if got := e.count(t, after, "users"); got != 1 {
			t.Errorf("users on the new server = %d, want 1", got)
		}
		if res.NewServer == res.OldServer || res.Tables["public.customers"] == 0 || strings.Contains(fmt.Sprint(res), "password") {
			t.Errorf("MoveResult = %+v, want old and new servers, counts, no secret", res)
		}
		if !databaseExists(t, testenv.PostgresURL(), tn.DatabaseName) {
			t.Errorf("old database %s was dropped; a move keeps it", tn.DatabaseName)
		}
	})

	t.Run("failure before the switch rolls back", func(t *testing.T) {
		tn := e.createTenant(t, "globex", 3)
		failing, err := tenantops.New(tenantops.Config{Store: e.store, DSN: e.dsn, Drain: 50 * time.Millisecond, PgRestore: "false", TempDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		name := e.prefix + "moved_globex"
		_, err = failing.Move(ctx, "globex", testenv.WithDatabase(second, name), tenantops.MoveOptions{}, nil)
		if err == nil {
			t.Fatal("Move with a failing pg_restore succeeded, want an error")
		}
		after := e.tenant(t, "globex")
		if after.Status != tenantstore.StatusActive || !tenantops.SameDatabase(tn, after) {
			t.Errorf("tenant after failed move: status %s, database %s %+v; want active on %s",
				after.Status, after.DatabaseName, after.Placement.Kind(), tn.DatabaseName)
		}
		if databaseExists(t, second, name) {
			t.Errorf("database %s left on the new server after a failed move", name)
		}
		if got := e.count(t, after, "customers"); got != 3 {
			t.Errorf("customers in the old database = %d, want 3", got)
		}
	})

	t.Run("existing target database is never overwritten", func(t *testing.T) {
		tn := e.createTenant(t, "initech", 2)
		name := e.prefix + "taken"
		conn, err := pgx.Connect(ctx, second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			t.Fatal(err)
		}
		_, err = e.ops.Move(ctx, "initech", testenv.WithDatabase(second, name), tenantops.MoveOptions{}, nil)
		if !errors.Is(err, tenantstore.ErrConflict) || !strings.Contains(err.Error(), "already exists") {
			t.Fatalf("Move onto an existing database = %v, want a conflict saying it exists", err)
		}
		if !databaseExists(t, second, name) {
			t.Errorf("the existing database %s was dropped", name)
		}
		if after := e.tenant(t, "initech"); after.Status != tenantstore.StatusActive || !tenantops.SameDatabase(tn, after) {
			t.Errorf("tenant after refused move: status %s database %s, want unchanged", after.Status, after.DatabaseName)
		}
	})
}
