// Package resolver answers "which tenant is this host (or id)?" on every
// request and TLS handshake, through three layers: a bounded in-process cache,
// Redis (shared by every process), and the control-plane store (PostgreSQL).
//
// # Layers
//
// Memory is two otter caches (github.com/maypok86/otter/v2), one keyed by host
// and one by tenant id. Otter was chosen over golang-lru because a warm hit
// must cost tens of nanoseconds without allocating under many goroutines:
// otter reads are lock-free (lossy read buffers instead of a mutex-guarded LRU
// list), keys are the host string itself so a hit builds nothing, and its
// W-TinyLFU admission keeps a flood of one-off unknown hosts from evicting the
// tenants that are actually used. Its CoarseClock makes reading the time on a
// hit as cheap as loading a variable.
//
// Each entry carries its own soft TTL: after TTL the entry is no longer served
// as fresh, but it stays in memory (up to StaleTTL) so that it can be served
// when the source fails (stale-while-error). "No such tenant" is cached too,
// for NegativeTTL, in memory and in Redis, so a flood of unknown hosts costs
// one source query per host.
//
// Misses for one key collapse into one lookup (golang.org/x/sync/singleflight).
// Redis holds each tenant as JSON under "<prefix>host:<host>" and
// "<prefix>id:<id>".
//
// # Redis is not trusted (SPEC §9)
//
// An entry holds no secret: not the explicit database URL (it may carry a
// password), not the login role's password. The resolver's answers carry
// none either, from whichever layer; an appserver reads a tenant's database
// URL from the control plane by id through DatabaseURLs. Every value is
// "<MAC>.<JSON>", the MAC an HMAC-SHA256 over the Redis key and the JSON with
// Config.MACKeys (EntryKeys: derived from CACHE_KEY or from the signing
// keys; the first makes MACs, all verify, for rotation), and the JSON carries
// its expiry. A value that does not verify under its own key (forged, copied
// from another key, altered, MACed with a key no longer listed) or is past
// its expiry is a miss: the source answers and overwrites it, Stats counts
// it as a BadEntry and Config.OnBadEntry reports it. Negative entries and
// tombstones are authenticated alike. A memory hit verifies nothing: only
// what is read from Redis is checked.
//
// # Invalidation
//
// Notify (the resolver implements tenantstore.Notifier, and NewPublisher
// gives a Notifier for processes that only write) replaces the Redis entries
// a Change touches with short-lived tombstones and publishes it on a Redis
// channel. A tombstone, unlike a DEL, cannot be overwritten by a load that
// read the source just before the change (writes go through a small Lua
// script that refuses to replace one), and a load that finishes after this
// process heard of the change does not cache its answer at all. Every Resolver
// subscribes (Start), drops the affected entries from memory and calls its
// OnChange callbacks. While the subscription is down the resolver reconnects
// with backoff and serves memory entries for at most DegradedTTL, and entries
// cached before a reconnection are revalidated, since changes may have been
// missed meanwhile.
//
// # Outages
//
// Redis down: answers come from memory and the source, without error, and
// Redis is skipped for RedisRetryAfter after a failure. Source down: the last
// known answer is served from memory (even expired) or Redis and counted in
// Stats.StaleAnswers. Both down and nothing known: an error wrapping
// tenantstore.ErrUnavailable.
//
// The library does not log and registers no metrics: Stats returns counters
// for the caller to export.
package resolver
