package resolver

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/internal/testenv"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// badEntries records the keys OnBadEntry reports.
type badEntries struct {
	mu   sync.Mutex
	keys []string
}

func (b *badEntries) report(key string) {
	b.mu.Lock()
	b.keys = append(b.keys, key)
	b.mu.Unlock()
}

func (b *badEntries) has(key string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, k := range b.keys {
		if k == key {
			return true
		}
	}
	return false
}

// TestForgedEntriesAreMisses: an entry copied under another key, one with a
// bad MAC, an unauthenticated "not found" and an entry without MAC are
// each a miss answered by the source, reported through OnBadEntry and
// counted, and the source's answer replaces the bad entry (SPEC §9).
func TestForgedEntriesAreMisses(t *testing.T) {
	testenv.Integration(t)
	ctx := context.Background()
	store := newStore(t, "")
	cfg := testConfig(t)
	rdb := newRedisClient(t, testenv.RedisURL())
	acme := insertTenant(t, store, "acme")
	globex := insertTenant(t, store, "globex")
	initech := insertTenant(t, store, "initech")
	hooli := insertTenant(t, store, "hooli")
	writer := startResolver(t, cfg, store, rdb)
	for _, sub := range []string{"acme", "nobody"} {
		_, _ = writer.ResolveHost(ctx, sub+".example.com")
	}
	acmeKey := cfg.redisKey(kindHost, "acme.example.com")
	acmeVal := waitRedis(t, acmeKey)
	negVal := waitRedis(t, cfg.redisKey(kindHost, "nobody.example.com"))

	tampered := []byte(acmeVal)
	tampered[3] ^= 1 // inside the MAC
	unsigned, _ := encodeTenant(acme, time.Now().Add(time.Minute))
	forged := map[string]string{
		cfg.redisKey(kindHost, "evil.example.com"):    acmeVal,          // copied under another host
		cfg.redisKey(kindHost, "shop.evil.test"):      acmeVal,          // copied under a custom domain
		cfg.redisKey(kindHost, "globex.example.com"):  negVal,           // "not found" planted on a tenant
		cfg.redisKey(kindID, hooli.ID):                string(tampered), // bad MAC
		cfg.redisKey(kindHost, "initech.example.com"): string(unsigned), // no MAC at all
	}
	for k, v := range forged {
		if err := rdb.Set(ctx, k, v, time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	}

	var bad badEntries
	rcfg := cfg
	rcfg.OnBadEntry = bad.report
	reader := startResolver(t, rcfg, store, newRedisClient(t, testenv.RedisURL()))
	tests := []struct {
		name string
		kind kind
		key  string
		want *tenantstore.Tenant // nil: not found
	}{
		{"acme's entry under evil", kindHost, "evil.example.com", nil},
		{"acme's entry under a custom domain", kindHost, "shop.evil.test", nil},
		{"planted not found", kindHost, "globex.example.com", globex},
		{"bad MAC", kindID, hooli.ID, hooli},
		{"no MAC", kindHost, "initech.example.com", initech},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *tenantstore.Tenant
			var err error
			if tt.kind == kindID {
				got, err = reader.ResolveID(ctx, tt.key)
			} else {
				got, err = reader.ResolveHost(ctx, tt.key)
			}
			switch {
			case tt.want == nil && !errors.Is(err, tenantstore.ErrNotFound):
				t.Errorf("Resolve(%s) = %+v, %v; want not found", tt.key, got, err)
			case tt.want != nil && (err != nil || got.ID != tt.want.ID):
				t.Errorf("Resolve(%s) = %+v, %v; want tenant %s", tt.key, got, err, tt.want.Subdomain)
			}
			rk := cfg.redisKey(tt.kind, tt.key)
			if !bad.has(rk) {
				t.Errorf("OnBadEntry was not called with %s", rk)
			}
			// The source's answer replaced the forgery.
			if v, _ := rdb.Get(ctx, rk).Result(); v == forged[rk] {
				t.Errorf("Redis %s still holds the forged entry", rk)
			}
		})
	}
	if got := reader.Stats().BadEntries; got != uint64(len(tests)) {
		t.Errorf("Stats().BadEntries = %d, want %d", got, len(tests))
	}
	// An authentic entry is not reported.
	if _, err := reader.ResolveHost(ctx, "acme.example.com"); err != nil || bad.has(acmeKey) {
		t.Errorf("ResolveHost(acme) = %v, reported bad %v; want the authentic entry believed", err, bad.has(acmeKey))
	}
}

