package resolver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// notifyTimeout bounds Notify's Redis round trip when the caller's context
// has no earlier deadline.
const notifyTimeout = time.Second

// message is an invalidation as published on the channel.
type message struct {
	TenantID   string   `json:"id,omitempty"`
	Subdomains []string `json:"subdomains,omitempty"`
	Hostnames  []string `json:"hostnames,omitempty"`
	PlanOnly   bool     `json:"plan_only,omitempty"`
}

func parseMessage(payload string) (tenantstore.Change, error) {
	var m message
	if err := json.Unmarshal([]byte(payload), &m); err != nil {
		return tenantstore.Change{}, fmt.Errorf("parsing invalidation message: %w", err)
	}
	return tenantstore.Change{TenantID: m.TenantID, Subdomains: m.Subdomains, Hostnames: m.Hostnames, PlanOnly: m.PlanOnly}, nil
}

// publisher invalidates the Redis entries of a change and publishes it.
type publisher struct {
	cfg Config
	rdb redis.UniversalClient
	mac entryMAC
}

// NewPublisher returns a tenantstore.Notifier for processes that change
// tenants but resolve none (tenantctl): it replaces the Redis entries of each
// change with tombstones and publishes it, so that every Resolver drops it from memory. cfg
// must name the same BaseDomain, KeyPrefix and Channel as the resolvers,
// and MACKeys that they accept (ErrNoEntryKeys without any, as resolvers
// would take unauthenticated tombstones for forgeries).
func NewPublisher(rdb redis.UniversalClient, cfg Config) (tenantstore.Notifier, error) {
	if rdb != nil {
		if err := checkKeys(cfg.MACKeys); err != nil {
			return nil, fmt.Errorf("creating cache publisher: %w", err)
		}
	}
	return publisher{cfg: cfg.withDefaults(), rdb: rdb, mac: entryMAC{keys: cfg.MACKeys}}, nil
}

// Notify implements tenantstore.Notifier.
func (p publisher) Notify(ctx context.Context, c tenantstore.Change) error {
	if p.rdb == nil {
		return nil
	}
	if err := p.publish(ctx, c); err != nil {
		return fmt.Errorf("publishing invalidation of tenant %s: %w", c.TenantID, err)
	}
	return nil
}

// publish replaces every Redis entry c touches with a short-lived tombstone,
// then publishes c. A tombstone rather than a DEL: a resolver that read the
// source just before the change could otherwise write its outdated answer
// back after the DEL, where it would stay for RedisTTL. Keys are written one
// command each (in one pipeline), as a cluster may keep them on different
// nodes.
func (p publisher) publish(ctx context.Context, c tenantstore.Change) error {
	payload, err := json.Marshal(message{TenantID: c.TenantID, Subdomains: c.Subdomains, Hostnames: c.Hostnames, PlanOnly: c.PlanOnly})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, notifyTimeout)
	defer cancel()
	ttl := p.cfg.tombstoneTTL()
	stone := encodeTombstone(time.Now().Add(ttl))
	pipe := p.rdb.Pipeline()
	for _, key := range p.redisKeys(c) {
		pipe.Set(ctx, key, p.mac.seal(key, stone), ttl)
	}
	pipe.Publish(ctx, p.cfg.Channel, payload)
	_, err = pipe.Exec(ctx)
	return err
}

func (p publisher) redisKeys(c tenantstore.Change) []string {
	var keys []string
	if c.TenantID != "" {
		keys = append(keys, p.cfg.redisKey(kindID, c.TenantID))
	}
	for _, h := range changedHosts(&p.cfg, c) {
		keys = append(keys, p.cfg.redisKey(kindHost, h))
	}
	return keys
}

// changedHosts lists the hosts a change touches: each subdomain's host and
// each custom hostname.
func changedHosts(cfg *Config, c tenantstore.Change) []string {
	hosts := make([]string, 0, len(c.Subdomains)+len(c.Hostnames))
	for _, s := range c.Subdomains {
		if strings.IndexByte(s, '.') < 0 {
			if h, ok := tenantstore.NormalizeHost(cfg.hostOf(s)); ok {
				hosts = append(hosts, h)
			}
		}
	}
	for _, h := range c.Hostnames {
		if h, ok := tenantstore.NormalizeHost(h); ok {
			hosts = append(hosts, h)
		}
	}
	return hosts
}

// Notify implements tenantstore.Notifier: it drops the change from this
// process's memory at once, replaces its Redis entries with tombstones and
// publishes it, so
// that every resolver drops it within a moment. OnChange callbacks run when
// the message comes back through the subscription, or here when there is
// no Redis or publishing failed. The error reports a failed publication
// (other processes then see the change only after their TTL).
func (r *Resolver) Notify(ctx context.Context, c tenantstore.Change) error {
	if r.rdb == nil {
		r.evict(c)
		r.runCallbacks(c)
		return nil
	}
	// Redis first, so that a local load that starts after the eviction finds
	// the tombstones rather than the old entries.
	err := r.pub.Notify(ctx, c)
	r.evict(c)
	if err != nil {
		r.runCallbacks(c)
	}
	return err
}

