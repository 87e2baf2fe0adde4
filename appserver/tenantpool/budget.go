package tenantpool

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Defaults of BudgetConfig (SPEC §12).
const (
	// DefaultConnsMax is TENANT_CONNS_MAX's default: two appservers at 25
	// plus their control-plane pools, caddy and tenantctl fit PostgreSQL's
	// default max_connections of 100.
	DefaultConnsMax = 25
	// DefaultConnsWait is TENANT_CONNS_WAIT's default.
	DefaultConnsWait = 2 * time.Second
	// reclaimRetry is how often a waiter looks again for an idle
	// connection of another tenant to close.
	reclaimRetry = 50 * time.Millisecond
	// closeTimeout bounds closing one connection (pgxpool allows 15 s).
	closeTimeout = 5 * time.Second
)

// ErrBusy means the appserver's connection budget stayed full for the whole
// wait: the request gets 503 tenant_database_busy with Retry-After. The
// tenant's database is fine, so it never opens the tenant's breaker.
var ErrBusy = errors.New("tenant database connections busy")

// BudgetConfig configures a Budget.
type BudgetConfig struct {
	// Max is the number of connections all tenant pools sharing the budget
	// may hold together, connecting ones included (TENANT_CONNS_MAX);
	// DefaultConnsMax when ≤ 0.
	Max int
	// Wait bounds how long one new connection waits for room before
	// failing with ErrBusy (TENANT_CONNS_WAIT); DefaultConnsWait when ≤ 0.
	Wait time.Duration
}

// Budget caps the connections one appserver holds across all tenant pools.
// A pool takes a token before it dials (pgxpool's BeforeConnect) and gives
// it back when the connection closes (BeforeClose) or fails to open.
//
// When the budget is full, a new connection waits in its tenant's FIFO
// queue and tenants with waiters are served round-robin, so a tenant with
// fifty waiters does not starve one with a single waiter. Each waiter asks
// the registered pool managers to close one idle connection of another
// tenant (from the least recently used pool); when none is idle, the next
// connection released to any pool is closed instead of kept. The freed
// tokens go to the queue. A waiter not served within Wait fails with
// ErrBusy.
//
// One Budget may be shared by several Managers (the tenant app's and the
// dashboard's) so that together they stay under TENANT_CONNS_MAX.
type Budget struct {
	max  int
	wait time.Duration

	mu         sync.Mutex
	inUse      int                   // tokens held: connections open or connecting
	queues     map[string]*list.List // tenant → FIFO of *budgetWaiter
	ring       *list.List            // tenants with waiters, served front first
	inRing     map[string]*list.Element
	reclaimers []func(exclude string) bool

	waiting                   atomic.Int64 // waiters queued now
	unmetWaiting              atomic.Int64 // waiters queued for whom no idle connection could be reclaimed
	waits, timeouts, reclaims atomic.Int64
}

type budgetWaiter struct {
	tenant  string
	ready   chan struct{} // closed when granted
	granted bool
	unmet   bool // no idle connection could be reclaimed for it
	elem    *list.Element
}

// NewBudget returns an empty connection budget.
func NewBudget(cfg BudgetConfig) *Budget {
	if cfg.Max <= 0 {
		cfg.Max = DefaultConnsMax
	}
	if cfg.Wait <= 0 {
		cfg.Wait = DefaultConnsWait
	}
	return &Budget{
		max:    cfg.Max,
		wait:   cfg.Wait,
		queues: make(map[string]*list.List),
		ring:   list.New(),
		inRing: make(map[string]*list.Element),
	}
}

// Max is the budget's size (TENANT_CONNS_MAX).
func (b *Budget) Max() int { return b.max }

// Wait is how long a new connection waits for room (TENANT_CONNS_WAIT).
func (b *Budget) Wait() time.Duration { return b.wait }

