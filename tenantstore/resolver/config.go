package resolver

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Defaults of Config. They are the values SPEC §5 and the resolver issue ask
// for; a zero field in Config means "use the default".
const (
	DefaultBaseDomain          = "localhost"
	DefaultKeyPrefix           = "tenantgate:"
	DefaultMaxEntries          = 100_000
	DefaultTTL                 = time.Minute
	DefaultNegativeTTL         = 5 * time.Second
	DefaultRedisTTL            = 10 * time.Minute
	DefaultStaleTTL            = 24 * time.Hour
	DefaultDegradedTTL         = time.Second
	DefaultRedisTimeout        = 100 * time.Millisecond
	DefaultSourceTimeout       = time.Second
	DefaultRedisRetryAfter     = time.Second
	DefaultHealthCheckInterval = 2 * time.Second
)

// Config configures a Resolver, and a publisher from NewPublisher, which uses
// BaseDomain, KeyPrefix and Channel, and SourceTimeout + RedisTimeout + 1 s as
// the life of its tombstones (so give it the resolvers' timeouts). Every zero
// field takes its Default… value.
type Config struct {
	// BaseDomain is the domain tenants live under: "<subdomain>.<BaseDomain>".
	// Default "localhost" (SPEC §3's BASE_DOMAIN default).
	BaseDomain string
	// KeyPrefix starts every Redis key: "<prefix>host:<host>" and
	// "<prefix>id:<id>". Default "tenantgate:".
	KeyPrefix string
	// Channel is the Redis channel invalidations are published on.
	// Default "<KeyPrefix>invalidate".
	Channel string
	// MaxEntries bounds each of the two in-process caches (by host and by
	// tenant id). Default 100,000.
	MaxEntries int
	// TTL is how long an answer is served from memory without asking Redis or
	// the source again, while the invalidation subscription is up. Default 1m.
	TTL time.Duration
	// NegativeTTL is how long "no such tenant" is cached, in memory and in
	// Redis. Default 5s.
	NegativeTTL time.Duration
	// RedisTTL is the expiry of a tenant entry in Redis; invalidation removes
	// entries earlier. Default 10m.
	RedisTTL time.Duration
	// StaleTTL is how long an expired answer is kept in memory to be served
	// when the source fails (stale-while-error). Default 24h.
	StaleTTL time.Duration
	// DegradedTTL replaces TTL while the invalidation subscription is down (or
	// not yet started), because changes may then go unnoticed. Default 1s.
	DegradedTTL time.Duration
	// RedisTimeout bounds each Redis call on the request path. Default 100ms.
	RedisTimeout time.Duration
	// SourceTimeout bounds each read of the source (PostgreSQL). Default 1s.
	SourceTimeout time.Duration
	// RedisRetryAfter is how long lookups skip Redis after a Redis error, so
	// that a frozen Redis does not add RedisTimeout to every miss. Default 1s.
	RedisRetryAfter time.Duration
	// HealthCheckInterval is how often an idle invalidation subscription is
	// pinged; a subscription that misses a ping is reconnected. Default 2s.
	HealthCheckInterval time.Duration
	// MACKeys authenticate every Redis entry (HMAC-SHA256 over its key and
	// value; see EntryKeys): the first makes MACs, all verify. Required
	// with Redis, at least MinEntryKeySize bytes each. No default.
	MACKeys [][]byte
	// OnBadEntry, when set, is called with the Redis key of every entry
	// that fails verification (forged, copied from another key, MACed with
	// a key no longer listed, replayed after its expiry, or corrupt). Such
	// an entry is a miss, counted in Stats.BadEntries. It runs on the
	// lookup's goroutine and must return quickly. The library does not log:
	// the binary logs here.
	OnBadEntry func(key string)
}

// withDefaults returns c with every zero field set to its default and the
// base domain normalised.
func (c Config) withDefaults() Config {
	c.BaseDomain = strings.TrimSuffix(strings.ToLower(c.BaseDomain), ".")
	if c.BaseDomain == "" {
		c.BaseDomain = DefaultBaseDomain
	}
	if c.KeyPrefix == "" {
		c.KeyPrefix = DefaultKeyPrefix
	}
	if c.Channel == "" {
		c.Channel = c.KeyPrefix + "invalidate"
	}
	setDefault(&c.MaxEntries, DefaultMaxEntries)
	setDefault(&c.TTL, DefaultTTL)
	setDefault(&c.NegativeTTL, DefaultNegativeTTL)
	setDefault(&c.RedisTTL, DefaultRedisTTL)
	setDefault(&c.StaleTTL, DefaultStaleTTL)
	setDefault(&c.DegradedTTL, DefaultDegradedTTL)
	setDefault(&c.RedisTimeout, DefaultRedisTimeout)
	setDefault(&c.SourceTimeout, DefaultSourceTimeout)
	setDefault(&c.RedisRetryAfter, DefaultRedisRetryAfter)
	setDefault(&c.HealthCheckInterval, DefaultHealthCheckInterval)
	return c
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}

// validate reports the first nonsensical setting of a defaulted config.
func (c Config) validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		d    time.Duration
	}{
		{"TTL", c.TTL}, {"NegativeTTL", c.NegativeTTL}, {"RedisTTL", c.RedisTTL}, {"StaleTTL", c.StaleTTL},
		{"DegradedTTL", c.DegradedTTL}, {"RedisTimeout", c.RedisTimeout}, {"SourceTimeout", c.SourceTimeout},
		{"RedisRetryAfter", c.RedisRetryAfter}, {"HealthCheckInterval", c.HealthCheckInterval},
	} {
		if f.d < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative, got %v", f.name, f.d))
		}
	}
	if c.MaxEntries < 0 {
		errs = append(errs, fmt.Errorf("MaxEntries must not be negative, got %d", c.MaxEntries))
	}
	if c.StaleTTL < c.TTL {
		errs = append(errs, fmt.Errorf("StaleTTL (%v) must be at least TTL (%v)", c.StaleTTL, c.TTL))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("resolver config: %w", err)
	}
	return nil
}
