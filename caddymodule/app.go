// Package caddymodule is the tenantgate edge: Caddy modules that map a
// request's host to a tenant and vouch for it to the application servers.
//
//   - the "tenant" app (global option block `tenant { … }`) holds the
//     configuration and ONE resolver per process (in-process cache → Redis →
//     PostgreSQL), shared by the modules below and kept across config reloads;
//   - the "http.handlers.tenant" handler (directive `tenant`) resolves the
//     host, refuses unknown, suspended and unavailable tenants, strips
//     client-sent X-Tenant* headers and adds a signed X-Tenant-Token;
//   - the "http.handlers.tenant_error" handler (directive `tenant_error`,
//     for `handle_errors`) renders those refusals, and any other error, as a
//     small HTML page or as JSON;
//   - the "tls.permission.tenant" module (`on_demand_tls { permission tenant }`)
//     allows certificates only for hosts of active tenants and the admin host.
package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/tenantgate/tenantgate/internal/meter"
	"github.com/tenantgate/tenantgate/internal/tenanttoken"
	"github.com/tenantgate/tenantgate/tenantstore"
	"github.com/tenantgate/tenantgate/tenantstore/resolver"
)

func init() {
	caddy.RegisterModule(new(App))
}

// Defaults of App. DATABASE_URL, REDIS_URL, BASE_DOMAIN and
// TENANT_SIGNING_KEYS are read at provision time through Caddy's runtime
// placeholders ({env.…}), so secrets never have to be written into the
// adapted JSON config.
const (
	DefaultDatabaseURL = "{env.DATABASE_URL}"
	DefaultRedisURL    = "{env.REDIS_URL}"
	DefaultBaseDomain  = "{env.BASE_DOMAIN}"
	DefaultSigningKeys = "{env.TENANT_SIGNING_KEYS}"
	DefaultCacheKey    = "{env.CACHE_KEY}"

	// FallbackDatabaseURL and FallbackRedisURL are used when the setting is
	// empty once placeholders are replaced (SPEC §3 defaults).
	FallbackDatabaseURL = "postgres://postgres@127.0.0.1:5432/tenantgate?sslmode=disable"
	FallbackRedisURL    = "redis://127.0.0.1:6379/0"
	FallbackBaseDomain  = "localhost"

	// openTimeout bounds opening the control-plane store at provision time.
	openTimeout = 15 * time.Second
)