// OnChange registers fn to be called with every change this resolver learns
// of, after the change has been dropped from memory. Callbacks run one at a
// time on the subscriber's goroutine and should return quickly.
func (r *Resolver) OnChange(fn func(tenantstore.Change)) {
	r.mu.Lock()
	r.callbacks = append(r.callbacks, fn)
	r.mu.Unlock()
}

func (r *Resolver) runCallbacks(c tenantstore.Change) {
	r.mu.Lock()
	cbs := r.callbacks
	r.mu.Unlock()
	for _, fn := range cbs {
		fn(c)
	}
}

// evict makes every memory entry a change touches stale: its hosts and id,
// and the hosts the cached copy of the tenant had (in case the change
// leaves one out).
func (r *Resolver) evict(c tenantstore.Change) {
	r.mem.gen.Add(1)
	hosts := changedHosts(&r.cfg, c)
	if c.TenantID != "" {
		if e, ok := r.mem.ids.GetIfPresent(c.TenantID); ok && e.t != nil {
			hosts = append(hosts, r.cfg.hostOf(e.t.Subdomain))
			for _, d := range e.t.Domains {
				hosts = append(hosts, d.Hostname)
			}
		}
		r.mem.invalidate(r.mem.ids, c.TenantID)
	}
	for _, h := range hosts {
		if e, ok := r.mem.hosts.GetIfPresent(h); ok && e.t != nil && e.t.ID != c.TenantID {
			// The host belonged to another tenant when cached (a subdomain
			// that changed hands): that tenant's id entry is stale too.
			r.mem.invalidate(r.mem.ids, e.t.ID)
		}
		r.mem.invalidate(r.mem.hosts, h)
	}
}

// Start subscribes to invalidations in a goroutine that runs until ctx is
// done or Close is called, reconnecting with backoff whenever the
// subscription breaks. Without Redis it does nothing. Calling Start again
// does nothing.
func (r *Resolver) Start(ctx context.Context) {
	if r.rdb == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.cancel != nil {
		return
	}
	ctx, r.cancel = context.WithCancel(ctx)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.subscribeLoop(ctx)
	}()
}

// Reconnection backoff of the subscriber.
const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 2 * time.Second
)

func (r *Resolver) subscribeLoop(ctx context.Context) {
	backoff := minBackoff
	for {
		wasUp := r.subscribeOnce(ctx)
		r.setSubscribed(false)
		if wasUp {
			backoff = minBackoff
		}
		// Full jitter keeps a fleet from reconnecting in step.
		t := time.NewTimer(backoff/2 + time.Duration(rand.Int64N(int64(backoff/2)+1)))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// subscribeOnce holds one subscription until it breaks or ctx is done, and
// reports whether it was ever established.
func (r *Resolver) subscribeOnce(ctx context.Context) (wasUp bool) {
	ps := r.rdb.Subscribe(ctx, r.cfg.Channel)
	// A blocked read does not watch ctx: closing the PubSub ends it.
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer func() {
		if stop() {
			_ = ps.Close()
		}
	}()
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, r.cfg.HealthCheckInterval)
		if err != nil {
			if ctx.Err() != nil || !wasUp || pinged || !isTimeout(err) {
				return wasUp
			}
			// Idle for a while: a ping must be answered within the next
			// interval, or the connection is considered dead.
			if err := ps.Ping(ctx); err != nil {
				return wasUp
			}
			pinged = true
			continue
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == r.cfg.Channel {
				wasUp = true
				r.setSubscribed(true)
			}
		case *redis.Message:
			r.handleMessage(m.Payload)
		}
	}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// setSubscribed switches the memory TTL between TTL (subscribed) and
// DegradedTTL. On subscribing, entries cached before are revalidated: changes
// published while the subscription was down were missed.
func (r *Resolver) setSubscribed(up bool) {
	if up {
		r.mem.invalidateAll()
		r.mem.ttl.Store(int64(r.cfg.TTL))
		r.subscribed.Store(true)
		return
	}
	r.mem.ttl.Store(int64(min(r.cfg.TTL, r.cfg.DegradedTTL)))
	if r.subscribed.Swap(false) {
		r.stats.subLosses.Add(1)
	}
}

func (r *Resolver) handleMessage(payload string) {
	r.stats.invalidations.Add(1)
	c, err := parseMessage(payload)
	if err != nil {
		// Someone changed something we cannot tell: revalidate everything.
		r.mem.invalidateAll()
		return
	}
	r.evict(c)
	r.runCallbacks(c)
}
