package tenantops

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tenantgate/tenantgate/internal/derivedkey"
	"github.com/tenantgate/tenantgate/internal/tenanttoken"
)

// ErrNoManifestKey means Backup or Restore was called without
// Config.ManifestKeys: a backup could not be signed, or not be checked.
var ErrNoManifestKey = errors.New("no key for backup manifests: set TENANT_SIGNING_KEYS (the deployment's signing keys) or BACKUP_KEY")

// minBackupKeyBytes is the shortest BACKUP_KEY secret, as for signing keys.
const minBackupKeyBytes = 32

// ManifestKeys returns the keys that sign and verify backup manifests
// (Config.ManifestKeys), derived for that purpose only: from each key of
// backupKey when it is set (BACKUP_KEY: standard base64, padding optional,
// at least 32 bytes decoded, several comma-separated for rotation), and
// otherwise from each signing key (TENANT_SIGNING_KEYS). In both cases the
// first key signs and every key verifies, so a backup signed before a
// rotation restores while its key is still listed. With neither it returns
// ErrNoManifestKey. Errors never contain a key.
func ManifestKeys(signingKeys []tenanttoken.Key, backupKey string) ([][]byte, error) {
	if strings.TrimSpace(backupKey) == "" {
		if len(signingKeys) == 0 {
			return nil, ErrNoManifestKey
		}
		return derivedkey.FromSigningKeys(signingKeys, derivedkey.PurposeBackupManifest)
	}
	var keys [][]byte
	for i, part := range strings.Split(backupKey, ",") {
		secret, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(strings.TrimSpace(part), "="))
		if err != nil {
			// The base64 error names an offset only, never the input.
			return nil, fmt.Errorf("BACKUP_KEY key %d: not standard base64: %w", i+1, err)
		}
		if len(secret) < minBackupKeyBytes {
			return nil, fmt.Errorf("BACKUP_KEY key %d: %d bytes, want at least %d", i+1, len(secret), minBackupKeyBytes)
		}
		k, err := derivedkey.Derive(secret, derivedkey.PurposeBackupManifest)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// manifestMAC is the HMAC-SHA256 of m with key, hex-encoded. It covers
// every field but MAC itself, in the manifest's JSON encoding (struct fields
// in order, map keys sorted), and so the dump's size and SHA-256 too: a
// dump is authenticated through its manifest.
func manifestMAC(key []byte, m Manifest) (string, error) {
	m.MAC = ""
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encoding the manifest: %w", err)
	}
	h := hmac.New(sha256.New, key)
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// signManifest sets m.MAC with the current (first) key.
func signManifest(keys [][]byte, m *Manifest) error {
	if len(keys) == 0 {
		return ErrNoManifestKey
	}
	mac, err := manifestMAC(keys[0], *m)
	if err != nil {
		return err
	}
	m.MAC = mac
	return nil
}

// manifestSigned reports whether m.MAC verifies with any of keys.
func manifestSigned(keys [][]byte, m Manifest) bool {
	got, err := hex.DecodeString(m.MAC)
	if err != nil {
		return false
	}
	for _, k := range keys {
		want, err := manifestMAC(k, m)
		if err != nil {
			return false
		}
		w, _ := hex.DecodeString(want)
		if hmac.Equal(got, w) {
			return true
		}
	}
	return false
}
