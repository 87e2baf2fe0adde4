package resolver

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/tenantgate/tenantgate/internal/derivedkey"
	"github.com/tenantgate/tenantgate/internal/tenanttoken"
)

// ErrNoEntryKeys is returned by New and NewPublisher when they are given
// Redis but no key to authenticate its entries: without one they would
// write entries that anyone who can write to Redis could forge.
var ErrNoEntryKeys = errors.New("no key to authenticate cache entries")

// MinEntryKeySize is the least length of a Config.MACKeys key and of a
// decoded CACHE_KEY.
const MinEntryKeySize = 32

// EntryKeys returns the keys that authenticate Redis entries (Config.MACKeys)
// for one deployment. cacheKey is CACHE_KEY: when set, a comma-separated
// list of standard base64 keys (padding optional, at least 32 bytes each
// decoded), each passed through derivedkey.Derive; otherwise the keys are
// derived from the X-Tenant-Token signing keys. Either way the first key
// makes MACs and all of them verify, so a key rotation keeps the entries of
// the old key valid while it is still listed. Errors never contain a key.
func EntryKeys(cacheKey string, signing []tenanttoken.Key) ([][]byte, error) {
	if strings.TrimSpace(cacheKey) == "" {
		keys, err := derivedkey.FromSigningKeys(signing, derivedkey.PurposeCacheEntry)
		if err != nil {
			return nil, fmt.Errorf("cache entry keys: %w: set TENANT_SIGNING_KEYS or CACHE_KEY", ErrNoEntryKeys)
		}
		return keys, nil
	}
	var keys [][]byte
	for i, part := range strings.Split(cacheKey, ",") {
		raw, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(strings.TrimSpace(part), "="))
		if err != nil {
			return nil, fmt.Errorf("CACHE_KEY: key %d is not standard base64", i+1)
		}
		if len(raw) < MinEntryKeySize {
			return nil, fmt.Errorf("CACHE_KEY: key %d has %d bytes, want at least %d", i+1, len(raw), MinEntryKeySize)
		}
		k, err := derivedkey.Derive(raw, derivedkey.PurposeCacheEntry)
		if err != nil {
			return nil, fmt.Errorf("CACHE_KEY: %w", err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// macLen is the length of an entry's MAC in its Redis value: HMAC-SHA256,
// base64url without padding.
var macLen = base64.RawURLEncoding.EncodedLen(sha256.Size)

// entryMAC authenticates Redis values. A value is "<MAC>.<payload>", the
// MAC over the Redis key, a NUL and the payload: a value copied under
// another key does not verify there.
type entryMAC struct {
	keys [][]byte // the first makes MACs, all verify
}

// checkKeys reports a missing or short key.
func checkKeys(keys [][]byte) error {
	if len(keys) == 0 {
		return ErrNoEntryKeys
	}
	for i, k := range keys {
		if len(k) < MinEntryKeySize {
			return fmt.Errorf("cache entry key %d has %d bytes, want at least %d", i+1, len(k), MinEntryKeySize)
		}
	}
	return nil
}

func sum(key []byte, redisKey string, payload []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(redisKey))
	h.Write([]byte{0})
	h.Write(payload)
	return h.Sum(nil)
}

// seal returns the Redis value of payload under redisKey.
func (m entryMAC) seal(redisKey string, payload []byte) []byte {
	out := make([]byte, macLen+1+len(payload))
	base64.RawURLEncoding.Encode(out, sum(m.keys[0], redisKey, payload))
	out[macLen] = '.'
	copy(out[macLen+1:], payload)
	return out
}

// open returns the payload of a value read under redisKey, and false when
// the value is malformed or its MAC matches none of the keys.
func (m entryMAC) open(redisKey string, value []byte) ([]byte, bool) {
	if len(value) <= macLen || value[macLen] != '.' {
		return nil, false
	}
	var got [sha256.Size]byte
	if n, err := base64.RawURLEncoding.Decode(got[:], value[:macLen]); err != nil || n != sha256.Size {
		return nil, false
	}
	payload := value[macLen+1:]
	for _, k := range m.keys {
		if hmac.Equal(sum(k, redisKey, payload), got[:]) {
			return payload, true
		}
	}
	return nil, false
}
