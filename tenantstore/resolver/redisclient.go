package resolver

import (
	"fmt"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// Request-path defaults NewRedisClient applies unless the URL sets them. With
// go-redis' own defaults a stopped Redis costs 1.7 s and a frozen one 5 s per
// call, which would stall every cache miss.
const (
	DefaultRedisDialTimeout = 100 * time.Millisecond
	DefaultRedisIOTimeout   = 100 * time.Millisecond
	DefaultRedisPoolTimeout = 200 * time.Millisecond
)

// RedisOption adjusts the options NewRedisClient derived from the URL, before
// the client is created.
type RedisOption func(*redis.UniversalOptions)

// NewRedisClient parses a REDIS_URL and returns a client for a single server,
// a sentinel-managed master or a cluster:
//
//	redis://[user:password@]host:port/db?…                 single server (rediss:// for TLS)
//	redis://host:port?master_name=mymaster&addr=host2:port  sentinels, then the master by name
//	redis://host:port?addr=host2:port&addr=host3:port       cluster seeds
//
// Query parameters are go-redis' (dial_timeout, read_timeout, pool_size, …).
// Unless the URL sets them, dial, read and write time out after 100 ms, a
// caller waits at most 200 ms for a pooled connection, and neither failed
// dials nor failed commands are retried (dialer_retries=1, max_retries=-1): on the request path a fast fallback to memory
// or PostgreSQL beats a slow retry. Context deadlines are honoured. The
// caller owns the client and closes it.
func NewRedisClient(rawURL string, opts ...RedisOption) (redis.UniversalClient, error) {
	o, err := ParseRedisURL(rawURL)
	if err != nil {
		return nil, err
	}
	for _, opt := range opts {
		opt(o)
	}
	return redis.NewUniversalClient(o), nil
}

// ParseRedisURL is the parsing half of NewRedisClient: it returns the options
// NewRedisClient would use. Errors never contain the URL's password.
func ParseRedisURL(rawURL string) (*redis.UniversalOptions, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error quotes the URL, password included: report only the kind.
		return nil, fmt.Errorf("parsing Redis URL %s: not a valid URL", tenantstore.RedactURL(rawURL))
	}
	q := u.Query()
	var o *redis.UniversalOptions
	switch {
	case q.Has("master_name"):
		f, err := redis.ParseFailoverURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("parsing Redis sentinel URL %s: %w", tenantstore.RedactURL(rawURL), err)
		}
		o = fromFailover(f)
	case q.Has("addr"):
		c, err := redis.ParseClusterURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("parsing Redis cluster URL %s: %w", tenantstore.RedactURL(rawURL), err)
		}
		o = fromCluster(c)
	default:
		s, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("parsing Redis URL %s: %w", tenantstore.RedactURL(rawURL), err)
		}
		o = fromSimple(s)
	}
	if !q.Has("dial_timeout") {
		o.DialTimeout = DefaultRedisDialTimeout
	}
	if !q.Has("read_timeout") {
		o.ReadTimeout = DefaultRedisIOTimeout
	}
	if !q.Has("write_timeout") {
		o.WriteTimeout = DefaultRedisIOTimeout
	}
	if !q.Has("pool_timeout") {
		o.PoolTimeout = DefaultRedisPoolTimeout
	}
	if !q.Has("max_retries") {
		o.MaxRetries = -1
	}
	if !q.Has("dialer_retries") {
		o.DialerRetries = 1 // go-redis dials 5 times, 100 ms apart, by default
	}
	o.ContextTimeoutEnabled = true
	return o, nil
}

func fromSimple(s *redis.Options) *redis.UniversalOptions {
	return &redis.UniversalOptions{
		Addrs:           []string{s.Addr},
		ClientName:      s.ClientName,
		DB:              s.DB,
		Protocol:        s.Protocol,
		Username:        s.Username,
		Password:        s.Password,
		MaxRetries:      s.MaxRetries,
		MinRetryBackoff: s.MinRetryBackoff,
		MaxRetryBackoff: s.MaxRetryBackoff,
		DialTimeout:     s.DialTimeout,
		DialerRetries:   s.DialerRetries,
		ReadTimeout:     s.ReadTimeout,
		WriteTimeout:    s.WriteTimeout,
		PoolFIFO:        s.PoolFIFO,
		PoolSize:        s.PoolSize,
		PoolTimeout:     s.PoolTimeout,
		MinIdleConns:    s.MinIdleConns,
		MaxIdleConns:    s.MaxIdleConns,
		MaxActiveConns:  s.MaxActiveConns,
		ConnMaxIdleTime: s.ConnMaxIdleTime,
		ConnMaxLifetime: s.ConnMaxLifetime,
		TLSConfig:       s.TLSConfig,
	}
}

func fromFailover(f *redis.FailoverOptions) *redis.UniversalOptions {
	return &redis.UniversalOptions{
		Addrs:            f.SentinelAddrs,
		MasterName:       f.MasterName,
		ClientName:       f.ClientName,
		DB:               f.DB,
		Protocol:         f.Protocol,
		Username:         f.Username,
		Password:         f.Password,
		SentinelUsername: f.SentinelUsername,
		SentinelPassword: f.SentinelPassword,
		MaxRetries:       f.MaxRetries,
		MinRetryBackoff:  f.MinRetryBackoff,
		MaxRetryBackoff:  f.MaxRetryBackoff,
		DialTimeout:      f.DialTimeout,
		DialerRetries:    f.DialerRetries,
		ReadTimeout:      f.ReadTimeout,
		WriteTimeout:     f.WriteTimeout,
		PoolFIFO:         f.PoolFIFO,
		PoolSize:         f.PoolSize,
		PoolTimeout:      f.PoolTimeout,
		MinIdleConns:     f.MinIdleConns,
		MaxIdleConns:     f.MaxIdleConns,
		MaxActiveConns:   f.MaxActiveConns,
		ConnMaxIdleTime:  f.ConnMaxIdleTime,
		ConnMaxLifetime:  f.ConnMaxLifetime,
		TLSConfig:        f.TLSConfig,
		RouteByLatency:   f.RouteByLatency,
		RouteRandomly:    f.RouteRandomly,
	}
}

func fromCluster(c *redis.ClusterOptions) *redis.UniversalOptions {
	return &redis.UniversalOptions{
		Addrs:           c.Addrs,
		IsClusterMode:   true,
		ClientName:      c.ClientName,
		Protocol:        c.Protocol,
		Username:        c.Username,
		Password:        c.Password,
		MaxRedirects:    c.MaxRedirects,
		ReadOnly:        c.ReadOnly,
		RouteByLatency:  c.RouteByLatency,
		RouteRandomly:   c.RouteRandomly,
		MaxRetries:      c.MaxRetries,
		MinRetryBackoff: c.MinRetryBackoff,
		MaxRetryBackoff: c.MaxRetryBackoff,
		DialTimeout:     c.DialTimeout,
		DialerRetries:   c.DialerRetries,
		ReadTimeout:     c.ReadTimeout,
		WriteTimeout:    c.WriteTimeout,
		PoolFIFO:        c.PoolFIFO,
		PoolSize:        c.PoolSize,
		PoolTimeout:     c.PoolTimeout,
		MinIdleConns:    c.MinIdleConns,
		MaxIdleConns:    c.MaxIdleConns,
		MaxActiveConns:  c.MaxActiveConns,
		ConnMaxIdleTime: c.ConnMaxIdleTime,
		ConnMaxLifetime: c.ConnMaxLifetime,
		TLSConfig:       c.TLSConfig,
	}
}
