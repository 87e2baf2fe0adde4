package resolver

import (
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// clockResolution is how often the shared coarse clock reads the time. Ages
// and expiries are accurate to within it, which is far below every TTL.
const clockResolution = 5 * time.Millisecond

// entry is one cached answer. An entry is never modified once stored: it is
// replaced.
type entry struct {
	t        *tenantstore.Tenant // nil: no such tenant
	storedAt int64               // clock reading when stored; 0 once invalidated
	maxAge   int64               // NegativeTTL for "no such tenant", otherwise unlimited
}

// answer returns what the entry says.
func (e *entry) answer() (*tenantstore.Tenant, error) {
	if e.t == nil {
		return nil, tenantstore.ErrNotFound
	}
	return e.t, nil
}

// memory is the in-process layer: two bounded caches (by host and by id) whose
// entries outlive their freshness so that they can be served stale.
type memory struct {
	clock *otter.CoarseClock
	hosts *otter.Cache[string, *entry]
	ids   *otter.Cache[string, *entry]

	// ttl is the current freshness limit in nanoseconds: TTL, or DegradedTTL
	// while invalidations may be missed.
	ttl atomic.Int64
	// validFrom is a clock reading: entries stored at or before it are not
	// fresh (set when the subscription comes back, as changes may have been
	// missed).
	validFrom atomic.Int64
	// gen is bumped before every invalidation; a load stores its answer only
	// if gen is unchanged since it began, so an answer read before a change
	// is never cached after the change's invalidation.
	gen atomic.Uint64

	negativeAge int64
}

func newMemory(cfg Config) (*memory, error) {
	m := &memory{clock: otter.NewCoarseClock(clockResolution), negativeAge: int64(cfg.NegativeTTL)}
	expiry := otter.ExpiryWritingFunc(func(e otter.Entry[string, *entry]) time.Duration {
		if e.Value.t == nil {
			return cfg.NegativeTTL
		}
		return cfg.StaleTTL
	})
	var err error
	for _, c := range []**otter.Cache[string, *entry]{&m.hosts, &m.ids} {
		*c, err = otter.New(&otter.Options[string, *entry]{
			MaximumSize:      cfg.MaxEntries,
			ExpiryCalculator: expiry,
			Clock:            m.clock,
		})
		if err != nil {
			m.close()
			return nil, fmt.Errorf("creating in-process cache: %w", err)
		}
	}
	return m, nil
}

// fresh reports whether e may be served without asking further. It is on the
// hot path: atomic loads and comparisons only.
func (m *memory) fresh(e *entry) bool {
	age := m.clock.NowNano() - e.storedAt
	return age < e.maxAge && age < m.ttl.Load() && e.storedAt > m.validFrom.Load()
}

// store caches t (nil: not found) under key unless an invalidation happened
// since gen was read. The check runs under the key's lock, so it cannot
// interleave with the invalidation of that key.
func (m *memory) store(c *otter.Cache[string, *entry], key string, t *tenantstore.Tenant, gen uint64) {
	e := &entry{t: t, storedAt: m.clock.NowNano(), maxAge: math.MaxInt64}
	if t == nil {
		e.maxAge = m.negativeAge
	}
	c.Compute(key, func(old *entry, found bool) (*entry, otter.ComputeOp) {
		if m.gen.Load() != gen {
			return old, otter.CancelOp
		}
		return e, otter.WriteOp
	})
}

// invalidate makes the entry for key stale. A positive entry is kept, so that
// it can still be served if the source fails before it is reloaded; a
// negative one is dropped. Callers bump gen first.
func (m *memory) invalidate(c *otter.Cache[string, *entry], key string) {
	c.ComputeIfPresent(key, func(old *entry) (*entry, otter.ComputeOp) {
		if old.t == nil {
			return nil, otter.InvalidateOp
		}
		return &entry{t: old.t, maxAge: old.maxAge}, otter.WriteOp
	})
}

// invalidateAll makes every entry stale, keeping them for outages.
func (m *memory) invalidateAll() {
	m.gen.Add(1)
	m.validFrom.Store(m.clock.NowNano())
}

// size is the number of entries in both caches, expired ones included.
func (m *memory) size() int {
	return m.hosts.EstimatedSize() + m.ids.EstimatedSize()
}

func (m *memory) close() {
	for _, c := range []*otter.Cache[string, *entry]{m.hosts, m.ids} {
		if c != nil {
			c.StopAllGoroutines()
		}
	}
	m.clock.Stop()
}
