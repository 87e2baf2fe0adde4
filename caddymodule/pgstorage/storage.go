// Package pgstorage is caddy.storage.postgres: Caddy's certificate storage
// (certmagic Storage, TryLocker and LockLeaseRenewer) in the control-plane
// PostgreSQL database, so that several edges share certificates, the ACME
// account, the internal CA, OCSP staples and the locks that make a name be
// ordered once by one edge (SPEC §10).
//
// Values live in cert_storage, locks in cert_storage_locks (control
// migration 00004). A lock is a row taken atomically, kept alive by its
// holder, taken over once its lease expires; no advisory lock is used, so
// nothing depends on which pooled connection ran a statement. With an
// encryption key, values are sealed with AES-256-GCM and each row names its
// key.
package pgstorage

import (
	"context"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(Storage{})
}

// Defaults of the Storage fields.
const (
	// DefaultDatabaseURL is used when DatabaseURL is empty; the fallback
	// applies when it expands to nothing.
	DefaultDatabaseURL  = "{env.DATABASE_URL}"
	FallbackDatabaseURL = "postgres://postgres@127.0.0.1:5432/tenantgate?sslmode=disable"
)

// backends shares one backend (connections, held locks, lease renewer) among
// the Storage instances of successive configs with the same settings.
var backends = caddy.NewUsagePool()

// Storage is the caddy.storage.postgres module. It is also the
// certmagic.Storage it hands to Caddy.
type Storage struct {
	// DatabaseURL is the PostgreSQL database holding the storage tables,
	// normally the control plane every edge already shares. The database
	// and tables are created when missing. Placeholders are expanded.
	// Default: {env.DATABASE_URL}, else
	// postgres://postgres@127.0.0.1:5432/tenantgate?sslmode=disable.
	DatabaseURL string `json:"database_url,omitempty"`

	// EncryptionKey seals every stored value with AES-256-GCM:
	// base64 of 32 bytes, or "new,old[,…]" while rotating (the first
	// encrypts, all decrypt; each row records the id of its key). Rows
	// written in the clear stay readable. Placeholders are expanded, so
	// {env.CERT_STORAGE_KEY} keeps the key out of the JSON config. Default:
	// none: values (private keys included) are stored in the clear, and
	// a warning is logged at start.
	EncryptionKey string `json:"encryption_key,omitempty"`

	// LockLease is how long a lock survives its holder's last refresh; the
	// holder refreshes every third of it. A killed edge's locks are taken
	// over after at most this long. Default: 10s; at most 14s.
	LockLease caddy.Duration `json:"lock_lease,omitempty"`

	// LockPollInterval is how often a blocked Lock tries again. Default and
	// maximum: 1s.
	LockPollInterval caddy.Duration `json:"lock_poll_interval,omitempty"`

	b       *backend
	poolKey string
	logger  *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (Storage) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "caddy.storage.postgres",
		New: func() caddy.Module { return new(Storage) },
	}
}

// Provision expands placeholders, parses the keys and gets the shared
// backend for these settings.
func (s *Storage) Provision(ctx caddy.Context) error {
	s.logger = ctx.Logger()
	repl := caddy.NewReplacer()
	url := s.DatabaseURL
	if url == "" {
		url = DefaultDatabaseURL
	}
	url = repl.ReplaceAll(url, "")
	if url == "" {
		url = FallbackDatabaseURL
	}
	keys, err := parseKeys(repl.ReplaceAll(s.EncryptionKey, ""))
	if err != nil {
		return fmt.Errorf("caddy.storage.postgres: %w", err)
	}
	if keys == nil {
		s.logger.Warn("certificate storage is not encrypted: private keys are stored in the clear in PostgreSQL; set encryption_key (e.g. {env.CERT_STORAGE_KEY}, base64 of 32 random bytes)")
	}
	set := settings{databaseURL: url, keys: keys, lease: DefaultLockLease, poll: DefaultLockPollInterval}
	if s.LockLease > 0 {
		set.lease = time.Duration(s.LockLease)
	}
	if s.LockPollInterval > 0 {
		set.poll = time.Duration(s.LockPollInterval)
	}
	if err := validateTiming(set.lease, set.poll); err != nil {
		return err
	}
	s.poolKey = set.poolKey()
	val, loaded, err := backends.LoadOrNew(s.poolKey, func() (caddy.Destructor, error) {
		return newBackend(ctx, set, s.logger)
	})
	if err != nil {
		return fmt.Errorf("caddy.storage.postgres: %w", err)
	}
	s.b = val.(*backend)
	s.logger.Info("certificate storage ready", zap.String("owner", s.b.owner), zap.Bool("reused", loaded), zap.Bool("encrypted", keys != nil))
	return nil
}

