package tenantpool

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Defaults of Config (SPEC §3).
const (
	DefaultMaxPools          = 200
	DefaultMaxConns          = 4
	DefaultIdleTimeout       = 5 * time.Minute
	DefaultConnectTimeout    = 2 * time.Second
	DefaultBreakerRetry      = 5 * time.Second
	defaultJanitorMaxPeriod  = 30 * time.Second
	minJanitorPeriod         = 10 * time.Millisecond
	defaultConnMaxIdleTime   = time.Minute
	defaultBreakerForgetTime = time.Hour
)

// ErrUnavailable means the tenant's database could not be
// reached, now or a moment ago (the breaker is open). It maps to 503
// tenant_database_unavailable.
var ErrUnavailable = errors.New("tenant database unavailable")

// ErrClosed is returned by Acquire after Close.
var ErrClosed = errors.New("pool manager closed")

// Config configures a Manager. Zero fields take the Default* values.
type Config struct {
	// MaxPools bounds the open pools (MAX_TENANT_POOLS). Beyond it the least
	// recently used idle pool is closed; when every pool is in use, Acquire
	// waits for one to become idle.
	MaxPools int
	// MaxConns is the size of each pool (TENANT_POOL_MAX_CONNS).
	MaxConns int32
	// IdleTimeout closes a pool nobody used for this long
	// (TENANT_POOL_IDLE_TIMEOUT).
	IdleTimeout time.Duration
	// ConnectTimeout bounds opening a pool and every new connection.
	ConnectTimeout time.Duration
	// BreakerRetry is how long a tenant whose database failed fails fast
	// before one request may try again.
	BreakerRetry time.Duration
	// Budget caps the connections of all pools sharing it
	// (TENANT_CONNS_MAX); the tenant app's and the dashboard's managers
	// share one. When nil, the manager makes its own from ConnsMax and
	// ConnsWait.
	Budget *Budget
	// ConnsMax and ConnsWait configure the manager's own budget when
	// Budget is nil (BudgetConfig.Max and Wait).
	ConnsMax  int
	ConnsWait time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

func (c *Config) defaults() {
	if c.MaxPools <= 0 {
		c.MaxPools = DefaultMaxPools
	}
	if c.MaxConns <= 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.BreakerRetry <= 0 {
		c.BreakerRetry = DefaultBreakerRetry
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Budget == nil {
		c.Budget = NewBudget(BudgetConfig{Max: c.ConnsMax, Wait: c.ConnsWait})
	}
}

// Manager keeps one pgxpool per tenant database: opened on first use (once,
// however many requests arrive together), closed when idle too long or when
// the least recently used idle pool must make room, never closed while a
// request holds it. A tenant whose database fails to open is refused fast
// for BreakerRetry, so it never slows the others.
//
// The LRU is a container/list of idle pools only, not a generic LRU cache
// (such as hashicorp/golang-lru): eviction must skip pools in use, wait when
// all are in use, and count a pool against the budget until its Close has
// returned, which a cache's evict callback cannot express.
type Manager struct {
	cfg    Config
	budget *Budget

	mu        sync.Mutex
	entries   map[string]*poolEntry // by tenant ID; opening, in use or idle
	breakers  map[string]*breaker   // tenants whose last open failed
	idle      *list.List            // idle entries, front = most recently used
	slots     int                   // pools opening or open (including retired ones not yet closed)
	waiting   int                   // Acquire calls waiting for a slot
	slotFreed chan struct{}         // closed (and replaced) when a slot may have freed
	closed    bool

	opens, openFailures                        atomic.Int64
	evictIdle, evictLRU, evictChanged, tripped atomic.Int64

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

type poolEntry struct {
	tenantID string
	dsn      string
	ready    chan struct{} // closed when the open finished (pool or err set)
	pool     *pgxpool.Pool
	err      error
	refs     int
	lastUsed time.Time
	elem     *list.Element // in Manager.idle while refs == 0 and open
	retired  bool          // out of the map; closed when refs reaches 0
}

type breaker struct {
	err     error
	nextTry time.Time
	probing bool
}

// New starts a pool manager and its idle janitor; Close stops both.
func New(cfg Config) *Manager {
	cfg.defaults()
	p := &Manager{
		cfg:       cfg,
		budget:    cfg.Budget,
		entries:   make(map[string]*poolEntry),
		breakers:  make(map[string]*breaker),
		idle:      list.New(),
		slotFreed: make(chan struct{}),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	p.budget.addReclaimer(p.reclaimIdle)
	go p.janitor()
	return p
}

// Lease is one request's hold on a tenant pool; the pool is not closed until
// every lease on it is released.
type Lease struct {
	p        *Manager
	e        *poolEntry
	released bool
}

// Pool returns the leased pool.
func (l *Lease) Pool() *pgxpool.Pool { return l.e.pool }

// Release gives the pool back; it is safe to call more than once.
func (l *Lease) Release() {
	if l.released {
		return
	}
	l.released = true
	l.p.release(l.e)
}

// Acquire returns the pool of the tenant, opening it when needed. dsn is the
// tenant's current database URL: when it differs from the URL the open pool
// was made with, that pool is retired and a new one opened. It fails with an
// error wrapping ErrUnavailable when the database cannot be
// reached or the tenant's breaker is open.
func (p *Manager) Acquire(ctx context.Context, tenantID, dsn string) (*Lease, error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrClosed
		}
		e := p.entries[tenantID]
		if e != nil && e.dsn != dsn {
			p.evictChanged.Add(1)
			toClose := p.retireLocked(e)
			p.mu.Unlock()
			p.closeRetired(toClose)
			continue
		}
		if e != nil {
			e.refs++
			if e.elem != nil {
				p.idle.Remove(e.elem)
				e.elem = nil
			}
			p.mu.Unlock()
			return p.await(ctx, e)
		}
		if b := p.breakers[tenantID]; b != nil {
			now := p.cfg.Now()
			if b.probing || now.Before(b.nextTry) {
				err := b.err
				p.mu.Unlock()
				return nil, fmt.Errorf("%w (retrying shortly): %w", ErrUnavailable, err)
			}
			b.probing = true // this caller probes; the others keep failing fast
		}
		if p.slots >= p.cfg.MaxPools {
			if back := p.idle.Back(); back != nil {
				p.evictLRU.Add(1)
				toClose := p.retireLocked(back.Value.(*poolEntry))
				p.mu.Unlock()
				p.closeRetired(toClose)
				continue
			}
			// Every pool is in use: wait for a release rather than exceed
			// the connection budget.
			ch := p.slotFreed
			p.waiting++
			p.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
			}
			p.mu.Lock()
			p.waiting--
			if b := p.breakers[tenantID]; b != nil {
				b.probing = false
			}
			p.mu.Unlock()
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("waiting for a free tenant pool: %w", err)
			}
			continue
		}
		e = &poolEntry{tenantID: tenantID, dsn: dsn, ready: make(chan struct{}), refs: 1}
		p.entries[tenantID] = e
		p.slots++
		p.mu.Unlock()

		pool, err := p.open(ctx, tenantID, dsn)
		p.mu.Lock()
		if err != nil {
			e.err = err
			if p.entries[tenantID] == e {
				delete(p.entries, tenantID)
			}
			e.retired = true
			p.slots--
			p.signalLocked()
			if errors.Is(err, ErrBusy) {
				// The budget was full, the database may be fine: no
				// breaker; a breaker being probed may probe again.
				if b := p.breakers[tenantID]; b != nil {
					b.probing = false
				}
			} else {
				p.openFailures.Add(1)
				p.breakers[tenantID] = &breaker{err: err, nextTry: p.cfg.Now().Add(p.cfg.BreakerRetry)}
			}
		} else {
			p.opens.Add(1)
			e.pool = pool
			delete(p.breakers, tenantID)
		}
		close(e.ready)
		p.mu.Unlock()
		return p.await(ctx, e)
	}
}

