package pgstorage

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestParseKeys(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		ids     int
		wantErr string
	}{
		{"none", "", 0, ""},
		{"one", testKey, 1, ""},
		{"rotation", testKey2 + "," + testKey, 2, ""},
		{"duplicate", testKey + ", " + testKey, 1, ""},
		{"short", "c2hvcnQ=", 0, "want 32"},
		{"not base64", "!!!", 0, "not base64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kr, err := parseKeys(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseKeys(%q) error = %v, want %q", tc.in, err, tc.wantErr)
				}
				if strings.Contains(err.Error(), tc.in) {
					t.Errorf("error %q repeats the key", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n := 0; kr != nil {
				n = len(kr.ids)
				if n != tc.ids {
					t.Errorf("parseKeys(%q) has %d keys, want %d", tc.in, n, tc.ids)
				}
			} else if tc.ids != 0 {
				t.Errorf("parseKeys(%q) = nil, want %d keys", tc.in, tc.ids)
			}
		})
	}
}

func rawRow(t *testing.T, url, key string) (value []byte, keyID string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if err := conn.QueryRow(context.Background(), `SELECT value, key_id FROM cert_storage WHERE key = $1`, key).Scan(&value, &keyID); err != nil {
		t.Fatal(err)
	}
	return value, keyID
}

func TestEncryptionAtRest(t *testing.T) {
	url := newDB(t)
	ctx := ctxT(t)
	secret := []byte("-----BEGIN EC PRIVATE KEY-----\nsecret material\n-----END EC PRIVATE KEY-----\n")

	plain := open(t, url, "", time.Second, time.Second)
	if err := plain.store(ctx, "old/clear.key", secret); err != nil {
		t.Fatal(err)
	}
	old := open(t, url, testKey, time.Second, time.Second)
	if err := old.store(ctx, "a/site.key", secret); err != nil {
		t.Fatal(err)
	}
	raw, oldID := rawRow(t, url, "a/site.key")
	if oldID == "" || bytes.Contains(raw, []byte("secret material")) {
		t.Fatalf("row = key_id %q, value containing the plaintext: %v; want encrypted with a key id", oldID, bytes.Contains(raw, []byte("secret material")))
	}
	if got, err := old.load(ctx, "a/site.key"); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("load = %q, %v; want the plaintext", got, err)
	}
	if got, err := old.load(ctx, "old/clear.key"); err != nil || !bytes.Equal(got, secret) {
		t.Errorf("load of a row written before the key = %q, %v; want it readable", got, err)
	}
	if info, err := (&Storage{b: old}).Stat(ctx, "a/site.key"); err != nil || info.Size != int64(len(secret)) {
		t.Errorf("Stat size = %d, %v; want the plaintext length %d", info.Size, err, len(secret))
	}

	// Rotation: the new key first encrypts, the old one still decrypts.
	rotated := open(t, url, testKey2+","+testKey, time.Second, time.Second)
	if got, err := rotated.load(ctx, "a/site.key"); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("load with new,old = %q, %v; want the plaintext", got, err)
	}
	if err := rotated.store(ctx, "a/site.key", secret); err != nil {
		t.Fatal(err)
	}
	if _, newID := rawRow(t, url, "a/site.key"); newID == oldID || newID == "" {
		t.Errorf("key id after rewrite = %q (old %q), want the new key's", newID, oldID)
	}
	if _, err := old.load(ctx, "a/site.key"); err == nil {
		t.Error("the old key alone read a row written with the new key")
	}
	if _, err := plain.load(ctx, "a/site.key"); err == nil {
		t.Error("a storage without a key read an encrypted row")
	}

	// A sealed value moved under another key fails authentication.
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `INSERT INTO cert_storage (key, value, key_id, size) SELECT 'b/other.key', value, key_id, size FROM cert_storage WHERE key = 'a/site.key'`); err != nil {
		t.Fatal(err)
	}
	if _, err := rotated.load(ctx, "b/other.key"); err == nil || errors.Is(err, errNotExistSentinel()) {
		t.Errorf("load of a value copied under another key = %v, want an authentication error", err)
	}
}