// addReclaimer registers fn, which closes one idle connection of a tenant
// other than exclude and reports whether it found one.
func (b *Budget) addReclaimer(fn func(exclude string) bool) {
	b.mu.Lock()
	b.reclaimers = append(b.reclaimers, fn)
	b.mu.Unlock()
}

// acquire takes a token for a new connection of tenant, waiting fairly up
// to Wait (or until ctx ends) when the budget is full.
func (b *Budget) acquire(ctx context.Context, tenant string) error {
	b.mu.Lock()
	if b.inUse < b.max && b.ring.Len() == 0 {
		b.inUse++
		b.mu.Unlock()
		return nil
	}
	w := &budgetWaiter{tenant: tenant, ready: make(chan struct{})}
	q := b.queues[tenant]
	if q == nil {
		q = list.New()
		b.queues[tenant] = q
	}
	w.elem = q.PushBack(w)
	if b.inRing[tenant] == nil {
		b.inRing[tenant] = b.ring.PushBack(tenant)
	}
	b.waiting.Add(1)
	b.waits.Add(1)
	b.mu.Unlock()

	b.makeRoom(w)
	t := time.NewTimer(b.wait)
	defer t.Stop()
	retry := time.NewTicker(reclaimRetry)
	defer retry.Stop()
	var cause error
	for cause == nil {
		select {
		case <-w.ready:
			return nil
		case <-retry.C:
			b.makeRoom(w)
		case <-t.C:
			cause = fmt.Errorf("%w: no connection free within %s (TENANT_CONNS_MAX %d)", ErrBusy, b.wait, b.max)
		case <-ctx.Done():
			// Still a full budget, not a database fault: never trips a breaker.
			cause = fmt.Errorf("%w: gave up waiting for a connection: %w", ErrBusy, ctx.Err())
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if w.granted { // granted while we gave up: keep it
		return nil
	}
	b.dequeueLocked(w)
	b.timeouts.Add(1)
	return cause
}

// makeRoom closes one idle connection of a tenant other than w's (from the
// least recently used pool) for waiter w: its token comes back through
// release, which serves the queue in turn. When none is idle, w is marked
// unmet: while an unmet waiter waits, connections released to their pool
// are closed instead of kept (AfterRelease). A waiter tries again every
// reclaimRetry, for connections that became idle meanwhile. A retry may
// start a second close while the first still waits for the server; the
// spare token only frees budget sooner, and the closed connection was idle
// in the least recently used pool. (Limiting closes under way to the
// number of waiters was tried: it left waiters behind slow closes.)
func (b *Budget) makeRoom(w *budgetWaiter) {
	b.mu.Lock()
	reclaimers := b.reclaimers
	b.mu.Unlock()
	for _, r := range reclaimers {
		if r(w.tenant) {
			b.reclaims.Add(1)
			return
		}
	}
	b.mu.Lock()
	if !w.granted && !w.unmet {
		w.unmet = true
		b.unmetWaiting.Add(1)
	}
	b.mu.Unlock()
}

// closeOnRelease reports whether a connection just released to its pool
// should be closed, because a waiter found no idle connection to reclaim.
func (b *Budget) closeOnRelease() bool { return b.unmetWaiting.Load() > 0 }

// dequeueLocked takes w out of its tenant's queue, and the tenant out of
// the ring when it has no waiter left.
func (b *Budget) dequeueLocked(w *budgetWaiter) {
	q := b.queues[w.tenant]
	q.Remove(w.elem)
	b.waiting.Add(-1)
	if w.unmet {
		b.unmetWaiting.Add(-1)
	}
	if q.Len() == 0 {
		delete(b.queues, w.tenant)
		b.ring.Remove(b.inRing[w.tenant])
		delete(b.inRing, w.tenant)
	}
}

// release gives a token back and hands free tokens to waiters: the first
// waiter of the tenant at the front of the ring, which then moves to the
// back while it still has waiters.
func (b *Budget) release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.inUse--
	for b.inUse < b.max && b.ring.Len() > 0 {
		front := b.ring.Front()
		tenant := front.Value.(string)
		w := b.queues[tenant].Front().Value.(*budgetWaiter)
		b.dequeueLocked(w)
		if q := b.queues[tenant]; q != nil {
			b.ring.MoveToBack(b.inRing[tenant])
		}
		w.granted = true
		b.inUse++
		close(w.ready)
	}
}

// hook makes the pool of cfg, tenant's, take a token before each new
// connection and give it back when the connection closes or fails to open,
// and close released connections while others wait.
func (b *Budget) hook(cfg *pgxpool.Config, tenant string) {
	cfg.BeforeConnect = func(ctx context.Context, _ *pgx.ConnConfig) error {
		return b.acquire(ctx, tenant)
	}
	// pgxpool calls BeforeClose only for connections it holds; a connect
	// that fails after BeforeConnect is seen by the connect tracer (the
	// pools of this package set no other tracer).
	cfg.ConnConfig.Tracer = connectTracer{b}
	// The token comes back once the server's backend is gone, not when
	// the connection is about to close: pgxpool closes it only after
	// BeforeClose returns, and a backend outlives its socket for a moment.
	cfg.BeforeClose = func(c *pgx.Conn) {
		closeAndWait(c)
		b.release()
	}
	cfg.AfterRelease = func(*pgx.Conn) bool { return !b.closeOnRelease() }
}

// terminate is the protocol's Terminate message.
var terminate = []byte{'X', 0, 0, 0, 4}

// closeAndWait closes c and, when it was idle, waits (at most closeTimeout)
// for the server to close its end, which it does when the backend exits:
// only then has the server given the connection slot back.
func closeAndWait(c *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	pc := c.PgConn()
	if !pc.IsClosed() && !pc.IsBusy() {
		nc := pc.Conn()
		if err := nc.SetDeadline(time.Now().Add(closeTimeout)); err == nil {
			if _, err := nc.Write(terminate); err == nil {
				_, _ = io.Copy(io.Discard, nc) // until EOF: the backend has exited
			}
		}
	}
	_ = c.Close(ctx) // closes the socket whatever the server said
	select {
	case <-pc.CleanupDone():
	case <-ctx.Done():
	}
}

// connectTracer returns the token of a connection that failed to open.
type connectTracer struct{ b *Budget }

// TraceConnectStart implements pgx.ConnectTracer.
func (connectTracer) TraceConnectStart(ctx context.Context, _ pgx.TraceConnectStartData) context.Context {
	return ctx
}

// TraceConnectEnd implements pgx.ConnectTracer.
func (t connectTracer) TraceConnectEnd(_ context.Context, d pgx.TraceConnectEndData) {
	if d.Err != nil {
		t.b.release()
	}
}

// TraceQueryStart implements pgx.QueryTracer (ConnConfig.Tracer's type).
func (connectTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}

// TraceQueryEnd implements pgx.QueryTracer.
func (connectTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// BudgetStats is a snapshot of a Budget for metrics and tests.
type BudgetStats struct {
	Max      int   // TENANT_CONNS_MAX
	InUse    int   // connections open or connecting under the budget
	Waiting  int   // new connections waiting for a token now
	Waits    int64 // new connections that had to wait
	Timeouts int64 // waits that ended in ErrBusy (timed out or given up)
	Reclaims int64 // idle connections of other tenants closed to make room
}

// Stats returns a snapshot of the budget.
func (b *Budget) Stats() BudgetStats {
	b.mu.Lock()
	s := BudgetStats{Max: b.max, InUse: b.inUse}
	b.mu.Unlock()
	s.Waiting = int(b.waiting.Load())
	s.Waits = b.waits.Load()
	s.Timeouts = b.timeouts.Load()
	s.Reclaims = b.reclaims.Load()
	return s
}