// await waits for e to be ready; the caller holds a reference on e.
func (p *Manager) await(ctx context.Context, e *poolEntry) (*Lease, error) {
	select {
	case <-e.ready:
	case <-ctx.Done():
		p.release(e)
		return nil, fmt.Errorf("waiting for tenant pool: %w", ctx.Err())
	}
	if e.err != nil {
		p.release(e)
		if errors.Is(e.err, ErrBusy) {
			return nil, e.err
		}
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, e.err)
	}
	return &Lease{p: p, e: e}, nil
}

// open creates a pool and checks it with one connection. It is detached from
// the request's cancellation: waiters share its result, and a client going
// away must not trip the breaker. Its first connection, like every other,
// waits for the budget, so the time allowed is the budget's wait plus
// ConnectTimeout.
func (p *Manager) open(ctx context.Context, tenantID, dsn string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parsing tenant database URL: %w", err)
	}
	cfg.MaxConns = p.cfg.MaxConns
	cfg.MinConns = 0
	cfg.MaxConnIdleTime = min(defaultConnMaxIdleTime, p.cfg.IdleTimeout)
	cfg.ConnConfig.ConnectTimeout = p.cfg.ConnectTimeout
	p.budget.hook(cfg, tenantID)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.budget.wait+p.cfg.ConnectTimeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("opening tenant pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		if errors.Is(err, ErrBusy) {
			return nil, fmt.Errorf("opening tenant pool: %w", err)
		}
		return nil, fmt.Errorf("connecting to tenant database: %w", err)
	}
	return pool, nil
}

