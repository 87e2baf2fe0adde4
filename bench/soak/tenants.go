package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/sync/errgroup"

	"github.com/tenantgate/tenantgate/internal/tenanttoken"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// world is the soak's control plane and tenants: every database and role
// named with prefix, every Redis key under it.
type world struct {
	o         options
	prefix    string
	controlDB string // name of the control-plane database
	controlURL,
	template string
	store   *tenantstore.Store
	mgr     *tenantstore.Manager
	signing string // TENANT_SIGNING_KEYS
	admin   string // ADMIN_TOKENS

	mu      sync.Mutex
	tenants []soakTenant
}

// soakTenant is a created tenant and a session planted for its admin.
type soakTenant struct {
	sub, session string
}

func withDatabase(base, name string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("parsing PostgreSQL URL: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

func randomKey() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}

func newWorld(ctx context.Context, o options, prefix string) (*world, error) {
	w := &world{o: o, prefix: prefix, controlDB: prefix + "control"}
	var err error
	if w.controlURL, err = withDatabase(o.postgresURL, w.controlDB); err != nil {
		return nil, err
	}
	if w.template, err = tenantstore.DefaultTemplate(o.postgresURL); err != nil {
		return nil, err
	}
	w.store, err = tenantstore.Open(ctx, w.controlURL) // creates the database
	if err != nil {
		return nil, err
	}
	w.mgr, err = tenantstore.NewManager(tenantstore.ManagerConfig{
		Store: w.store, DSN: tenantstore.DSNConfig{Template: w.template, Getenv: func(string) string { return "" }},
		DatabasePrefix: prefix, BcryptCost: bcrypt.MinCost, BaseDomain: "localhost",
	})
	if err != nil {
		w.store.Close()
		return nil, err
	}
	w.signing = tenanttoken.FormatKeys([]tenanttoken.Key{{ID: "soak", Secret: randomKey()}})
	w.admin = base64.RawURLEncoding.EncodeToString(randomKey())
	return w, nil
}

// env is what caddy and the appservers share.
func (w *world) env() []string {
	return []string{
		"DATABASE_URL=" + w.controlURL,
		"REDIS_URL=" + w.o.redisURL,
		"REDIS_KEY_PREFIX=" + w.prefix + ":",
		"BASE_DOMAIN=localhost",
		"TENANT_SIGNING_KEYS=" + w.signing,
		"TENANT_DB_PREFIX=" + w.prefix,
		"ADMIN_TOKENS=" + w.admin,
	}
}

// createTenants provisions n tenants, parallel at a time, each with a
// session for its admin planted in its database (logging in a thousand
// admins through the API would meet the login throttle).
func (w *world) createTenants(ctx context.Context, n, parallel int) (int, error) {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	var done atomic.Int64
	start := time.Now()
	for i := range n {
		g.Go(func() error {
			t, err := w.createOne(gctx, fmt.Sprintf("s%04d", i))
			if err != nil {
				return err
			}
			w.mu.Lock()
			w.tenants = append(w.tenants, t)
			w.mu.Unlock()
			if d := done.Add(1); d%100 == 0 {
				fmt.Printf("  created %d (%.1f/s)\n", d, float64(d)/time.Since(start).Seconds())
			}
			return nil
		})
	}
	err := g.Wait()
	return int(done.Load()), err
}

func (w *world) createOne(ctx context.Context, sub string) (soakTenant, error) {
	t, _, err := w.mgr.Create(ctx, tenantstore.CreateRequest{
		Name: "Soak " + sub, Subdomain: sub, AdminEmail: "admin@" + sub + ".example.com",
		AdminPassword: "soak-password-" + sub,
	})
	if err != nil {
		return soakTenant{}, fmt.Errorf("creating tenant %s: %w", sub, err)
	}
	u, err := withDatabase(w.o.postgresURL, t.DatabaseName)
	if err != nil {
		return soakTenant{}, err
	}
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		return soakTenant{}, fmt.Errorf("planting a session for %s: %w", sub, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tok := make([]byte, 24)
	_, _ = rand.Read(tok)
	session := hex.EncodeToString(tok)
	hash := sha256.Sum256([]byte(session)) // what sales stores
	if _, err := conn.Exec(ctx, `INSERT INTO sessions (token_hash, user_id, expires_at)
		SELECT $1, id, now() + interval '1 day' FROM users ORDER BY created_at LIMIT 1`, hash[:]); err != nil {
		return soakTenant{}, fmt.Errorf("planting a session for %s: %w", sub, err)
	}
	return soakTenant{sub: sub, session: session}, nil
}

// deleteTenants deletes every created tenant through the manager, dropping
// its database and role.
func (w *world) deleteTenants(ctx context.Context, parallel int) (int, error) {
	w.mu.Lock()
	tenants := w.tenants
	w.tenants = nil
	w.mu.Unlock()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	var done atomic.Int64
	for _, t := range tenants {
		g.Go(func() error {
			// As an operator would: suspend (the edge refuses it), then delete.
			if _, err := w.mgr.SetStatus(gctx, t.sub, tenantstore.StatusSuspended); err != nil {
				return fmt.Errorf("suspending %s: %w", t.sub, err)
			}
			res, err := w.mgr.Delete(gctx, t.sub, tenantstore.DeleteOptions{DropDatabase: true})
			if err != nil {
				return fmt.Errorf("deleting %s: %w", t.sub, err)
			}
			if !res.DatabaseDropped {
				return fmt.Errorf("deleting %s: database kept: %s", t.sub, res.Warning)
			}
			done.Add(1)
			return nil
		})
	}
	err := g.Wait()
	return int(done.Load()), err
}

// cleanup drops whatever carries the prefix: tenant databases and roles
// left by an interrupted run, the control plane, Redis keys.
func (w *world) cleanup(ctx context.Context) error {
	w.mgr.Close()
	w.store.Close()
	conn, err := pgx.Connect(ctx, w.o.postgresURL)
	if err != nil {
		return fmt.Errorf("cleanup: %w", err)
	}
	defer conn.Close(ctx)
	like := strings.ReplaceAll(w.prefix, "_", `\_`) + "%"
	var errs []error
	rows, _ := conn.Query(ctx, `SELECT datname FROM pg_database WHERE datname LIKE $1`, like)
	dbs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	errs = append(errs, err)
	for _, db := range dbs {
		_, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{db}.Sanitize()+" WITH (FORCE)")
		errs = append(errs, err)
	}
	rows, _ = conn.Query(ctx, `SELECT rolname FROM pg_roles WHERE rolname LIKE $1`, like)
	roles, err := pgx.CollectRows(rows, pgx.RowTo[string])
	errs = append(errs, err)
	for _, r := range roles {
		_, err := conn.Exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{r}.Sanitize())
		errs = append(errs, err)
	}
	fmt.Printf("cleanup: dropped databases %v and roles %v (prefix %s)\n", dbs, roles, w.prefix)
	errs = append(errs, w.cleanupRedis(ctx))
	return errors.Join(errs...)
}

func (w *world) cleanupRedis(ctx context.Context) error {
	opt, err := redis.ParseURL(w.o.redisURL)
	if err != nil {
		return err
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	iter := rdb.Scan(ctx, 0, w.prefix+":*", 1000).Iterator()
	for iter.Next(ctx) {
		if err := rdb.Del(ctx, iter.Val()).Err(); err != nil {
			return err
		}
	}
	return iter.Err()
}
