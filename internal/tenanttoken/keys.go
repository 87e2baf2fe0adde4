// Package tenanttoken signs and verifies X-Tenant-Token, the one private
// contract between the edge (caddy) and the application servers (SPEC §6).
//
// A token is a compact JWT signed HS256 with the current key of
// TENANT_SIGNING_KEYS, its key id in the "kid" header. It names the tenant
// ("sub" = tenant id, "tenant" = subdomain) and the request host it was issued
// for ("host"), and lives Lifetime from "iat". It carries no secret and grants
// nothing beyond naming the tenant: any upstream can check it with a JWT
// library and the shared key.
//
// The verifier pins the algorithm to HS256 (so "none", RS256 with a public key
// passed off as an HMAC secret, and HS512 are all refused), selects the key by
// "kid" (an unknown kid is invalid), and checks issuer, audience, expiry and
// issue time with MaxSkew of clock skew either way, and the host binding.
package tenanttoken

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// MinKeyBytes is the shortest signing secret ParseKeys accepts: HS256 wants
// at least as many bytes of key as the hash has.
const MinKeyBytes = 32

// maxKeyIDLength bounds a key id, which travels in every token header.
const maxKeyIDLength = 64

// Key is one signing key: the id put in the token's "kid" header and the
// HMAC secret. Its String and GoString never show the secret.
type Key struct {
	ID     string
	Secret []byte
}

// String names the key without its secret, so a key printed by mistake does
// not leak.
func (k Key) String() string { return "tenanttoken.Key{ID:" + k.ID + " Secret:[redacted]}" }

// GoString is String, for %#v.
func (k Key) GoString() string { return k.String() }

// ParseKeys parses TENANT_SIGNING_KEYS: "kid:base64[,kid:base64…]", standard
// base64 with optional padding, each secret at least MinKeyBytes long once
// decoded, key ids unique and made of letters, digits, '.', '_' and '-'.
// The first key signs; all of them verify (rotation). Errors never contain
// the secret.
func ParseKeys(s string) ([]Key, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("parsing signing keys: no key given (want kid:base64[,kid:base64…])")
	}
	var keys []Key
	seen := make(map[string]bool)
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		id, enc, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("parsing signing key %d: want kid:base64", i+1)
		}
		id, enc = strings.TrimSpace(id), strings.TrimSpace(enc)
		if !validKeyID(id) {
			return nil, fmt.Errorf("parsing signing key %d: key id must be 1–%d characters of A-Z a-z 0-9 . _ -", i+1, maxKeyIDLength)
		}
		if seen[id] {
			return nil, fmt.Errorf("parsing signing key %q: duplicate key id", id)
		}
		seen[id] = true
		secret, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(enc, "="))
		if err != nil {
			// The base64 error names an offset only, never the input.
			return nil, fmt.Errorf("parsing signing key %q: secret is not standard base64: %w", id, err)
		}
		if len(secret) < MinKeyBytes {
			return nil, fmt.Errorf("parsing signing key %q: secret is %d bytes, want at least %d", id, len(secret), MinKeyBytes)
		}
		keys = append(keys, Key{ID: id, Secret: secret})
	}
	return keys, nil
}

// FormatKeys is the inverse of ParseKeys: it renders keys in the
// TENANT_SIGNING_KEYS form (used to generate a development environment).
func FormatKeys(keys []Key) string {
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k.ID)
		b.WriteByte(':')
		b.WriteString(base64.StdEncoding.EncodeToString(k.Secret))
	}
	return b.String()
}

func validKeyID(id string) bool {
	if id == "" || len(id) > maxKeyIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// checkKeys validates keys handed to NewSigner or NewVerifier directly.
func checkKeys(keys []Key) error {
	if len(keys) == 0 {
		return errors.New("no signing key")
	}
	seen := make(map[string]bool, len(keys))
	for i, k := range keys {
		if !validKeyID(k.ID) {
			return fmt.Errorf("key %d: invalid key id", i+1)
		}
		if seen[k.ID] {
			return fmt.Errorf("key %q: duplicate key id", k.ID)
		}
		seen[k.ID] = true
		if len(k.Secret) < MinKeyBytes {
			return fmt.Errorf("key %q: secret is %d bytes, want at least %d", k.ID, len(k.Secret), MinKeyBytes)
		}
	}
	return nil
}
