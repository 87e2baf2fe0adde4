package pgstorage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"expvar"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// ops counts storage operations by name for the whole process. Caddy's
// admin endpoint serves it at /debug/vars as "tenantgate_cert_storage"; the
// end-to-end test reads it to show that a warm edge's requests cost none.
var ops = expvar.NewMap("tenantgate_cert_storage")

// schemaTimeout bounds the first attempt, at provisioning, to create the
// database and tables; later operations retry.
const schemaTimeout = 10 * time.Second

// settings are what make two backends interchangeable: the usage pool key.
type settings struct {
	databaseURL string
	keys        *keyring
	lease       time.Duration
	poll        time.Duration
}

func (s settings) poolKey() string {
	k := fmt.Sprintf("pgstorage|%s|%s|%s", s.databaseURL, s.lease, s.poll)
	if s.keys != nil {
		for _, id := range s.keys.ids {
			k += "|" + id
		}
	}
	return k
}

// backend is the shared state behind one or more Storage module instances
// with the same settings: the connection pool, the keyring, and the locks
// this process holds. It lives in a caddy.UsagePool, so a config reload
// keeps the locks held across it.
type backend struct {
	settings
	pool   *pgxpool.Pool
	owner  string // this process's identity in cert_storage_locks
	logger *zap.Logger

	schemaMu    sync.Mutex
	schemaReady atomic.Bool

	mu        sync.Mutex
	held      map[string]string      // lock name → token of the acquisition this process holds
	pkiGuards map[string]*time.Timer // lock name → auto-release of a guard nobody completed

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// newBackend connects (lazily: the pool dials on first use) and starts the
// lease renewer. It tries once to create the tables; when PostgreSQL does not
// answer yet, every operation retries until it does, so an edge starts even
// while the database is away.
func newBackend(ctx context.Context, s settings, logger *zap.Logger) (*backend, error) {
	cfg, err := pgxpool.ParseConfig(s.databaseURL)
	if err != nil {
		return nil, fmt.Errorf("parsing database_url (%s): %w", tenantstore.RedactURL(s.databaseURL), err)
	}
	pool, err := pgxpool.NewWithConfig(context.WithoutCancel(ctx), cfg)
	if err != nil {
		return nil, fmt.Errorf("creating pool: %w", err)
	}
	host, _ := os.Hostname()
	b := &backend{
		settings:  s,
		pool:      pool,
		owner:     fmt.Sprintf("%s/%d/%s", host, os.Getpid(), randomHex(6)),
		logger:    logger,
		held:      make(map[string]string),
		pkiGuards: make(map[string]*time.Timer),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	sctx, cancel := context.WithTimeout(ctx, schemaTimeout)
	defer cancel()
	if err := b.ensureSchema(sctx); err != nil {
		logger.Error("certificate storage not ready yet; retrying on use", zap.Error(err))
	}
	go b.renewLoop()
	return b, nil
}

// ensureSchema creates the control-plane database and applies its
// migrations (cert_storage and cert_storage_locks come from
// migrations/control/00004_cert_storage.sql) the first time it succeeds.
func (b *backend) ensureSchema(ctx context.Context) error {
	if b.schemaReady.Load() {
		return nil
	}
	b.schemaMu.Lock()
	defer b.schemaMu.Unlock()
	if b.schemaReady.Load() {
		return nil
	}
	st, err := tenantstore.Open(ctx, b.databaseURL)
	if err != nil {
		return fmt.Errorf("preparing certificate storage tables: %w", err)
	}
	st.Close()
	b.schemaReady.Store(true)
	return nil
}

// Destruct implements caddy.Destructor: the last Storage using this backend
// is gone. Locks still held are released (a clean stop must not make the
// other edges wait out a lease), then the pool is closed. It is idempotent.
func (b *backend) Destruct() error {
	b.closeOnce.Do(func() {
		close(b.stop)
		<-b.done
		b.mu.Lock()
		tokens := make([]string, 0, len(b.held))
		for name, tok := range b.held {
			tokens = append(tokens, tok)
			delete(b.held, name)
		}
		for name, t := range b.pkiGuards {
			t.Stop()
			delete(b.pkiGuards, name)
		}
		b.mu.Unlock()
		if len(tokens) > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := b.pool.Exec(ctx, `DELETE FROM cert_storage_locks WHERE owner = $1 AND token = ANY($2)`, b.owner, tokens)
			cancel()
			if err != nil {
				b.logger.Warn("releasing locks at shutdown; they expire after their lease", zap.Int("locks", len(tokens)), zap.Error(err))
			}
		}
		b.pool.Close()
	})
	return nil
}

func randomHex(n int) string {
	buf := make([]byte, n)
	_, _ = rand.Read(buf)
	return hex.EncodeToString(buf)
}

// errClosed is returned by operations on a backend after Destruct.
var errClosed = errors.New("certificate storage is closed")
