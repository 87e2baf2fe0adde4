package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/tenantgate/tenantgate/internal/meter"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// The usage figures of the appserver (SPEC §13).
const (
	// usageMaintainEvery is how often each appserver offers to roll the
	// usage minutes up into hours, apply retention and sample the tenants'
	// database sizes; usageMaintainGap makes the others skip a round one
	// of them has just done.
	usageMaintainEvery = 5 * time.Minute
	usageMaintainGap   = 4 * time.Minute
	usageMaintainLimit = 2 * time.Minute
)

// usage counts active users and invoices (appserver.Config.Usage) and
// database sizes in memory, flushes them with the edges' figures every
// 10 s, and maintains the usage tables.
type usage struct {
	app     *meter.App
	flusher *meter.Flusher
	store   *tenantstore.Store
	mgr     *tenantstore.Manager
	log     *slog.Logger
	stop    context.CancelFunc
	done    chan struct{}
}

func startUsage(store *tenantstore.Store, mgr *tenantstore.Manager, log *slog.Logger) *usage {
	u := &usage{app: new(meter.App), store: store, mgr: mgr, log: log, done: make(chan struct{})}
	u.flusher = meter.NewFlusher(meter.FlusherConfig{
		Source: u.app,
		Sink:   func() meter.Sink { return store },
		OnError: func(err error) {
			log.Warn("writing usage figures; keeping them for the next flush", slog.String("error", err.Error()))
		},
	})
	u.flusher.Start()
	ctx, stop := context.WithCancel(context.Background())
	u.stop = stop
	go u.maintain(ctx)
	return u
}

// maintain rolls usage up and samples database sizes every
// usageMaintainEvery, when no other process just did.
func (u *usage) maintain(ctx context.Context) {
	defer close(u.done)
	tick := time.NewTicker(usageMaintainEvery)
	defer tick.Stop()
	for {
		u.maintainOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (u *usage) maintainOnce(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, usageMaintainLimit)
	defer cancel()
	res, err := u.store.RollupUsage(ctx, time.Now(), usageMaintainGap)
	if err != nil {
		u.log.Warn("rolling usage up", slog.String("error", err.Error()))
		return
	}
	if res.Skipped {
		return
	}
	sizes, err := u.mgr.DatabaseSizes(ctx)
	if err != nil {
		u.log.Warn("sampling database sizes (some left out)", slog.String("error", err.Error()))
	}
	for id, n := range sizes {
		u.app.DatabaseSize(id, n)
	}
	u.log.Info("usage maintained", slog.Int64("hours_rolled", res.Hours), slog.Int64("minutes_deleted", res.DeletedMinutes),
		slog.Int64("hours_deleted", res.DeletedHours), slog.Int("database_sizes", len(sizes)))
}

// Stop ends maintenance and flushes what is counted, waiting up to ctx.
func (u *usage) Stop(ctx context.Context) {
	u.stop()
	<-u.done
	if err := u.flusher.Stop(ctx); err != nil {
		u.log.Error("usage figures of the last interval lost", slog.String("error", err.Error()))
	}
}
