package resolver

import "sync/atomic"

// Stats are the resolver's counters since New, for the caller to export
// (Prometheus, logs). Answers served fresh from memory are not counted, so
// that the hot path writes no shared memory: every other lookup is a Miss.
type Stats struct {
	Misses             uint64 // lookups memory could not answer fresh
	RedisHits          uint64 // misses answered by Redis
	RedisMisses        uint64 // Redis had no (readable) entry
	RedisErrors        uint64 // failed Redis calls (Redis is then skipped for RedisRetryAfter)
	BadEntries         uint64 // Redis entries that failed verification (counted in RedisMisses too)
	SourceQueries      uint64 // reads of the source
	SourceNotFound     uint64 // source reads that found no tenant
	SourceErrors       uint64 // source reads that failed (timeout, connection refused, …)
	StaleAnswers       uint64 // answers served from an expired entry because the source failed
	Unavailable        uint64 // lookups that failed with ErrUnavailable
	Invalidations      uint64 // invalidation messages received
	SubscriptionLosses uint64 // times the invalidation subscription broke
	Subscribed         bool   // whether invalidations are being received now
	Entries            int    // entries in memory (by host and by id, stale ones included)
}

type counters struct {
	misses, redisHits, redisMisses, redisErrors         atomic.Uint64
	sourceQueries, sourceNotFound, sourceErrors         atomic.Uint64
	staleAnswers, unavailable, invalidations, subLosses atomic.Uint64
	badEntries                                          atomic.Uint64
}

// Stats returns a snapshot of the counters.
func (r *Resolver) Stats() Stats {
	c := &r.stats
	return Stats{
		Misses: c.misses.Load(), RedisHits: c.redisHits.Load(), RedisMisses: c.redisMisses.Load(),
		RedisErrors: c.redisErrors.Load(), BadEntries: c.badEntries.Load(), SourceQueries: c.sourceQueries.Load(),
		SourceNotFound: c.sourceNotFound.Load(), SourceErrors: c.sourceErrors.Load(),
		StaleAnswers: c.staleAnswers.Load(), Unavailable: c.unavailable.Load(),
		Invalidations: c.invalidations.Load(), SubscriptionLosses: c.subLosses.Load(),
		Subscribed: r.subscribed.Load(), Entries: r.mem.size(),
	}
}