func (p *Manager) release(e *poolEntry) {
	p.mu.Lock()
	e.refs--
	e.lastUsed = p.cfg.Now()
	var toClose *poolEntry
	if e.refs == 0 && e.pool != nil {
		if e.retired || p.closed {
			toClose = e
		} else {
			e.elem = p.idle.PushFront(e)
			if p.waiting > 0 {
				p.signalLocked() // a waiter may now evict this idle pool
			}
		}
	}
	p.mu.Unlock()
	p.closeRetired(toClose)
}

// retireLocked takes e out of service. It returns e when it can be closed
// now (nobody holds it); otherwise the last release closes it.
func (p *Manager) retireLocked(e *poolEntry) *poolEntry {
	if p.entries[e.tenantID] == e {
		delete(p.entries, e.tenantID)
	}
	e.retired = true
	if e.elem != nil {
		p.idle.Remove(e.elem)
		e.elem = nil
	}
	if e.refs == 0 && e.pool != nil {
		return e
	}
	return nil
}

// closeRetired closes a retired pool and only then frees its slot, so the
// connection budget holds while it shuts down.
func (p *Manager) closeRetired(e *poolEntry) {
	if e == nil {
		return
	}
	e.pool.Close()
	p.mu.Lock()
	p.slots--
	p.signalLocked()
	p.mu.Unlock()
}

func (p *Manager) signalLocked() {
	close(p.slotFreed)
	p.slotFreed = make(chan struct{})
}

// reclaimIdle closes one idle connection of a tenant other than exclude,
// from the least recently used pool that has one, and gives its token
// back; it reports whether it found one.
func (p *Manager) reclaimIdle(exclude string) bool {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return false
	}
	var pools []*pgxpool.Pool
	for el := p.idle.Back(); el != nil; el = el.Prev() {
		if e := el.Value.(*poolEntry); e.tenantID != exclude {
			pools = append(pools, e.pool)
		}
	}
	for _, e := range p.entries {
		if e.refs > 0 && e.pool != nil && e.tenantID != exclude {
			pools = append(pools, e.pool)
		}
	}
	p.mu.Unlock()
	for _, pool := range pools {
		if pool.Stat().IdleConns() == 0 {
			continue
		}
		conns := pool.AcquireAllIdle(context.Background())
		if len(conns) == 0 {
			continue
		}
		for _, c := range conns[1:] {
			c.Release()
		}
		// Taken out of the pool, so pgxpool's BeforeClose will not run:
		// close it here and give its token back.
		closeAndWait(conns[0].Hijack())
		p.budget.release()
		return true
	}
	return false
}

// Invalidate retires the tenant's pool (closed as soon as no request holds
// it) and resets its breaker, so the next request opens a pool with the
// tenant's current database URL. The resolver's OnChange calls it.
func (p *Manager) Invalidate(tenantID string) {
	p.mu.Lock()
	delete(p.breakers, tenantID)
	var toClose *poolEntry
	if e := p.entries[tenantID]; e != nil {
		p.evictChanged.Add(1)
		toClose = p.retireLocked(e)
	}
	p.mu.Unlock()
	p.closeRetired(toClose)
}

