package resolver

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"
	"github.com/maypok86/otter/v2"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// Source is where tenants really live: the control-plane store.
// *tenantstore.Store implements it. Each method returns an error wrapping
// tenantstore.ErrNotFound when there is no such tenant (GetByHostname: no
// verified custom domain of that name); any other error counts as the source
// being unavailable.
type Source interface {
	Get(ctx context.Context, id string) (*tenantstore.Tenant, error)
	GetBySubdomain(ctx context.Context, sub string) (*tenantstore.Tenant, error)
	GetByHostname(ctx context.Context, hostname string) (*tenantstore.Tenant, error)
}

// kind is what a lookup is keyed by.
type kind int

const (
	kindHost kind = iota
	kindID
)

// String returns the kind as used in Redis keys and errors.
func (k kind) String() string {
	if k == kindID {
		return "id"
	}
	return "host"
}

// Resolver finds tenants by host or id through memory, Redis and the source.
// It is safe for concurrent use. Create it with New, call Start to receive
// invalidations, and Close it when done.
//
// The *tenantstore.Tenant values it returns are shared between callers and
// with its cache: callers must not modify them. They carry no secret:
// Placement.URL and Placement.RolePassword are empty (DatabaseURLs reads a
// tenant's database URL from the control plane).
type Resolver struct {
	cfg Config
	src Source
	rdb redis.UniversalClient // nil: memory and source only
	pub publisher
	mac entryMAC
	mem *memory

	hostFlight singleflight.Group
	idFlight   singleflight.Group

	// redisSkipUntil is a clock reading before which lookups skip Redis,
	// set after a Redis failure.
	redisSkipUntil atomic.Int64
	subscribed     atomic.Bool
	stats          counters

	mu        sync.Mutex
	callbacks []func(tenantstore.Change)
	cancel    context.CancelFunc // stops the subscriber; nil before Start
	closed    bool
	wg        sync.WaitGroup
}

