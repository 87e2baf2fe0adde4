package resolver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// wireVersion is the version of the Redis entry format; entries of another
// version are treated as misses (and overwritten), so a rolling upgrade that
// changes the format never misreads an old entry.
const wireVersion = 1

// wireTenant is a tenant as stored in Redis. Unlike tenantstore.Tenant's own
// JSON it carries every field, secrets included (the appserver needs the role
// password and the explicit URL to connect), so it is never used for output.
type wireTenant struct {
	V             int                  `json:"v"`
	NotFound      bool                 `json:"nf,omitempty"`
	ID            string               `json:"id,omitempty"`
	Name          string               `json:"name,omitempty"`
	Subdomain     string               `json:"sub,omitempty"`
	AdminEmail    string               `json:"email,omitempty"`
	Status        tenantstore.Status   `json:"status,omitempty"`
	MaxUsers      int                  `json:"max_users,omitempty"`
	MultiLocation bool                 `json:"multi,omitempty"`
	DatabaseName  string               `json:"db,omitempty"`
	URL           string               `json:"url,omitempty"`
	Host          string               `json:"host,omitempty"`
	Port          int                  `json:"port,omitempty"`
	User          string               `json:"user,omitempty"`
	PasswordEnv   string               `json:"pwenv,omitempty"`
	RoleName      string               `json:"role,omitempty"`
	RolePassword  string               `json:"rolepw,omitempty"`
	Domains       []tenantstore.Domain `json:"domains"`
	CreatedAt     time.Time            `json:"created"`
	UpdatedAt     time.Time            `json:"updated"`
	Version       int64                `json:"version,omitempty"`
}

// negativeWire is the Redis value meaning "no such tenant".
var negativeWire = []byte(`{"v":1,"nf":true}`)

// tombstone is the value Notify leaves in place of a changed entry, for
// tombstoneTTL. A load that read the source before the change cannot write
// its outdated answer over it (see setUnlessTombstone); readers treat it as
// a miss.
const tombstone = `{"v":1,"gone":true}`

// tombstoneTTL is how long a tombstone blocks writes. It must outlast any
// load that read the source before the change: SourceTimeout plus
// RedisTimeout, with a margin for scheduling.
func (c *Config) tombstoneTTL() time.Duration {
	return c.SourceTimeout + c.RedisTimeout + time.Second
}

