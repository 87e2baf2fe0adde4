// Package derivedkey derives purpose-bound keys from the deployment's
// configured secrets (the X-Tenant-Token signing keys), so that one secret
// the operator already manages serves several MACs without the same key
// being used for two purposes. It imports only the standard library and
// internal/tenanttoken; the resolver (cache entry MACs) and tenantops
// (backup manifest MACs) use it.
package derivedkey

import (
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"

	"github.com/tenantgate/tenantgate/internal/tenanttoken"
)

// Purposes name what a derived key is for; a key derived for one purpose is
// useless for another.
const (
	// PurposeCacheEntry authenticates tenant entries in the shared Redis cache.
	PurposeCacheEntry = "tenantgate cache entry v1"
	// PurposeBackupManifest authenticates backup manifests.
	PurposeBackupManifest = "tenantgate backup manifest v1"
)

// Size is the length of a derived key in bytes.
const Size = 32

// Derive returns the Size-byte key for purpose derived from secret with
// HKDF-SHA256.
func Derive(secret []byte, purpose string) ([]byte, error) {
	if len(secret) == 0 {
		return nil, fmt.Errorf("deriving a key for %q: empty secret", purpose)
	}
	k, err := hkdf.Key(sha256.New, secret, nil, purpose, Size)
	if err != nil {
		return nil, fmt.Errorf("deriving a key for %q: %w", purpose, err)
	}
	return k, nil
}

// FromSigningKeys derives one key for purpose from each signing key, in the
// same order: the first is the current key (to make MACs with), all of them
// verify, so rotating TENANT_SIGNING_KEYS keeps old MACs valid while the old
// key is still listed.
func FromSigningKeys(keys []tenanttoken.Key, purpose string) ([][]byte, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("deriving keys for %q: no signing keys", purpose)
	}
	out := make([][]byte, 0, len(keys))
	for _, k := range keys {
		d, err := Derive(k.Secret, purpose)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}