// App is the "tenant" Caddy app. Its fields accept Caddy runtime placeholders
// such as {env.DATABASE_URL}.
//
// Caddyfile (global options):
//
//	{
//		tenant {
//			database_url   <url>       # default {env.DATABASE_URL}, else postgres://postgres@127.0.0.1:5432/tenantgate?sslmode=disable
//			redis_url      <url>|off   # default {env.REDIS_URL}, else redis://127.0.0.1:6379/0; "off": no Redis
//			base_domain    <domain>    # default {env.BASE_DOMAIN}, else localhost
//			admin_host     <host>      # default admin.<base_domain>
//			signing_keys   <keys>      # default {env.TENANT_SIGNING_KEYS}: kid:base64[,kid:base64…]
//			cache_key      <keys>      # default {env.CACHE_KEY}: base64[,base64…]; else derived from signing_keys
//			key_prefix     <prefix>    # Redis key prefix, default tenantgate:
//			channel        <name>      # Redis invalidation channel, default <key_prefix>invalidate
//			cache_size     <n>         # in-process entries, default 100000
//			ttl            <duration>  # positive answers in memory, default 1m
//			negative_ttl   <duration>  # "no such tenant", default 5s
//			redis_timeout  <duration>  # per Redis call, default 100ms
//			source_timeout <duration>  # per PostgreSQL read, default 1s
//			limits {                   # per-tenant defaults; 0 = unlimited
//				rate_per_second <n>    # requests per second, fractions allowed
//				burst           <n>    # default: one second of the rate
//				max_in_flight   <n>    # requests being served at once
//			}
//			shed {                     # the whole edge; max_in_flight 0 = off
//				max_in_flight <n>      # requests of all tenants served at once
//				queue_timeout <duration> # longest wait for a slot, default 100ms
//				queue_length  <n>      # requests waiting at once, default max_in_flight
//			}
//		}
//	}
type App struct {
	// DatabaseURL is the control-plane database. Default {env.DATABASE_URL},
	// or FallbackDatabaseURL when that is empty.
	DatabaseURL string `json:"database_url,omitempty"`
	// RedisURL is the cache and invalidation channel; "off" runs without
	// Redis. Default {env.REDIS_URL}, or FallbackRedisURL when empty.
	RedisURL string `json:"redis_url,omitempty"`
	// BaseDomain: tenants live at <subdomain>.<BaseDomain>. Default
	// {env.BASE_DOMAIN}, or "localhost" when empty.
	BaseDomain string `json:"base_domain,omitempty"`
	// AdminHost is the admin API's host: allowed a certificate, never
	// resolved as a tenant. Default "admin.<BaseDomain>".
	AdminHost string `json:"admin_host,omitempty"`
	// SigningKeys are the X-Tenant-Token keys ("kid:base64[,…]", the first
	// signs). Default {env.TENANT_SIGNING_KEYS}. Required by the handler,
	// and with Redis unless CacheKey is set.
	SigningKeys string `json:"signing_keys,omitempty"`
	// CacheKey authenticates the Redis entries (SPEC §9): standard base64
	// keys of at least 32 bytes, comma-separated, the first makes MACs.
	// Default {env.CACHE_KEY}; when empty, keys derived from SigningKeys.
	CacheKey string `json:"cache_key,omitempty"`
	// KeyPrefix starts every Redis key. Default "tenantgate:".
	KeyPrefix string `json:"key_prefix,omitempty"`
	// Channel is the Redis invalidation channel. Default "<KeyPrefix>invalidate".
	Channel string `json:"channel,omitempty"`
	// CacheSize bounds the in-process cache. Default 100000.
	CacheSize int `json:"cache_size,omitempty"`
	// TTL is how long a positive answer is served from memory. Default 1m.
	TTL caddy.Duration `json:"ttl,omitempty"`
	// NegativeTTL is how long "no such tenant" is cached. Default 5s.
	NegativeTTL caddy.Duration `json:"negative_ttl,omitempty"`
	// RedisTimeout bounds each Redis call. Default 100ms.
	RedisTimeout caddy.Duration `json:"redis_timeout,omitempty"`
	// SourceTimeout bounds each control-plane read. Default 1s.
	SourceTimeout caddy.Duration `json:"source_timeout,omitempty"`
	// Limits are the per-tenant defaults (SPEC §11): what a tenant whose
	// own limits are null gets. Nil or zero: unlimited.
	Limits *LimitsConfig `json:"limits,omitempty"`
	// Shed bounds the requests the whole edge serves at once, queueing
	// the excess fairly across tenants for a short while. Nil: off.
	Shed *ShedConfig `json:"shed,omitempty"`

	adminHost string
	keys      []tenanttoken.Key
	poolKey   string
	shared    *sharedResolver
	guard     *guard // nil without limits and shed
	meter     *meter.Edge
	flusher   *meter.Flusher
	logger    *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (*App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "tenant",
		New: func() caddy.Module { return new(App) },
	}
}

// resolvers holds the one resolver of the process, keyed by the settings
// that shape it, so that a config reload with the same settings keeps the
// warm cache and the open connections: the new config's Provision loads the
// entry before the old config's Cleanup releases it.
var resolvers = caddy.NewUsagePool()

// hostResolver is what the modules need of the resolver.
type hostResolver interface {
	ResolveHost(ctx context.Context, host string) (*tenantstore.Tenant, error)
}

// sharedResolver is the pooled value: the resolver and what it owns.
type sharedResolver struct {
	resolver *resolver.Resolver
	source   *source
	rdb      redis.UniversalClient
	cancel   context.CancelFunc
}

// Destruct stops the resolver and closes its connections; the pool calls it
// when the last config using it is unloaded.
func (s *sharedResolver) Destruct() error {
	s.cancel()
	err := s.resolver.Close()
	if s.rdb != nil {
		err = errors.Join(err, s.rdb.Close())
	}
	s.source.Close()
	return err
}