// New returns a Resolver over src, with Redis as the shared layer when rdb is
// not nil; with Redis, cfg.MACKeys is required (ErrNoEntryKeys). The caller owns rdb (see NewRedisClient) and closes it after the
// Resolver. Until Start has subscribed to invalidations, memory entries are
// fresh for DegradedTTL only; without Redis, for TTL (changes made by other
// processes are then seen only after TTL).
func New(cfg Config, src Source, rdb redis.UniversalClient) (*Resolver, error) {
	if src == nil {
		return nil, errors.New("creating resolver: nil source")
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if rdb != nil {
		if err := checkKeys(cfg.MACKeys); err != nil {
			return nil, fmt.Errorf("creating resolver: %w", err)
		}
	}
	mem, err := newMemory(cfg)
	if err != nil {
		return nil, err
	}
	mac := entryMAC{keys: cfg.MACKeys}
	r := &Resolver{cfg: cfg, src: src, rdb: rdb, pub: publisher{cfg: cfg, rdb: rdb, mac: mac}, mac: mac, mem: mem}
	if rdb == nil {
		mem.ttl.Store(int64(cfg.TTL))
	} else {
		mem.ttl.Store(int64(min(cfg.TTL, cfg.DegradedTTL)))
	}
	return r, nil
}

// ResolveHost returns the tenant served at host: "<subdomain>.<BaseDomain>"
// or a verified custom domain. host must already be normalised
// (tenantstore.NormalizeHost). The error wraps tenantstore.ErrNotFound when no
// tenant has that host, and tenantstore.ErrUnavailable when nothing is known
// about it and the sources cannot be reached. A warm answer costs no
// allocation and no remote call.
func (r *Resolver) ResolveHost(ctx context.Context, host string) (*tenantstore.Tenant, error) {
	if e, ok := r.mem.hosts.GetIfPresent(host); ok && r.mem.fresh(e) {
		return e.answer()
	}
	return r.resolveSlow(ctx, kindHost, host)
}

// ResolveID returns the tenant with the given id, with the same errors and
// caching as ResolveHost.
func (r *Resolver) ResolveID(ctx context.Context, id string) (*tenantstore.Tenant, error) {
	if e, ok := r.mem.ids.GetIfPresent(id); ok && r.mem.fresh(e) {
		return e.answer()
	}
	return r.resolveSlow(ctx, kindID, id)
}

// resolveSlow answers a memory miss: one load per key at a time, which every
// concurrent caller for that key waits for (or stops waiting when its ctx is
// done; the load goes on and is cached).
func (r *Resolver) resolveSlow(ctx context.Context, k kind, key string) (*tenantstore.Tenant, error) {
	r.stats.misses.Add(1)
	if !plausible(k, key) {
		return nil, fmt.Errorf("resolving %s %q: %w", k, key, tenantstore.ErrNotFound)
	}
	flight := &r.hostFlight
	if k == kindID {
		flight = &r.idFlight
	}
	// The load must not be cut short by the first caller going away: others
	// may be waiting for it. Its remote calls have their own timeouts.
	loadCtx := context.WithoutCancel(ctx)
	ch := flight.DoChan(key, func() (any, error) { return r.load(loadCtx, k, key) })
	select {
	case res := <-ch:
		t, _ := res.Val.(*tenantstore.Tenant)
		return t, res.Err
	case <-ctx.Done():
		return nil, fmt.Errorf("resolving %s %q: %w", k, key, ctx.Err())
	}
}

// plausible rejects keys no tenant can have, without a remote call.
func plausible(k kind, key string) bool {
	if k == kindID {
		// Tenant ids are canonical UUIDs; uuid.Validate alone also accepts
		// forms (urn:uuid:…) PostgreSQL rejects with an error.
		return len(key) == 36 && uuid.Validate(key) == nil
	}
	return key != "" && len(key) <= 253
}

// load asks Redis, then the source, and caches the answer. When the source
// fails it falls back to the last known answer.
func (r *Resolver) load(ctx context.Context, k kind, key string) (*tenantstore.Tenant, error) {
	gen := r.mem.gen.Load()
	cache := r.cache(k)
	last, known := cache.GetIfPresent(key)
	if known && r.mem.fresh(last) {
		// Stored by a load that finished while this one was being set up.
		return last.answer()
	}

	t, res := r.fromRedis(ctx, k, key)
	if res == redisHit {
		r.remember(k, key, t, gen)
		return r.answer(k, key, t)
	}

	t, err := r.fromSource(ctx, k, key)
	switch {
	case err == nil, errors.Is(err, tenantstore.ErrNotFound):
		r.remember(k, key, t, gen)
		if res == redisMiss {
			r.toRedis(ctx, k, key, t, gen)
		}
		return r.answer(k, key, t)
	case known:
		r.stats.staleAnswers.Add(1)
		return last.answer()
	default:
		r.stats.unavailable.Add(1)
		return nil, fmt.Errorf("resolving %s %q: %w: %w", k, key, tenantstore.ErrUnavailable, err)
	}
}

// fromSource asks the source, within SourceTimeout. Not found is returned as
// (nil, error wrapping ErrNotFound); so is a key the source rejects as
// invalid, which no tenant can match either.
func (r *Resolver) fromSource(ctx context.Context, k kind, key string) (*tenantstore.Tenant, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.SourceTimeout)
	defer cancel()
	r.stats.sourceQueries.Add(1)
	var (
		t   *tenantstore.Tenant
		err error
	)
	switch sub, ok := tenantstore.SubdomainOf(key, r.cfg.BaseDomain); {
	case k == kindID:
		t, err = r.src.Get(ctx, key)
	case ok:
		t, err = r.src.GetBySubdomain(ctx, sub)
	default:
		t, err = r.src.GetByHostname(ctx, key)
	}
	var verr *tenantstore.ValidationError
	switch {
	case err == nil && t == nil:
		err = tenantstore.ErrNotFound
	case errors.As(err, &verr):
		err = fmt.Errorf("%w: %w", tenantstore.ErrNotFound, err)
	}
	switch {
	case err == nil:
		return withoutSecrets(t), nil
	case errors.Is(err, tenantstore.ErrNotFound):
		r.stats.sourceNotFound.Add(1)
		return nil, err
	default:
		r.stats.sourceErrors.Add(1)
		return nil, err
	}
}

// remember caches an answer in memory under key, and a tenant also under its
// id and its subdomain host, unless an invalidation happened since gen.
func (r *Resolver) remember(k kind, key string, t *tenantstore.Tenant, gen uint64) {
	r.mem.store(r.cache(k), key, t, gen)
	if t == nil {
		return
	}
	if k == kindHost {
		r.mem.store(r.mem.ids, t.ID, t, gen)
	}
	if host := r.cfg.hostOf(t.Subdomain); k == kindID || key != host {
		r.mem.store(r.mem.hosts, host, t, gen)
	}
}

// answer turns a loaded tenant (nil: none) into ResolveHost's results.
func (r *Resolver) answer(k kind, key string, t *tenantstore.Tenant) (*tenantstore.Tenant, error) {
	if t == nil {
		return nil, fmt.Errorf("resolving %s %q: %w", k, key, tenantstore.ErrNotFound)
	}
	return t, nil
}

func (r *Resolver) cache(k kind) *otter.Cache[string, *entry] {
	if k == kindID {
		return r.mem.ids
	}
	return r.mem.hosts
}

// Close stops the invalidation subscriber and the cache's goroutines. It does
// not close the Redis client. Lookups keep working after Close, but no
// longer see invalidations. Close is idempotent and always returns nil.
func (r *Resolver) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	if r.cancel != nil {
		r.cancel()
	}
	r.mu.Unlock()
	r.wg.Wait()
	r.mem.close()
	return nil
}
