package caddymodule

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// Retry bounds for opening the control plane after a failed first attempt.
const (
	openRetryMin = time.Second
	openRetryMax = 30 * time.Second
)

// errNotOpen is what the source answers until the control plane is open; the
// resolver treats it as the source being unavailable (Redis and stale
// entries still answer).
var errNotOpen = fmt.Errorf("control plane not reachable yet: %w", tenantstore.ErrUnavailable)

// source is the resolver's Source: the control-plane store. When PostgreSQL
// cannot be reached at start-up the edge starts anyway, answers from Redis
// what it can, and keeps opening the store in the background, so that a
// restart during a database outage does not take the whole edge down.
type source struct {
	store atomic.Pointer[tenantstore.Store]
	stop  context.CancelFunc
	done  chan struct{}
}

// openSource opens the store at url, waiting up to openTimeout; on failure
// it retries in the background with backoff, logging each failure.
func openSource(url string, logger *zap.Logger) *source {
	ctx, stop := context.WithCancel(context.Background())
	s := &source{stop: stop, done: make(chan struct{})}
	if s.tryOpen(ctx, url, logger) {
		close(s.done)
		return s
	}
	go func() {
		defer close(s.done)
		wait := openRetryMin
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			if s.tryOpen(ctx, url, logger) {
				logger.Info("control plane opened", zap.String("database", tenantstore.RedactURL(url)))
				return
			}
			wait = min(2*wait, openRetryMax)
		}
	}()
	return s
}

func (s *source) tryOpen(ctx context.Context, url string, logger *zap.Logger) bool {
	ctx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	st, err := tenantstore.Open(ctx, url)
	if err != nil {
		// tenantstore's errors never contain the password.
		logger.Error("opening the control plane; serving from Redis and memory until it answers",
			zap.String("database", tenantstore.RedactURL(url)), zap.Error(err))
		return false
	}
	s.store.Store(st)
	return true
}

// Get implements resolver.Source.
func (s *source) Get(ctx context.Context, id string) (*tenantstore.Tenant, error) {
	st := s.store.Load()
	if st == nil {
		return nil, errNotOpen
	}
	return st.Get(ctx, id)
}

// GetBySubdomain implements resolver.Source.
func (s *source) GetBySubdomain(ctx context.Context, sub string) (*tenantstore.Tenant, error) {
	st := s.store.Load()
	if st == nil {
		return nil, errNotOpen
	}
	return st.GetBySubdomain(ctx, sub)
}

// GetByHostname implements resolver.Source.
func (s *source) GetByHostname(ctx context.Context, hostname string) (*tenantstore.Tenant, error) {
	st := s.store.Load()
	if st == nil {
		return nil, errNotOpen
	}
	return st.GetByHostname(ctx, hostname)
}

// Close stops the background opening and closes the store.
func (s *source) Close() {
	s.stop()
	<-s.done
	if st := s.store.Load(); st != nil {
		st.Close()
	}
}