// TestEntriesSurviveKeyRotation: entries and tombstones MACed with the old
// key verify while it is still listed after the new one, and stop
// verifying once it is dropped.
func TestEntriesSurviveKeyRotation(t *testing.T) {
	testenv.Integration(t)
	ctx := context.Background()
	store := newStore(t, "")
	oldKey, newKey := bytes.Repeat([]byte{0x11}, 32), bytes.Repeat([]byte{0x22}, 32)
	before := testConfig(t)
	before.MACKeys = [][]byte{oldKey}
	during, after := before, before
	during.MACKeys = [][]byte{newKey, oldKey}
	after.MACKeys = [][]byte{newKey}
	acme := insertTenant(t, store, "acme")

	writer := startResolver(t, before, store, newRedisClient(t, testenv.RedisURL()))
	if _, err := writer.ResolveHost(ctx, "acme.example.com"); err != nil {
		t.Fatal(err)
	}
	waitRedis(t, before.redisKey(kindHost, "acme.example.com"))

	for _, tt := range []struct {
		name    string
		cfg     Config
		wantBad bool
	}{
		{"old key still listed", during, false},
		{"old key dropped", after, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var bad badEntries
			cfg := tt.cfg
			cfg.OnBadEntry = bad.report
			counting := newCountingSource(store)
			r, err := New(cfg, counting, newRedisClient(t, testenv.RedisURL()))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = r.Close() })
			got, err := r.ResolveHost(ctx, "acme.example.com")
			if err != nil || got.ID != acme.ID {
				t.Fatalf("ResolveHost(acme) = %+v, %v", got, err)
			}
			if fromSource := counting.total.Load() > 0; fromSource != tt.wantBad || (len(bad.keys) > 0) != tt.wantBad {
				t.Errorf("ResolveHost(acme): source asked %v, reported bad %v; want both %v", fromSource, bad.keys, tt.wantBad)
			}
		})
	}

	// A publisher with the new key writes tombstones that resolvers still
	// on the old key list (new key added) accept.
	rdb := newRedisClient(t, testenv.RedisURL())
	if err := mustPublisher(t, rdb, during).Notify(ctx, tenantstore.Change{TenantID: acme.ID, Subdomains: []string{"acme"}}); err != nil {
		t.Fatal(err)
	}
	key := during.redisKey(kindID, acme.ID)
	if v, _ := rdb.Get(ctx, key).Result(); !isTombstone(during, key, v) {
		t.Errorf("Redis %s = %q after Notify, want a tombstone that verifies with the listed keys", key, v)
	}
}

func TestNewRequiresEntryKeysWithRedis(t *testing.T) {
	rdb := newRedisClient(t, "redis://127.0.0.1:1/0") // never dialled
	for _, keys := range [][][]byte{nil, {[]byte("short")}} {
		if _, err := New(Config{MACKeys: keys}, newFakeSource(), rdb); err == nil {
			t.Errorf("New(MACKeys %q, with Redis) = nil error, want a refusal", keys)
		}
		if _, err := NewPublisher(rdb, Config{MACKeys: keys}); err == nil {
			t.Errorf("NewPublisher(MACKeys %q) = nil error, want a refusal", keys)
		}
	}
	if _, err := New(Config{}, newFakeSource(), rdb); !errors.Is(err, ErrNoEntryKeys) {
		t.Errorf("New(no keys, with Redis) error = %v, want ErrNoEntryKeys", err)
	}
	r, err := New(Config{}, newFakeSource(), nil)
	if err != nil {
		t.Fatalf("New(no keys, no Redis) = %v, want a memory-only resolver", err)
	}
	_ = r.Close()
}

// waitRedis waits until key exists and returns its value.
func waitRedis(t testing.TB, key string) string {
	t.Helper()
	rdb := testenv.Redis(t)
	var v string
	waitFor(t, 5*time.Second, "Redis key "+key, func() bool {
		var err error
		v, err = rdb.Get(context.Background(), key).Result()
		return err == nil
	})
	return v
}