// Provision resolves placeholders and defaults, then loads or creates the
// process's resolver.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	if err := errors.Join(a.Limits.validate(), a.Shed.validate()); err != nil {
		return fmt.Errorf("tenant app: %w", err)
	}
	repl := caddy.NewReplacer()
	get := func(v, def, fallback string) string {
		if v == "" {
			v = def
		}
		v = strings.TrimSpace(repl.ReplaceAll(v, ""))
		if v == "" {
			v = fallback
		}
		return v
	}
	dbURL := get(a.DatabaseURL, DefaultDatabaseURL, FallbackDatabaseURL)
	redisURL := get(a.RedisURL, DefaultRedisURL, FallbackRedisURL)
	rawBase := get(a.BaseDomain, DefaultBaseDomain, FallbackBaseDomain)
	base, ok := tenantstore.NormalizeHost(rawBase)
	if !ok {
		return fmt.Errorf("tenant app: base_domain %q is not a valid host name", rawBase)
	}
	a.adminHost = "admin." + base
	if a.AdminHost != "" {
		rawAdmin := repl.ReplaceAll(a.AdminHost, "")
		h, ok := tenantstore.NormalizeHost(rawAdmin)
		if !ok {
			return fmt.Errorf("tenant app: admin_host %q is not a valid host name", rawAdmin)
		}
		a.adminHost = h
	}
	if keys := get(a.SigningKeys, DefaultSigningKeys, ""); keys != "" {
		parsed, err := tenanttoken.ParseKeys(keys)
		if err != nil {
			return fmt.Errorf("tenant app: signing_keys: %w", err)
		}
		a.keys = parsed
	}

	var macKeys [][]byte
	if redisURL != "off" {
		var err error
		if macKeys, err = resolver.EntryKeys(get(a.CacheKey, DefaultCacheKey, ""), a.keys); err != nil {
			return fmt.Errorf("tenant app: %w (signing_keys or cache_key)", err)
		}
	}

	cfg := resolver.Config{
		BaseDomain:    base,
		KeyPrefix:     a.KeyPrefix,
		Channel:       a.Channel,
		MaxEntries:    a.CacheSize,
		TTL:           time.Duration(a.TTL),
		NegativeTTL:   time.Duration(a.NegativeTTL),
		RedisTimeout:  time.Duration(a.RedisTimeout),
		SourceTimeout: time.Duration(a.SourceTimeout),
		MACKeys:       macKeys,
	}
	// The key holds the secrets-bearing URLs and the MAC keys, but only in
	// memory.
	a.poolKey = strings.Join([]string{dbURL, redisURL, fmt.Sprintf("%+v", cfg)}, "\x00")
	v, loaded, err := resolvers.LoadOrNew(a.poolKey, func() (caddy.Destructor, error) {
		return newSharedResolver(cfg, dbURL, redisURL)
	})
	if err != nil {
		return fmt.Errorf("tenant app: %w", err)
	}
	a.shared = v.(*sharedResolver)
	if a.Limits != nil || a.Shed != nil {
		if a.guard, err = newGuard(a.Limits, a.Shed, ctx.GetMetricsRegistry()); err != nil {
			return fmt.Errorf("tenant app: %w", err)
		}
	}
	a.startUsage()
	a.logger.Info("tenant resolver ready",
		zap.String("base_domain", base),
		zap.String("admin_host", a.adminHost),
		zap.String("database", tenantstore.RedactURL(dbURL)),
		zap.String("redis", tenantstore.RedactURL(redisURL)),
		zap.Bool("reused", loaded))
	return nil
}

func newSharedResolver(cfg resolver.Config, dbURL, redisURL string) (*sharedResolver, error) {
	// The resolver belongs to the process, not to one config, so it logs
	// through Caddy's process-wide logger.
	logger := caddy.Log().Named("tenant")
	var rdb redis.UniversalClient
	if redisURL != "off" {
		var err error
		rdb, err = resolver.NewRedisClient(redisURL)
		if err != nil {
			return nil, fmt.Errorf("redis_url: %w", err)
		}
	}
	src := openSource(dbURL, logger)
	cfg.OnBadEntry = func(key string) {
		logger.Warn("cache entry failed verification; asking the control plane", zap.String("key", key))
	}
	r, err := resolver.New(cfg, src, rdb)
	if err != nil {
		if rdb != nil {
			_ = rdb.Close()
		}
		src.Close()
		return nil, fmt.Errorf("creating resolver: %w", err)
	}
	// The subscriber belongs to the process, not to one config: it stops
	// in Destruct.
	runCtx, stop := context.WithCancel(context.Background())
	r.Start(runCtx)
	return &sharedResolver{resolver: r, source: src, rdb: rdb, cancel: stop}, nil
}

// Start implements caddy.App: it starts the usage flusher (the resolver
// was started in Provision).
func (a *App) Start() error {
	a.flusher.Start()
	return nil
}

// Stop implements caddy.App; the resolver outlives the config (see Cleanup).
func (a *App) Stop() error { return nil }

// Cleanup writes the usage this config counted, then releases its use of
// the shared resolver, which is closed when no config uses it any more.
// Caddy cleans up after every app of the config has stopped, so the
// requests the HTTP servers drained on a graceful stop are counted.
func (a *App) Cleanup() error {
	if a.shared != nil {
		a.stopUsage()
	}
	if a.guard != nil {
		a.guard.close()
		a.guard = nil
	}
	if a.shared == nil {
		return nil
	}
	a.shared = nil
	_, err := resolvers.Delete(a.poolKey)
	return err
}

// resolver returns the shared resolver.
func (a *App) resolver() hostResolver { return a.shared.resolver }

// isAdminHost reports whether the normalised host is the admin host.
func (a *App) isAdminHost(host string) bool { return host == a.adminHost }

// appFromContext loads (or provisions with defaults) the tenant app.
func appFromContext(ctx caddy.Context) (*App, error) {
	v, err := ctx.App("tenant")
	if err != nil {
		return nil, fmt.Errorf("loading the tenant app: %w", err)
	}
	return v.(*App), nil
}

// Interface guards
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
	_ caddy.Destructor   = (*sharedResolver)(nil)
)
