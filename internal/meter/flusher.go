package meter

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// Defaults of Flusher.
const (
	// DefaultInterval is how often counts are written: at most this often,
	// so at most this much is lost in a crash (SPEC §13).
	DefaultInterval = 10 * time.Second
	// DefaultMaxPending bounds the rows kept for a retry while the control
	// plane does not answer (a day of one minute for 10,000 tenants would
	// be more than this; the oldest are dropped first).
	DefaultMaxPending = 100_000
)

// Drainer is what a Flusher drains: an *Edge or an *App.
type Drainer interface {
	Drain(minute time.Time) []tenantstore.UsageRow
}

// Sink stores drained rows; *tenantstore.Store implements it.
type Sink interface {
	AddUsage(ctx context.Context, rows []tenantstore.UsageRow) error
}

// Flusher drains a Drainer into a Sink every interval and on Stop. The
// counts drained at the end of an interval belong to the minute in which
// the interval began; ticks fall on multiples of the interval (wall
// clock), so with an interval that divides a minute they never straddle
// one.
type Flusher struct {
	src      Drainer
	sink     func() Sink // nil result: not reachable yet, keep counting
	interval time.Duration
	now      func() time.Time
	onError  func(error)

	mu      sync.Mutex // one flush at a time
	since   time.Time
	pending []tenantstore.UsageRow
	dropped int64

	stop context.CancelFunc
	done chan struct{}
}

// FlusherConfig configures a Flusher. Source and Sink are required.
type FlusherConfig struct {
	Source Drainer
	// Sink returns where to write, or nil while it is not reachable (the
	// counts stay in memory until it is).
	Sink func() Sink
	// Interval between flushes; DefaultInterval when 0.
	Interval time.Duration
	// OnError is told about failed writes (the rows are kept for the next
	// flush); nil drops them.
	OnError func(error)
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// NewFlusher returns a Flusher; Start runs it.
func NewFlusher(cfg FlusherConfig) *Flusher {
	f := &Flusher{src: cfg.Source, sink: cfg.Sink, interval: cfg.Interval, now: cfg.Now, onError: cfg.OnError}
	if f.interval <= 0 {
		f.interval = DefaultInterval
	}
	if f.now == nil {
		f.now = time.Now
	}
	if f.onError == nil {
		f.onError = func(error) {}
	}
	f.since = f.now()
	return f
}

// Start flushes every interval until Stop.
func (f *Flusher) Start() {
	ctx, stop := context.WithCancel(context.Background())
	f.stop, f.done = stop, make(chan struct{})
	go f.run(ctx)
}

func (f *Flusher) run(ctx context.Context) {
	defer close(f.done)
	for {
		now := f.now()
		next := now.Truncate(f.interval).Add(f.interval)
		t := time.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		_ = f.Flush(ctx)
	}
}

// Stop ends the periodic flushes and flushes what is held, waiting up to
// ctx for the write. It is safe to call once, after Start or without it.
func (f *Flusher) Stop(ctx context.Context) error {
	if f.stop != nil {
		f.stop()
		<-f.done
	}
	return f.Flush(ctx)
}

// Flush drains the source and writes what it holds (with rows a failed
// flush kept) in one upsert. On failure the rows are kept for the next
// flush and the error is returned (and told to OnError).
func (f *Flusher) Flush(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	sink := f.sink()
	if sink == nil {
		return nil // keep counting in memory; the minute of these counts is the interval's start
	}
	now := f.now()
	rows := append(f.pending, f.src.Drain(f.since.UTC().Truncate(time.Minute))...)
	f.since = now
	f.pending = nil
	if len(rows) == 0 {
		return nil
	}
	if err := sink.AddUsage(ctx, rows); err != nil {
		if over := len(rows) - DefaultMaxPending; over > 0 {
			f.dropped += int64(over)
			rows = rows[over:]
		}
		f.pending = tenantstore.MergeUsageRows(rows)
		err = fmt.Errorf("flushing usage (%d rows kept for the next flush): %w", len(f.pending), err)
		f.onError(err)
		return err
	}
	return nil
}
