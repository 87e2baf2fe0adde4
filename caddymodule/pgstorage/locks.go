package pgstorage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"
)

// ErrNotHeld is returned by Unlock and RenewLockLease for a lock this
// storage does not hold: never taken, already released, or lost because its
// lease expired and another edge took it over.
var ErrNotHeld = errors.New("lock not held by this edge")

// Lock timing defaults (certmagic's contract, SPEC §10).
const (
	// DefaultLockLease is how long a lock outlives its holder's last
	// refresh. A killed edge's lock is free after at most this long.
	DefaultLockLease = 10 * time.Second
	// MaxLockLease keeps a dead holder's lock, plus one poll, within 15 s.
	MaxLockLease = 14 * time.Second
	// DefaultLockPollInterval is how often a blocked Lock tries again.
	DefaultLockPollInterval = time.Second
	// MaxLockPollInterval is the longest poll certmagic's contract allows.
	MaxLockPollInterval = time.Second
)

// refreshEvery is how often the holder extends its leases: a third of the
// lease, so two refreshes may fail before a lock is lost (≤ 5 s at the
// maximum lease).
func (b *backend) refreshEvery() time.Duration { return b.lease / 3 }

// tryLock takes the lock row for name in one statement: inserted when
// absent, taken over when its lease has expired, left alone otherwise. The
// database's clock decides expiry, so edges with skewed clocks agree.
func (b *backend) tryLock(ctx context.Context, name string) (bool, error) {
	if err := b.ensureSchema(ctx); err != nil {
		return false, fmt.Errorf("locking %q: %w", name, err)
	}
	token := randomHex(12)
	var tookOver bool
	err := b.pool.QueryRow(ctx, `
		INSERT INTO cert_storage_locks (name, owner, token, acquired_at, expires_at)
		VALUES ($1, $2, $3, now(), now() + make_interval(secs => $4))
		ON CONFLICT (name) DO UPDATE
		SET owner = EXCLUDED.owner, token = EXCLUDED.token,
		    acquired_at = EXCLUDED.acquired_at, expires_at = EXCLUDED.expires_at
		WHERE cert_storage_locks.expires_at < now()
		RETURNING xmax <> 0`,
		name, b.owner, token, b.lease.Seconds()).Scan(&tookOver)
	if err != nil {
		if isNoRows(err) {
			return false, nil
		}
		return false, fmt.Errorf("locking %q: %w", name, err)
	}
	b.mu.Lock()
	b.held[name] = token
	b.mu.Unlock()
	if tookOver {
		b.logger.Info("took over an expired certificate storage lock", zap.String("lock", name))
	}
	return true, nil
}

// lock blocks until it holds name, trying every poll interval, or until ctx
// is done.
func (b *backend) lock(ctx context.Context, name string) error {
	var timer *time.Timer
	for {
		ok, err := b.tryLock(ctx, name)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("locking %q: %w", name, ctx.Err())
			}
			return err
		}
		if ok {
			return nil
		}
		if timer == nil {
			timer = time.NewTimer(b.poll)
			defer timer.Stop()
		} else {
			timer.Reset(b.poll)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("locking %q: %w", name, ctx.Err())
		case <-timer.C:
		}
	}
}

// unlock releases name if this process holds it, and only the acquisition
// it holds: the row is deleted by owner and token, so a lock that expired
// and was taken over by another edge is left to its new holder.
func (b *backend) unlock(ctx context.Context, name string) error {
	b.mu.Lock()
	token, ok := b.held[name]
	delete(b.held, name)
	b.mu.Unlock()
	if !ok {
		return fmt.Errorf("unlocking %q: %w", name, ErrNotHeld)
	}
	tag, err := b.pool.Exec(ctx, `DELETE FROM cert_storage_locks WHERE name = $1 AND owner = $2 AND token = $3`, name, b.owner, token)
	if err != nil {
		// Not put back: nobody would release it; its lease expires instead.
		return fmt.Errorf("unlocking %q: %w", name, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("unlocking %q: lease expired before unlock: %w", name, ErrNotHeld)
	}
	return nil
}

// renewLease extends the lease of a lock this process holds. The lease is
// always b.lease, whatever certmagic asks for: the holder already refreshes
// it while alive, and a longer lease would only make a dead edge's lock
// outlive the 15 s takeover promise.
func (b *backend) renewLease(ctx context.Context, name string) error {
	b.mu.Lock()
	token, ok := b.held[name]
	b.mu.Unlock()
	if !ok {
		return fmt.Errorf("renewing lock %q: %w", name, ErrNotHeld)
	}
	tag, err := b.pool.Exec(ctx, `
		UPDATE cert_storage_locks SET expires_at = now() + make_interval(secs => $4)
		WHERE name = $1 AND owner = $2 AND token = $3`, name, b.owner, token, b.lease.Seconds())
	if err != nil {
		return fmt.Errorf("renewing lock %q: %w", name, err)
	}
	if tag.RowsAffected() == 0 {
		b.forget(name, token)
		return fmt.Errorf("renewing lock %q: %w", name, ErrNotHeld)
	}
	return nil
}

// renewLoop refreshes every lock this process holds, in one statement, every
// refreshEvery until the backend is destroyed.
func (b *backend) renewLoop() {
	defer close(b.done)
	t := time.NewTicker(b.refreshEvery())
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.refreshAll()
		}
	}
}

func (b *backend) refreshAll() {
	b.mu.Lock()
	tokens := make([]string, 0, len(b.held))
	names := make(map[string]string, len(b.held))
	for name, tok := range b.held {
		tokens = append(tokens, tok)
		names[tok] = name
	}
	b.mu.Unlock()
	if len(tokens) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.refreshEvery())
	defer cancel()
	rows, err := b.pool.Query(ctx, `
		UPDATE cert_storage_locks SET expires_at = now() + make_interval(secs => $3)
		WHERE owner = $1 AND token = ANY($2)
		RETURNING token`, b.owner, tokens, b.lease.Seconds())
	if err != nil {
		b.logger.Warn("refreshing certificate storage locks", zap.Int("locks", len(tokens)), zap.Error(err))
		return
	}
	defer rows.Close()
	for rows.Next() {
		var tok string
		if rows.Scan(&tok) == nil {
			delete(names, tok)
		}
	}
	if rows.Err() != nil {
		b.logger.Warn("refreshing certificate storage locks", zap.Int("locks", len(tokens)), zap.Error(rows.Err()))
		return
	}
	// What is left was not refreshed: its lease expired and it was taken
	// over, or it was released meanwhile. Forget only the former.
	for tok, name := range names {
		if b.forget(name, tok) {
			b.logger.Error("lost a certificate storage lock: its lease expired before it could be refreshed", zap.String("lock", name))
		}
	}
}

// forget removes name from the held locks if it is still held with token.
func (b *backend) forget(name, token string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.held[name] == token {
		delete(b.held, name)
		return true
	}
	return false
}

func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
