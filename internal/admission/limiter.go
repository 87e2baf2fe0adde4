// Package admission decides whether a request may go on: per-key limits
// (a request rate with a burst, kept by GCRA, and a cap on requests in
// flight) in a Table, and a bound on the requests in flight of the whole
// process with a short queue served fairly across keys in a Shedder. The
// edge keys both by tenant id. Nothing here does I/O, and a request
// admitted without waiting costs a few atomic operations and no allocation.
package admission

import (
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Limits are one key's limits. A zero field is unlimited.
type Limits struct {
	// Rate is the sustained rate in requests per second.
	Rate float64
	// Burst is how many requests may come at once above Rate; 0 means one
	// second of Rate (at least 1).
	Burst int
	// MaxInFlight caps the key's requests between Acquire and Release.
	MaxInFlight int
}

// Decision is the outcome of Table.Acquire.
type Decision uint8

// The decisions of Table.Acquire.
const (
	Admitted        Decision = iota
	RateLimited              // over the key's rate: retry after the returned wait
	InFlightLimited          // the key has MaxInFlight requests in flight
)

// dead marks a Key the sweeper removed: an Acquire that finds it looks the
// key up again. Far below any count a live key's in-flight can reach.
const dead = math.MinInt64 / 2

// Key is the state of one key: what its limits need, plus Extra for the
// caller (the edge keeps the key's metrics there).
type Key[T any] struct {
	// tat is GCRA's theoretical arrival time, in nanoseconds of the
	// table's clock: the key is idle (its whole burst available) when tat
	// is not after now.
	tat      atomic.Int64
	inFlight atomic.Int64
	// seen counts acquisitions since the last Sweep.
	seen atomic.Int64
	// Label is what the key was created with (the edge: the subdomain).
	Label string
	// Extra is the caller's.
	Extra atomic.Pointer[T]
}

// InFlight returns the key's requests in flight.
func (k *Key[T]) InFlight() int64 { return max(k.inFlight.Load(), 0) }

// Release ends a request that Acquire admitted.
func (k *Key[T]) Release() { k.inFlight.Add(-1) }

const shardCount = 32

// Table holds the state of every key that was recently active. Idle keys
// (no request since the previous sweep, none in flight, whole burst
// available: state equal to a new key's) are removed by Sweep, so its size follows the keys active in the last
// sweep interval, not every key ever seen. Safe for concurrent use.
type Table[T any] struct {
	seed   maphash.Seed
	now    func() int64
	shards [shardCount]shard[T]
}

type shard[T any] struct {
	mu   sync.RWMutex
	keys map[string]*Key[T]
	_    [32]byte // 24 + 8 + 32: one 64-byte cache line per shard
}

// NewTable returns an empty table reading time from now (nanoseconds of a
// monotonic clock); nil means the process's monotonic clock.
func NewTable[T any](now func() int64) *Table[T] {
	if now == nil {
		epoch := time.Now()
		now = func() int64 { return int64(time.Since(epoch)) }
	}
	t := &Table[T]{seed: maphash.MakeSeed(), now: now}
	for i := range t.shards {
		t.shards[i].keys = make(map[string]*Key[T])
	}
	return t
}

func (t *Table[T]) shard(id string) *shard[T] {
	return &t.shards[maphash.String(t.seed, id)%shardCount]
}

// get returns id's key, creating it (with label) when absent.
func (t *Table[T]) get(id, label string) *Key[T] {
	s := t.shard(id)
	s.mu.RLock()
	k := s.keys[id]
	s.mu.RUnlock()
	if k != nil {
		return k
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if k = s.keys[id]; k == nil {
		k = &Key[T]{Label: label}
		s.keys[id] = k
	}
	return k
}

// Acquire admits one request of id under l, or says why not; a
// RateLimited answer comes with how long until the key has a token. On
// Admitted the caller must call the key's Release when the request ends.
// label names a key created by this call.
func (t *Table[T]) Acquire(id, label string, l Limits) (*Key[T], Decision, time.Duration) {
	for {
		k := t.get(id, label)
		n := k.inFlight.Add(1)
		if n < 0 { // swept meanwhile: look again
			continue
		}
		k.seen.Add(1)
		if l.MaxInFlight > 0 && n > int64(l.MaxInFlight) {
			k.inFlight.Add(-1)
			return k, InFlightLimited, 0
		}
		if l.Rate > 0 {
			if wait := k.take(t.now(), l); wait > 0 {
				k.inFlight.Add(-1)
				return k, RateLimited, time.Duration(wait)
			}
		}
		return k, Admitted, 0
	}
}

// take spends one token of the key under GCRA; it returns 0 when there
// was one, or the nanoseconds until there will be.
func (k *Key[T]) take(now int64, l Limits) int64 {
	interval := int64(float64(time.Second) / l.Rate)
	burst := int64(l.Burst)
	if burst <= 0 {
		burst = max(int64(math.Ceil(l.Rate)), 1)
	}
	window := interval * burst
	for {
		old := k.tat.Load()
		tat := max(old, now)
		next := tat + interval
		if over := next - now - window; over > 0 {
			return over
		}
		if k.tat.CompareAndSwap(old, next) {
			return 0
		}
	}
}

// Sweep removes idle keys and returns every remaining key with the
// acquisitions it saw since the previous Sweep, for visit to look at (nil:
// none). It holds one shard's lock at a time.
func (t *Table[T]) Sweep(visit func(k *Key[T], seen int64)) {
	now := t.now()
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for id, k := range s.keys {
			// A key seen since the last sweep stays one more interval, so
			// that a busy key keeps its Extra.
			seen := k.seen.Swap(0)
			if seen == 0 && k.tat.Load() <= now && k.inFlight.CompareAndSwap(0, dead) {
				delete(s.keys, id)
				continue
			}
			if visit != nil {
				visit(k, seen)
			}
		}
		s.mu.Unlock()
	}
}

// Len returns the number of keys held.
func (t *Table[T]) Len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		n += len(s.keys)
		s.mu.RUnlock()
	}
	return n
}