// Trip opens the tenant's breaker after its database failed under an open
// pool (a connection error mid-request) and retires that pool, so the next
// requests fail fast instead of each waiting for a connect timeout.
func (p *Manager) Trip(tenantID string, err error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.tripped.Add(1)
	p.breakers[tenantID] = &breaker{err: err, nextTry: p.cfg.Now().Add(p.cfg.BreakerRetry)}
	var toClose *poolEntry
	if e := p.entries[tenantID]; e != nil {
		toClose = p.retireLocked(e)
	}
	p.mu.Unlock()
	p.closeRetired(toClose)
}

// janitor closes pools idle longer than IdleTimeout and forgets old breakers.
func (p *Manager) janitor() {
	defer close(p.done)
	t := time.NewTicker(max(min(p.cfg.IdleTimeout/4, defaultJanitorMaxPeriod), minJanitorPeriod))
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.sweep()
		}
	}
}

func (p *Manager) sweep() {
	now := p.cfg.Now()
	var expired []*poolEntry
	p.mu.Lock()
	for el := p.idle.Back(); el != nil; {
		e := el.Value.(*poolEntry)
		el = el.Prev()
		if now.Sub(e.lastUsed) < p.cfg.IdleTimeout {
			break // the rest are more recent
		}
		if c := p.retireLocked(e); c != nil {
			expired = append(expired, c)
		}
	}
	for id, b := range p.breakers {
		if !b.probing && now.Sub(b.nextTry) > defaultBreakerForgetTime {
			delete(p.breakers, id)
		}
	}
	p.mu.Unlock()
	for _, e := range expired {
		p.evictIdle.Add(1)
		p.closeRetired(e)
	}
}

// Close closes every idle pool now and every pool in use when its last
// request releases it; later Acquire calls fail. It is idempotent.
func (p *Manager) Close() {
	p.stopOnce.Do(func() {
		close(p.stop)
		<-p.done
		p.mu.Lock()
		p.closed = true
		var toClose []*poolEntry
		for _, e := range p.entries {
			if c := p.retireLocked(e); c != nil {
				toClose = append(toClose, c)
			}
		}
		p.signalLocked()
		p.mu.Unlock()
		for _, e := range toClose {
			p.closeRetired(e)
		}
	})
}

// Stats is a snapshot of the manager for metrics and tests.
type Stats struct {
	Open          int   // pools open or opening, including retired ones still closing
	InUse         int   // pools held by at least one request
	Waiting       int   // Acquire calls waiting for a free slot
	BreakersOpen  int   // tenants currently failing fast
	Opens         int64 // pools opened successfully
	OpenFailures  int64 // failed opens
	EvictedIdle   int64 // closed after IdleTimeout
	EvictedLRU    int64 // closed to make room for another tenant
	EvictedChange int64 // closed because the tenant's database URL changed
	Tripped       int64 // breakers opened by a failure under an open pool
	AcquiredConns int32 // connections in use, all pools
	IdleConns     int32 // idle connections, all pools
	Budget        BudgetStats
}

// Stats returns a snapshot of the manager.
func (p *Manager) Stats() Stats {
	now := p.cfg.Now()
	p.mu.Lock()
	s := Stats{Open: p.slots, Waiting: p.waiting}
	pools := make([]*pgxpool.Pool, 0, len(p.entries))
	for _, e := range p.entries {
		if e.refs > 0 {
			s.InUse++
		}
		if e.pool != nil {
			pools = append(pools, e.pool)
		}
	}
	for _, b := range p.breakers {
		if b.probing || now.Before(b.nextTry) {
			s.BreakersOpen++
		}
	}
	p.mu.Unlock()
	for _, pool := range pools {
		st := pool.Stat()
		s.AcquiredConns += st.AcquiredConns()
		s.IdleConns += st.IdleConns()
	}
	s.Opens = p.opens.Load()
	s.OpenFailures = p.openFailures.Load()
	s.EvictedIdle = p.evictIdle.Load()
	s.EvictedLRU = p.evictLRU.Load()
	s.EvictedChange = p.evictChanged.Load()
	s.Tripped = p.tripped.Load()
	s.Budget = p.budget.Stats()
	return s
}

// Budget returns the connection budget the manager's pools share.
func (p *Manager) Budget() *Budget { return p.budget }

// BreakerRetry is how long a tenant whose database failed is refused before
// one request may try again (Config.BreakerRetry after defaults); the tenant
// app sends it as Retry-After.
func (p *Manager) BreakerRetry() time.Duration { return p.cfg.BreakerRetry }
