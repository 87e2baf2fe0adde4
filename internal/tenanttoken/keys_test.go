package tenanttoken

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestParseKeys(t *testing.T) {
	s32 := bytes.Repeat([]byte{0xab}, 32)
	s40 := bytes.Repeat([]byte{0xcd}, 40)
	padded := base64.StdEncoding.EncodeToString(s32)
	unpadded := strings.TrimRight(padded, "=")
	tests := []struct {
		name string
		in   string
		want []Key
	}{
		{"one key padded", "k1:" + padded, []Key{{"k1", s32}}},
		{"one key unpadded", "k1:" + unpadded, []Key{{"k1", s32}}},
		{"two keys, first signs", "new:" + base64.StdEncoding.EncodeToString(s40) + ",old:" + padded, []Key{{"new", s40}, {"old", s32}}},
		{"spaces around", " k1 : " + padded + " , k-2.x_y:" + unpadded + " ", []Key{{"k1", s32}, {"k-2.x_y", s32}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseKeys(tt.in)
			if err != nil {
				t.Fatalf("ParseKeys(%q) = %v", tt.in, err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("ParseKeys(%q) = %d keys, want %d", tt.in, len(got), len(tt.want))
			}
			for i := range got {
				if got[i].ID != tt.want[i].ID || !bytes.Equal(got[i].Secret, tt.want[i].Secret) {
					t.Errorf("ParseKeys(%q)[%d] = %v, want %v", tt.in, i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestParseKeysErrors(t *testing.T) {
	secret := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("s"), 32))
	short := base64.StdEncoding.EncodeToString([]byte("too-short-secret-of-31-bytes!!!"))
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"blank", "  "},
		{"no colon", secret},
		{"empty kid", ":" + secret},
		{"kid with space", "k 1:" + secret},
		{"kid too long", strings.Repeat("k", 65) + ":" + secret},
		{"short secret", "k1:" + short},
		{"not base64", "k1:" + strings.Repeat("!", 44)},
		{"url-safe base64 is not standard", "k1:" + strings.Repeat("-_", 22)},
		{"duplicate kid", "k1:" + secret + ",k1:" + secret},
		{"trailing comma", "k1:" + secret + ","},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseKeys(tt.in)
			if err == nil {
				t.Fatalf("ParseKeys(%q) = nil error, want one", tt.in)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), short) {
				t.Errorf("ParseKeys(%q) error %q contains the secret", tt.in, err)
			}
		})
	}
}

func TestKeyStringHidesSecret(t *testing.T) {
	k := Key{ID: "k1", Secret: []byte("0123456789abcdef0123456789abcdef")}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if got := fmt.Sprintf(format, k); strings.Contains(got, "0123456789") || strings.Contains(got, "48 49 50") {
			t.Errorf("Sprintf(%q, key) = %q, shows the secret", format, got)
		}
	}
}

func TestFormatKeysRoundTrip(t *testing.T) {
	keys := []Key{testKey2, testKey1}
	got, err := ParseKeys(FormatKeys(keys))
	if err != nil {
		t.Fatalf("ParseKeys(FormatKeys(keys)) = %v", err)
	}
	for i := range keys {
		if got[i].ID != keys[i].ID || !bytes.Equal(got[i].Secret, keys[i].Secret) {
			t.Errorf("round trip key %d = %v, want %v", i, got[i], keys[i])
		}
	}
}

func FuzzParseKeys(f *testing.F) {
	f.Add("k1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32)))
	f.Add("a:" + base64.RawStdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 33)) + ",b:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{3}, 64)))
	f.Add("")
	f.Add(",,:")
	f.Add("k:====")
	f.Fuzz(func(t *testing.T, s string) {
		keys, err := ParseKeys(s)
		if err != nil {
			return
		}
		if len(keys) == 0 {
			t.Fatalf("ParseKeys(%q) = no keys and no error", s)
		}
		for _, k := range keys {
			if len(k.Secret) < MinKeyBytes || !validKeyID(k.ID) {
				t.Fatalf("ParseKeys(%q) accepted bad key %v (%d bytes)", s, k, len(k.Secret))
			}
		}
		// Whatever parses makes a working signer and verifier.
		sg, err := NewSigner(keys)
		if err != nil {
			t.Fatalf("NewSigner(ParseKeys(%q)) = %v", s, err)
		}
		v, err := NewVerifier(keys)
		if err != nil {
			t.Fatalf("NewVerifier(ParseKeys(%q)) = %v", s, err)
		}
		tok, err := sg.Sign("id", "sub", "sub.example.com", testNow)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(tok, "sub.example.com", testNow.Add(time.Second)); err != nil {
			t.Fatalf("Verify after ParseKeys(%q) = %v", s, err)
		}
	})
}

func BenchmarkSign(b *testing.B) {
	s := mustSigner(b, testKey1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Sign(testTenantID, testSub, testHost, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	s := mustSigner(b, testKey1)
	v := mustVerifier(b, testKey2, testKey1)
	tok, err := s.Sign(testTenantID, testSub, testHost, testNow)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(tok, testHost, testNow); err != nil {
			b.Fatal(err)
		}
	}
}
