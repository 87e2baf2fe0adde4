// Command appserver serves the tenant application (APP_ADDR) and the admin
// listener (ADMIN_ADDR) behind the tenantgate edge, and Prometheus metrics on
// an internal listener (METRICS_ADDR) when set. Configuration comes from the
// environment (SPEC §3); see config.go.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/tenantgate/tenantgate/appserver"
	"github.com/tenantgate/tenantgate/appserver/admin"
	"github.com/tenantgate/tenantgate/appserver/tenantpool"
	"github.com/tenantgate/tenantgate/internal/loginlimit"
	"github.com/tenantgate/tenantgate/internal/tenanttoken"
	"github.com/tenantgate/tenantgate/tenantops"
	"github.com/tenantgate/tenantgate/tenantstore"
	"github.com/tenantgate/tenantgate/tenantstore/resolver"
)

// Listener timeouts. WriteTimeout bounds a whole response, so it also bounds
// the slowest report query a client can make us run.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 120 * time.Second
	shutdownTimeout   = 25 * time.Second
	startupTimeout    = 30 * time.Second
)

func main() {
	if err := run(); err != nil {
		slog.Error("appserver stopped", slog.String("error", err.Error()))
		os.Exit(1)
	}
}

func run() error {
	log := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelInfo}))
	slog.SetDefault(log)
	redis.SetLogger(redisLogger{log})
	cfg, err := configFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	keys, err := tenanttoken.ParseKeys(cfg.SigningKeys)
	if err != nil {
		return fmt.Errorf("TENANT_SIGNING_KEYS: %w", err)
	}
	verifier, err := tenanttoken.NewVerifier(keys)
	if err != nil {
		return fmt.Errorf("TENANT_SIGNING_KEYS: %w", err)
	}

	openCtx, cancel := context.WithTimeout(ctx, startupTimeout)
	store, err := tenantstore.Open(openCtx, cfg.DatabaseURL)
	cancel()
	if err != nil {
		return fmt.Errorf("opening the control plane: %w", err)
	}
	defer store.Close()

	rdb, err := resolver.NewRedisClient(cfg.RedisURL)
	if err != nil {
		return err
	}
	defer rdb.Close()
	macKeys, err := resolver.EntryKeys(cfg.CacheKey, keys)
	if err != nil {
		return err
	}
	res, err := resolver.New(resolver.Config{
		BaseDomain: cfg.BaseDomain, KeyPrefix: cfg.RedisKeyPrefix, MACKeys: macKeys,
		OnBadEntry: func(key string) {
			log.Warn("cache entry failed verification; asking the control plane", slog.String("key", key))
		},
	}, store, rdb)
	if err != nil {
		return fmt.Errorf("starting the tenant resolver: %w", err)
	}
	defer res.Close()
	// Writes made through this process (the admin API) invalidate caches
	// everywhere, this process included.
	store.SetNotifier(res)
	store.SetAuditErrorHandler(func(action string, err error) {
		log.Error("a change was made but its audit row could not be written", slog.String("action", action), slog.String("error", err.Error()))
	})

	// The admin API goes through the same service layer as tenantctl.
	dsn := tenantstore.DSNConfig{Template: cfg.TenantTemplate, Getenv: os.Getenv}
	// The resolver's tenants carry no secret: database URLs come from the
	// control plane by tenant id, kept in memory by id and version.
	dbURLs, err := resolver.NewDatabaseURLs(resolver.DatabaseURLsConfig{Source: store, URL: dsn.URL})
	if err != nil {
		return err
	}
	defer dbURLs.Close()
	mgr, err := tenantstore.NewManager(tenantstore.ManagerConfig{
		Store: store, DSN: dsn, DatabasePrefix: cfg.TenantDBPrefix, BaseDomain: cfg.BaseDomain,
		DatabaseHosts: cfg.DatabaseHosts,
	})
	if err != nil {
		return err
	}
	defer mgr.Close()
	// Backups and moves run as jobs recorded in the control plane, so any
	// appserver instance can report on a job another one started.
	manifestKeys, err := tenantops.ManifestKeys(keys, cfg.BackupKey)
	if err != nil {
		return err
	}
	ops, err := tenantops.New(tenantops.Config{Store: store, DSN: dsn, Servers: store, ManifestKeys: manifestKeys})
	if err != nil {
		return err
	}
	jobs, err := tenantops.OpenJobs(ctx, tenantops.JobsConfig{DatabaseURL: cfg.DatabaseURL})
	if err != nil {
		return fmt.Errorf("opening the jobs table: %w", err)
	}
	defer jobs.Close()
	// Login attempts are counted in Redis under the deployment's key prefix,
	// so every appserver sees them; in memory while Redis is down.
	keyPrefix := cfg.RedisKeyPrefix
	if keyPrefix == "" {
		keyPrefix = resolver.DefaultKeyPrefix
	}
	limiter := loginlimit.New(loginlimit.Config{Redis: rdb, KeyPrefix: keyPrefix, OnRedisError: func(err error) {
		log.Warn("login throttling falls back to this process", slog.String("error", err.Error()))
	}})
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// /metrics only behind the admin token on the admin listener (which
	// the edge proxies), and without one on METRICS_ADDR when set.
	metrics := appserver.MetricsHandler(registry)

	// One budget for the tenant app's pools and the dashboard's: together
	// they hold at most TENANT_CONNS_MAX connections.
	budget := tenantpool.NewBudget(tenantpool.BudgetConfig{Max: cfg.ConnsMax, Wait: cfg.ConnsWait})
	checkServerCapacity(ctx, log, cfg, dsn)

	adm, err := admin.New(admin.Config{
		Pools:   tenantpool.Config{Budget: budget},
		Manager: mgr, Tokens: cfg.AdminTokens, Logger: log, Metrics: metrics, BaseDomain: cfg.BaseDomain,
		LoginLimiter: limiter, TrustedProxies: cfg.TrustedProxies,
		Ops: &admin.Ops{Ops: ops, Jobs: jobs, BackupDir: cfg.BackupDir},
	})
	if err != nil {
		return err
	}
	defer adm.Close()

	usage := startUsage(store, mgr, log)
	srv, err := appserver.New(appserver.Config{
		Verifier:  verifier,
		Tenants:   res,
		Locations: store,
		Logos:     store,
		DSN:       dbURLs.URL,
		// Impersonation links issued by the admin API are used here.
		Impersonations: store,
		Pools: tenantpool.Config{
			MaxPools:    cfg.MaxTenantPools,
			MaxConns:    cfg.PoolMaxConns,
			IdleTimeout: cfg.PoolIdleTimeout,
			Budget:      budget,
		},
		Ready: func(ctx context.Context) error {
			if err := store.Ping(ctx); err != nil {
				return errors.New("control plane database unreachable")
			}
			if err := rdb.Ping(ctx).Err(); err != nil {
				return errors.New("redis unreachable")
			}
			return nil
		},
		Logger:         log,
		Registry:       registry,
		Admin:          adm,
		BaseDomain:     cfg.BaseDomain,
		LoginLimiter:   limiter,
		TrustedProxies: cfg.TrustedProxies,
		Usage:          usage.app,
	})
	if err != nil {
		usage.Stop(context.Background())
		return err
	}
	defer srv.Close()
	res.OnChange(dbURLs.TenantChanged)
	res.OnChange(srv.TenantChanged)
	res.Start(ctx)

	servers := []*http.Server{
		newServer(cfg.AppAddr, srv.AppHandler(), log),
		newServer(cfg.AdminAddr, srv.AdminHandler(), log),
	}
	if cfg.MetricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", metrics)
		servers = append(servers, newServer(cfg.MetricsAddr, mux, log))
	}
	errc := make(chan error, len(servers))
	for _, s := range servers {
		ln, err := net.Listen("tcp", s.Addr)
		if err != nil {
			return fmt.Errorf("listening on %s: %w", s.Addr, err)
		}
		log.Info("listening", slog.String("addr", ln.Addr().String()))
		go func() {
			if err := s.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("serving %s: %w", s.Addr, err)
			}
		}()
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case runErr = <-errc:
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	for _, s := range servers {
		if err := s.Shutdown(shutdownCtx); err != nil {
			runErr = errors.Join(runErr, fmt.Errorf("shutting down %s: %w", s.Addr, err))
		}
	}
	// The requests are done: write the usage they were counted in.
	usage.Stop(shutdownCtx)
	return runErr
}

func newServer(addr string, h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}
