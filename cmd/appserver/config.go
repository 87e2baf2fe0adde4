package main

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tenantgate/tenantgate/appserver/clientinfo"
	"github.com/tenantgate/tenantgate/appserver/tenantpool"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// Defaults of SPEC §3.
const (
	defaultAppAddr     = ":8000"
	defaultAdminAddr   = ":9000"
	defaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/tenantgate?sslmode=disable"
	defaultRedisURL    = "redis://127.0.0.1:6379/0"
	defaultBaseDomain  = "localhost"
	// minAdminTokenLength is the shortest admin token accepted: a bearer
	// token is the whole admin credential, so it must not be guessable.
	minAdminTokenLength = 32
	// defaultAppservers is APPSERVERS' default, the two of make run.
	defaultAppservers = 2
	// maxConnsBudget caps TENANT_CONNS_MAX and APPSERVERS: PostgreSQL's
	// max_connections tops out at 262143, so anything beyond is a typo.
	maxConnsBudget = 262143
	// maxConnsWait caps TENANT_CONNS_WAIT well below the listener's
	// write timeout.
	maxConnsWait = 30 * time.Second
)

// config is the environment of the appserver.
type config struct {
	AppAddr, AdminAddr string
	MetricsAddr        string // internal /metrics listener without auth; empty: none
	DatabaseURL        string
	TenantTemplate     string
	TenantDBPrefix     string
	BackupDir          string   // where POST /api/tenants/{sub}/backups writes; empty disables it
	DatabaseHosts      []string // TENANT_DATABASE_HOSTS: servers besides the template's that admins may name
	RedisURL           string
	RedisKeyPrefix     string // must match caddy's and tenantctl's; resolver default when empty
	BaseDomain         string
	SigningKeys        string   // secret
	CacheKey           string   // secret; CACHE_KEY, authenticates Redis entries instead of keys derived from SigningKeys
	BackupKey          string   // secret; BACKUP_KEY, manifest keys derive from SigningKeys when empty
	AdminTokens        []string // secret
	MaxTenantPools     int
	PoolMaxConns       int32
	PoolIdleTimeout    time.Duration
	ConnsMax           int            // TENANT_CONNS_MAX: connections across all tenant pools
	ConnsWait          time.Duration  // TENANT_CONNS_WAIT: how long a new connection waits for room
	Appservers         int            // APPSERVERS: instances sharing the database server, for the start check
	TrustedProxies     []netip.Prefix // whose X-Forwarded-For/-Proto are believed
}

// configFromEnv reads SPEC §3's variables; errors name the variable, never
// its value.
func configFromEnv(getenv func(string) string) (config, error) {
	str := func(k, def string) string {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
		return def
	}
	c := config{
		AppAddr:     str("APP_ADDR", defaultAppAddr),
		AdminAddr:   str("ADMIN_ADDR", defaultAdminAddr),
		MetricsAddr: strings.TrimSpace(getenv("METRICS_ADDR")),
		DatabaseURL: str("DATABASE_URL", defaultDatabaseURL),
		RedisURL:    str("REDIS_URL", defaultRedisURL),
		BaseDomain:  str("BASE_DOMAIN", defaultBaseDomain),
		SigningKeys: getenv("TENANT_SIGNING_KEYS"),
		CacheKey:    getenv("CACHE_KEY"),
		BackupKey:   getenv("BACKUP_KEY"),
		// Used by the admin API's provisioning; tenantstore's default when unset.
		TenantDBPrefix: strings.TrimSpace(getenv("TENANT_DB_PREFIX")),
		BackupDir:      strings.TrimSpace(getenv("BACKUP_DIR")),
		RedisKeyPrefix: strings.TrimSpace(getenv("REDIS_KEY_PREFIX")),
		DatabaseHosts:  strings.Split(getenv("TENANT_DATABASE_HOSTS"), ","),
	}
	var errs []error
	c.TenantTemplate = getenv("TENANT_DATABASE_TEMPLATE")
	if c.TenantTemplate == "" {
		t, err := tenantstore.DefaultTemplate(c.DatabaseURL)
		if err != nil {
			errs = append(errs, err)
		}
		c.TenantTemplate = t
	} else if !strings.Contains(c.TenantTemplate, tenantstore.DatabasePlaceholder) {
		errs = append(errs, fmt.Errorf("TENANT_DATABASE_TEMPLATE must contain %s", tenantstore.DatabasePlaceholder))
	}
	if strings.TrimSpace(c.SigningKeys) == "" {
		errs = append(errs, errors.New("TENANT_SIGNING_KEYS is required (kid:base64key[,kid:base64key…])"))
	}
	shortToken := false
	for i, tok := range strings.Split(getenv("ADMIN_TOKENS"), ",") {
		if tok = strings.TrimSpace(tok); tok != "" {
			if n := utf8.RuneCountInString(tok); n < minAdminTokenLength {
				// The position, not the token: errors never show secrets.
				errs = append(errs, fmt.Errorf("ADMIN_TOKENS entry %d is %d characters long; admin tokens must be at least %d (generate one with: openssl rand -hex 24)", i+1, n, minAdminTokenLength))
				shortToken = true
				continue
			}
			c.AdminTokens = append(c.AdminTokens, tok)
		}
	}
	if len(c.AdminTokens) == 0 && !shortToken {
		errs = append(errs, errors.New("ADMIN_TOKENS is required (comma-separated bearer tokens for the admin API)"))
	}
	positive := func(k string, def int) int {
		v := getenv(k)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("%s must be a whole number ≥ 1, got %q", k, v))
			return def
		}
		return n
	}
	c.MaxTenantPools = positive("MAX_TENANT_POOLS", tenantpool.DefaultMaxPools)
	c.PoolMaxConns = int32(min(positive("TENANT_POOL_MAX_CONNS", tenantpool.DefaultMaxConns), 1000))
	duration := func(k string, def time.Duration, example string) time.Duration {
		v := getenv(k)
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be a positive duration such as %s, got %q", k, example, v))
			return def
		}
		return d
	}
	c.PoolIdleTimeout = duration("TENANT_POOL_IDLE_TIMEOUT", tenantpool.DefaultIdleTimeout, "5m")
	c.ConnsMax = min(positive("TENANT_CONNS_MAX", tenantpool.DefaultConnsMax), maxConnsBudget)
	c.ConnsWait = min(duration("TENANT_CONNS_WAIT", tenantpool.DefaultConnsWait, "2s"), maxConnsWait)
	c.Appservers = min(positive("APPSERVERS", defaultAppservers), maxConnsBudget)
	c.TrustedProxies = clientinfo.DefaultTrustedProxies
	if v := strings.TrimSpace(getenv("TRUSTED_PROXIES")); v != "" {
		p, err := clientinfo.ParseTrustedProxies(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("TRUSTED_PROXIES: %w", err))
		}
		c.TrustedProxies = p
	}
	return c, errors.Join(errs...)
}
