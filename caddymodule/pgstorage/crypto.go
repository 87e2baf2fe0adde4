package pgstorage

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// keyIDLen is the length of a key id: hex of the first 8 bytes of the key's
// SHA-256, which names a key without revealing it.
const keyIDLen = 16

// keyring encrypts values with its first key and decrypts with any of them.
// A nil keyring stores values in the clear.
type keyring struct {
	ids   []string
	aeads map[string]cipher.AEAD
}

// parseKeys parses "base64key[,base64key…]": standard (or URL-safe) base64
// of exactly 32 bytes each, for AES-256-GCM. The first key encrypts; all
// decrypt, so a new key is rolled out as "new,old". An empty string yields a
// nil keyring.
func parseKeys(s string) (*keyring, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	kr := &keyring{aeads: make(map[string]cipher.AEAD)}
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		raw, err := decodeBase64(part)
		if err != nil {
			return nil, fmt.Errorf("encryption key %d: not base64", i+1)
		}
		if len(raw) != 32 {
			return nil, fmt.Errorf("encryption key %d: %d bytes, want 32 (AES-256)", i+1, len(raw))
		}
		block, err := aes.NewCipher(raw)
		if err != nil {
			return nil, fmt.Errorf("encryption key %d: %w", i+1, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("encryption key %d: %w", i+1, err)
		}
		sum := sha256.Sum256(raw)
		id := hex.EncodeToString(sum[:keyIDLen/2])
		if _, dup := kr.aeads[id]; dup {
			continue
		}
		kr.ids = append(kr.ids, id)
		kr.aeads[id] = aead
	}
	return kr, nil
}

func decodeBase64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// seal encrypts value for storage under key and returns the ciphertext
// (nonce first) and the id of the key used. The storage key is the
// additional authenticated data, so a row copied under another key (a
// certificate's private key moved next to another name) fails to decrypt.
func (kr *keyring) seal(key string, value []byte) ([]byte, string, error) {
	if kr == nil {
		return value, "", nil
	}
	id := kr.ids[0]
	aead := kr.aeads[id]
	out := make([]byte, aead.NonceSize(), aead.NonceSize()+len(value)+aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return nil, "", fmt.Errorf("making nonce: %w", err)
	}
	return aead.Seal(out, out, value, []byte(key)), id, nil
}

// open reverses seal. A row written in the clear (keyID "") is returned as
// it is: that is how storage written before a key was configured stays
// readable; the next Store of that key encrypts it.
func (kr *keyring) open(key string, value []byte, keyID string) ([]byte, error) {
	if keyID == "" {
		return value, nil
	}
	if kr == nil {
		return nil, fmt.Errorf("value of %q is encrypted (key id %s) and no encryption_key is configured", key, keyID)
	}
	aead, ok := kr.aeads[keyID]
	if !ok {
		return nil, fmt.Errorf("value of %q is encrypted with key id %s, which is not among the configured keys", key, keyID)
	}
	n := aead.NonceSize()
	if len(value) < n+aead.Overhead() {
		return nil, fmt.Errorf("value of %q: ciphertext too short", key)
	}
	plain, err := aead.Open(nil, value[:n], value[n:], []byte(key))
	if err != nil {
		return nil, fmt.Errorf("value of %q failed authentication (key id %s): %w", key, keyID, err)
	}
	return plain, nil
}