// Validate checks the lock timing against certmagic's contract.
func (s *Storage) Validate() error {
	lease, poll := time.Duration(s.LockLease), time.Duration(s.LockPollInterval)
	if lease == 0 {
		lease = DefaultLockLease
	}
	if poll == 0 {
		poll = DefaultLockPollInterval
	}
	return validateTiming(lease, poll)
}

func validateTiming(lease, poll time.Duration) error {
	if lease < 300*time.Millisecond || lease > MaxLockLease {
		return fmt.Errorf("caddy.storage.postgres: lock_lease %s: must be between 300ms and %s", lease, MaxLockLease)
	}
	if poll <= 0 || poll > MaxLockPollInterval {
		return fmt.Errorf("caddy.storage.postgres: lock_poll_interval %s: must be positive and at most %s", poll, MaxLockPollInterval)
	}
	return nil
}

// Cleanup releases this instance's hold on the shared backend; the last
// one closes it.
func (s *Storage) Cleanup() error {
	if s.poolKey == "" {
		return nil
	}
	_, err := backends.Delete(s.poolKey)
	s.poolKey = ""
	return err
}

// CertMagicStorage returns the storage itself: it implements
// certmagic.Storage.
func (s *Storage) CertMagicStorage() (certmagic.Storage, error) { return s, nil }

// Store puts value at key, overwriting what was there.
func (s *Storage) Store(ctx context.Context, key string, value []byte) error {
	return s.b.store(ctx, key, value)
}

// Load returns the value at key, or an error wrapping fs.ErrNotExist.
func (s *Storage) Load(ctx context.Context, key string) ([]byte, error) {
	return s.b.loadGuarded(ctx, key)
}

// Delete removes key and, when it is a directory, every key under it. A
// missing key is not an error.
func (s *Storage) Delete(ctx context.Context, key string) error { return s.b.delete(ctx, key) }

// Exists reports whether key is a key or a directory of keys.
func (s *Storage) Exists(ctx context.Context, key string) bool { return s.b.exists(ctx, key) }

// List returns the keys under dir: every key and directory below it when
// recursive, its direct children otherwise. A dir with nothing under it is
// an error wrapping fs.ErrNotExist.
func (s *Storage) List(ctx context.Context, dir string, recursive bool) ([]string, error) {
	return s.b.list(ctx, dir, recursive)
}

// Stat describes key, a key or a directory (IsTerminal false).
func (s *Storage) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	return s.b.stat(ctx, key)
}

// Lock blocks until this edge holds the lock name, polling every
// LockPollInterval, or until ctx is done.
func (s *Storage) Lock(ctx context.Context, name string) error {
	ops.Add("lock", 1)
	return s.b.lock(ctx, name)
}

// TryLock takes the lock name if it is free or its lease has expired, and
// reports whether it did; it does not wait.
func (s *Storage) TryLock(ctx context.Context, name string) (bool, error) {
	ops.Add("trylock", 1)
	return s.b.tryLock(ctx, name)
}

// Unlock releases the lock name held by this edge. It fails, and leaves the
// lock alone, when this edge does not hold it (ErrNotHeld).
func (s *Storage) Unlock(ctx context.Context, name string) error {
	ops.Add("unlock", 1)
	return s.b.unlock(ctx, name)
}

// RenewLockLease confirms that this edge still holds lockKey and refreshes
// its lease. The lease is LockLease whatever leaseDuration asks for: the
// holder refreshes it anyway while alive, and a longer lease would keep a
// dead edge's lock beyond the takeover promise.
func (s *Storage) RenewLockLease(ctx context.Context, lockKey string, _ time.Duration) error {
	ops.Add("renew", 1)
	return s.b.renewLease(ctx, lockKey)
}

// String identifies the storage in certmagic's logs, without secrets.
func (s *Storage) String() string {
	if s.b == nil {
		return "caddy.storage.postgres"
	}
	return "caddy.storage.postgres(" + s.b.owner + ")"
}

// Interface guards.
var (
	_ caddy.Module               = (*Storage)(nil)
	_ caddy.Provisioner          = (*Storage)(nil)
	_ caddy.Validator            = (*Storage)(nil)
	_ caddy.CleanerUpper         = (*Storage)(nil)
	_ caddy.StorageConverter     = (*Storage)(nil)
	_ certmagic.Storage          = (*Storage)(nil)
	_ certmagic.TryLocker        = (*Storage)(nil)
	_ certmagic.LockLeaseRenewer = (*Storage)(nil)
	_ caddy.Destructor           = (*backend)(nil)
)
