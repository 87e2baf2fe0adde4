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
// changes the format never misreads an old entry. Version 2 added the MAC
// and the expiry, and dropped the secrets.
const wireVersion = 2

// wireTenant is a tenant as stored in Redis: everything the edge and the
// appserver's routing need, and no secret. The database URL of an explicit
// placement (it may hold a password) and the login role's password are
// never written: appservers read them from the control plane by tenant id
// (DatabaseURLs). Exp (Unix seconds) ends the entry even if someone writes
// it back after Redis expired it, so an old entry cannot be replayed for
// ever.
type wireTenant struct {
	V             int                  `json:"v"`
	NotFound      bool                 `json:"nf,omitempty"`
	Gone          bool                 `json:"gone,omitempty"`
	Exp           int64                `json:"exp"`
	ID            string               `json:"id,omitempty"`
	Name          string               `json:"name,omitempty"`
	Subdomain     string               `json:"sub,omitempty"`
	AdminEmail    string               `json:"email,omitempty"`
	Status        tenantstore.Status   `json:"status,omitempty"`
	MaxUsers      int                  `json:"max_users,omitempty"`
	MultiLocation bool                 `json:"multi,omitempty"`
	DatabaseName  string               `json:"db,omitempty"`
	Host          string               `json:"host,omitempty"`
	Port          int                  `json:"port,omitempty"`
	User          string               `json:"user,omitempty"`
	PasswordEnv   string               `json:"pwenv,omitempty"`
	RoleName      string               `json:"role,omitempty"`
	Domains       []tenantstore.Domain `json:"domains"`
	// Limits were added within version 2: an entry without them (written
	// before) means the defaults, which every tenant had then.
	Limits    *tenantstore.TenantLimits `json:"limits,omitempty"`
	CreatedAt time.Time                 `json:"created"`
	UpdatedAt time.Time                 `json:"updated"`
	Version   int64                     `json:"version,omitempty"`
	// Branding is added without a new wireVersion: an entry written
	// before it existed decodes with no branding until it expires.
	Branding *tenantstore.Branding `json:"brand,omitempty"`
	// The plan (issue 17), added within version 2: an entry without
	// them (written before) has every feature on and no plan limits,
	// as every tenant had then.
	Plan             string                    `json:"plan,omitempty"`
	Features         map[string]bool           `json:"features,omitempty"`
	FeatureOverrides map[string]bool           `json:"fo,omitempty"`
	PlanLimits       *tenantstore.TenantLimits `json:"plimits,omitempty"`
	OwnMaxUsers      *int                      `json:"own_max_users,omitempty"`
}

// tombstonePrefix starts the payload Notify leaves in place of a changed
// entry, for tombstoneTTL. A load that read the source before the change
// cannot write its outdated answer over it (see setUnlessTombstone);
// readers treat it as a miss. The script recognises it by this prefix, as
// the MAC and expiry differ from key to key.
const tombstonePrefix = `{"v":2,"gone":true`

// tombstoneTTL is how long a tombstone blocks writes. It must outlast any
// load that read the source before the change: SourceTimeout plus
// RedisTimeout, with a margin for scheduling.
func (c *Config) tombstoneTTL() time.Duration {
	return c.SourceTimeout + c.RedisTimeout + time.Second
}