// setUnlessTombstone sets KEYS[1] to ARGV[1] with expiry ARGV[2] ms unless it
// holds the tombstone ARGV[3]. One key per call, so it works on a cluster.
var setUnlessTombstone = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == ARGV[3] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`)

// errTombstone is decodeTenant's answer for a tombstone.
var errTombstone = errors.New("cached tenant was just invalidated")

// encodeTenant returns the Redis value for t; nil means "no such tenant".
func encodeTenant(t *tenantstore.Tenant) ([]byte, error) {
	if t == nil {
		return negativeWire, nil
	}
	p := t.Placement
	return json.Marshal(wireTenant{
		V: wireVersion, ID: t.ID, Name: t.Name, Subdomain: t.Subdomain, AdminEmail: t.AdminEmail,
		Status: t.Status, MaxUsers: t.MaxUsers, MultiLocation: t.MultiLocation, DatabaseName: t.DatabaseName,
		URL: p.URL, Host: p.Host, Port: p.Port, User: p.User, PasswordEnv: p.PasswordEnv,
		RoleName: p.RoleName, RolePassword: p.RolePassword,
		Domains: t.Domains, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt, Version: t.Version,
	})
}

// decodeTenant parses a Redis value. It returns (nil, nil) for "no such
// tenant" and an error for anything it does not understand.
func decodeTenant(b []byte) (*tenantstore.Tenant, error) {
	if string(b) == tombstone {
		return nil, errTombstone
	}
	var w wireTenant
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("decoding cached tenant: %w", err)
	}
	if w.V != wireVersion {
		return nil, fmt.Errorf("decoding cached tenant: format version %d, want %d", w.V, wireVersion)
	}
	if w.NotFound {
		return nil, nil
	}
	if w.ID == "" || w.Subdomain == "" {
		return nil, errors.New("decoding cached tenant: id or subdomain missing")
	}
	return &tenantstore.Tenant{
		ID: w.ID, Name: w.Name, Subdomain: w.Subdomain, AdminEmail: w.AdminEmail, Status: w.Status,
		MaxUsers: w.MaxUsers, MultiLocation: w.MultiLocation, DatabaseName: w.DatabaseName,
		Placement: tenantstore.Placement{
			URL: w.URL, Host: w.Host, Port: w.Port, User: w.User, PasswordEnv: w.PasswordEnv,
			RoleName: w.RoleName, RolePassword: w.RolePassword,
		},
		Domains: w.Domains, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt, Version: w.Version,
	}, nil
}

// redisKey returns the Redis key of one lookup.
func (c *Config) redisKey(k kind, key string) string {
	return c.KeyPrefix + k.String() + ":" + key
}

// hostOf returns the host of a subdomain.
func (c *Config) hostOf(sub string) string {
	return sub + "." + c.BaseDomain
}

// redisResult is the outcome of asking Redis.
type redisResult int

const (
	redisSkipped redisResult = iota // no Redis, or backing off after a failure
	redisFailed                     // the call failed: do not write to Redis either
	redisMiss
	redisInvalidated // a tombstone: a miss that must not be written back
	redisHit
)

// fromRedis looks key up in Redis. On a hit, t is the tenant or nil for "no
// such tenant".
func (r *Resolver) fromRedis(ctx context.Context, k kind, key string) (t *tenantstore.Tenant, res redisResult) {
	if r.rdb == nil || r.mem.clock.NowNano() < r.redisSkipUntil.Load() {
		return nil, redisSkipped
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.RedisTimeout)
	defer cancel()
	b, err := r.rdb.Get(ctx, r.cfg.redisKey(k, key)).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		r.stats.redisMisses.Add(1)
		return nil, redisMiss
	case err != nil:
		r.redisFailure()
		return nil, redisFailed
	}
	t, err = decodeTenant(b)
	if errors.Is(err, errTombstone) {
		r.stats.redisMisses.Add(1)
		return nil, redisInvalidated
	}
	if err != nil {
		// Unreadable (another format version, corruption): a miss that the
		// source's answer will overwrite.
		r.stats.redisMisses.Add(1)
		return nil, redisMiss
	}
	r.stats.redisHits.Add(1)
	return t, redisHit
}

// toRedis caches the source's answer for key in Redis: a tenant under every
// key it is found by (the requested one, its subdomain host and its id), or
// "no such tenant" under key for NegativeTTL. Failures only count: the caller
// already has its answer.
func (r *Resolver) toRedis(ctx context.Context, k kind, key string, t *tenantstore.Tenant, gen uint64) {
	b, err := encodeTenant(t)
	if err != nil {
		r.redisFailure()
		return
	}
	// An invalidation arrived while this load ran: the answer may predate the
	// change, and must not be written back.
	if r.mem.gen.Load() != gen {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.RedisTimeout)
	defer cancel()
	ttl := r.cfg.RedisTTL
	keys := []string{r.cfg.redisKey(k, key)}
	if t == nil {
		ttl = r.cfg.NegativeTTL
	} else {
		keys = []string{r.cfg.redisKey(kindID, t.ID), r.cfg.redisKey(kindHost, r.cfg.hostOf(t.Subdomain))}
		if k == kindHost && key != r.cfg.hostOf(t.Subdomain) {
			keys = append(keys, r.cfg.redisKey(kindHost, key))
		}
	}
	// Eval, not EvalSha: a pipelined NOSCRIPT could not be retried. The
	// script is a few hundred bytes.
	pipe := r.rdb.Pipeline()
	for _, rk := range keys {
		setUnlessTombstone.Eval(ctx, pipe, []string{rk}, b, ttl.Milliseconds(), tombstone)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		r.redisFailure()
	}
}

// redisFailure counts a failed Redis call and skips Redis for a while.
func (r *Resolver) redisFailure() {
	r.stats.redisErrors.Add(1)
	r.redisSkipUntil.Store(r.mem.clock.NowNano() + int64(r.cfg.RedisRetryAfter))
}