// setUnlessTombstone sets KEYS[1] to ARGV[1] with expiry ARGV[2] ms unless
// its payload (after the MAC and the dot, ARGV[4] bytes in) starts with the
// tombstone prefix ARGV[3]. One key per call, so it works on a cluster.
var setUnlessTombstone = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
local from = tonumber(ARGV[4]) + 1
if v and string.sub(v, from, from + string.len(ARGV[3]) - 1) == ARGV[3] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`)

// errTombstone is decodeTenant's answer for a tombstone.
var errTombstone = errors.New("cached tenant was just invalidated")

// errExpired is decodeTenant's answer for an entry past its expiry.
var errExpired = errors.New("cached tenant entry expired")

// maxClockSkew is how far past its expiry an entry is still believed, for
// the clocks of the processes sharing Redis differ a little.
const maxClockSkew = 30 * time.Second

// encodeTenant returns the payload of a Redis entry for t (nil: "no such
// tenant") that ends at exp.
func encodeTenant(t *tenantstore.Tenant, exp time.Time) ([]byte, error) {
	if t == nil {
		return json.Marshal(wireTenant{V: wireVersion, NotFound: true, Exp: exp.Unix()})
	}
	p := t.Placement
	var limits, planLimits *tenantstore.TenantLimits
	if !t.Limits.IsDefault() {
		limits = &t.Limits
	}
	if !t.PlanLimits.IsDefault() {
		planLimits = &t.PlanLimits
	}
	return json.Marshal(wireTenant{
		V: wireVersion, Exp: exp.Unix(), ID: t.ID, Name: t.Name, Subdomain: t.Subdomain, AdminEmail: t.AdminEmail,
		Status: t.Status, MaxUsers: t.MaxUsers, MultiLocation: t.MultiLocation, DatabaseName: t.DatabaseName,
		Host: p.Host, Port: p.Port, User: p.User, PasswordEnv: p.PasswordEnv, RoleName: p.RoleName,
		Domains: t.Domains, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt, Version: t.Version, Limits: limits,
		Branding: brandingOf(t),
		Plan:     t.Plan, Features: t.Features, FeatureOverrides: t.FeatureOverrides, PlanLimits: planLimits, OwnMaxUsers: t.OwnMaxUsers,
	})
}

// encodeTombstone returns the payload of a tombstone that ends at exp.
func encodeTombstone(exp time.Time) []byte {
	return fmt.Appendf(nil, `%s,"exp":%d}`, tombstonePrefix, exp.Unix())
}

// decodeTenant parses the payload of a Redis entry read at now. It returns
// (nil, nil) for "no such tenant", errTombstone for a tombstone, errExpired
// past the entry's expiry, and another error for anything it does not
// understand.
func decodeTenant(b []byte, now time.Time) (*tenantstore.Tenant, error) {
	var w wireTenant
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("decoding cached tenant: %w", err)
	}
	if w.V != wireVersion {
		return nil, fmt.Errorf("decoding cached tenant: format version %d, want %d", w.V, wireVersion)
	}
	if now.After(time.Unix(w.Exp, 0).Add(maxClockSkew)) {
		return nil, errExpired
	}
	switch {
	case w.Gone:
		return nil, errTombstone
	case w.NotFound:
		return nil, nil
	case w.ID == "" || w.Subdomain == "":
		return nil, errors.New("decoding cached tenant: id or subdomain missing")
	}
	var limits, planLimits tenantstore.TenantLimits
	if w.Limits != nil {
		limits = *w.Limits
	}
	if w.PlanLimits != nil {
		planLimits = *w.PlanLimits
	}
	return &tenantstore.Tenant{
		ID: w.ID, Name: w.Name, Subdomain: w.Subdomain, AdminEmail: w.AdminEmail, Status: w.Status, Limits: limits,
		MaxUsers: w.MaxUsers, MultiLocation: w.MultiLocation, DatabaseName: w.DatabaseName,
		Placement: tenantstore.Placement{
			Host: w.Host, Port: w.Port, User: w.User, PasswordEnv: w.PasswordEnv, RoleName: w.RoleName,
		},
		Domains: w.Domains, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt, Version: w.Version,
		Branding: derefBranding(w.Branding),
		Plan:     w.Plan, Features: w.Features, FeatureOverrides: w.FeatureOverrides, PlanLimits: planLimits, OwnMaxUsers: w.OwnMaxUsers,
	}, nil
}

// brandingOf is t's branding for the wire, nil when it has none.
func brandingOf(t *tenantstore.Tenant) *tenantstore.Branding {
	if t.Branding == (tenantstore.Branding{}) {
		return nil
	}
	b := t.Branding
	return &b
}

func derefBranding(b *tenantstore.Branding) tenantstore.Branding {
	if b == nil {
		return tenantstore.Branding{}
	}
	return *b
}

// withoutSecrets returns t, or a copy of it without the secrets a Redis
// entry never carries, so that the resolver's answers are the same whichever
// layer they come from.
func withoutSecrets(t *tenantstore.Tenant) *tenantstore.Tenant {
	if t == nil || (t.Placement.URL == "" && t.Placement.RolePassword == "") {
		return t
	}
	cp := *t
	cp.Placement.URL, cp.Placement.RolePassword = "", ""
	return &cp
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
	rk := r.cfg.redisKey(k, key)
	b, err := r.rdb.Get(ctx, rk).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		r.stats.redisMisses.Add(1)
		return nil, redisMiss
	case err != nil:
		r.redisFailure()
		return nil, redisFailed
	}
	payload, ok := r.mac.open(rk, b)
	if ok {
		t, err = decodeTenant(payload, time.Now())
	}
	switch {
	case !ok, errors.Is(err, errExpired):
		// Forged, copied from another key, MACed with a key no longer
		// listed, or replayed after its time: not believed. The source's
		// answer overwrites it.
		r.badEntry(rk)
		return nil, redisMiss
	case errors.Is(err, errTombstone):
		r.stats.redisMisses.Add(1)
		return nil, redisInvalidated
	case err != nil:
		// Authentic but unreadable (another format version): a miss that
		// the source's answer will overwrite.
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
	ttl := r.cfg.RedisTTL
	if t == nil {
		ttl = r.cfg.NegativeTTL
	}
	payload, err := encodeTenant(t, time.Now().Add(ttl))
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
	keys := []string{r.cfg.redisKey(k, key)}
	if t != nil {
		keys = []string{r.cfg.redisKey(kindID, t.ID), r.cfg.redisKey(kindHost, r.cfg.hostOf(t.Subdomain))}
		if k == kindHost && key != r.cfg.hostOf(t.Subdomain) {
			keys = append(keys, r.cfg.redisKey(kindHost, key))
		}
	}
	// Eval, not EvalSha: a pipelined NOSCRIPT could not be retried. The
	// script is a few hundred bytes.
	pipe := r.rdb.Pipeline()
	for _, rk := range keys {
		setUnlessTombstone.Eval(ctx, pipe, []string{rk}, r.mac.seal(rk, payload), ttl.Milliseconds(), tombstonePrefix, macLen+1)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		r.redisFailure()
	}
}

// badEntry counts and reports a Redis entry that failed verification.
func (r *Resolver) badEntry(redisKey string) {
	r.stats.redisMisses.Add(1)
	r.stats.badEntries.Add(1)
	if r.cfg.OnBadEntry != nil {
		r.cfg.OnBadEntry(redisKey)
	}
}

// redisFailure counts a failed Redis call and skips Redis for a while.
func (r *Resolver) redisFailure() {
	r.stats.redisErrors.Add(1)
	r.redisSkipUntil.Store(r.mem.clock.NowNano() + int64(r.cfg.RedisRetryAfter))
}
