package tenanttoken

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	testKey1 = Key{ID: "k1", Secret: bytes.Repeat([]byte{1}, 32)}
	testKey2 = Key{ID: "k2", Secret: bytes.Repeat([]byte{2}, 48)}
	testNow  = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
)

const (
	testTenantID = "6f1c1c1e-5d0b-4a8e-9a53-3d1f1c2b7a10"
	testSub      = "acme"
	testHost     = "acme.example.com"
)

func mustSigner(t testing.TB, keys ...Key) *Signer {
	t.Helper()
	s, err := NewSigner(keys)
	if err != nil {
		t.Fatalf("NewSigner: %v", err)
	}
	return s
}

func mustVerifier(t testing.TB, keys ...Key) *Verifier {
	t.Helper()
	v, err := NewVerifier(keys)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

// claimsAt is a valid claim set issued at iat, to be altered by a test case.
func claimsAt(iat time.Time) *wireClaims {
	return &wireClaims{
		Tenant: testSub,
		Host:   testHost,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   testTenantID,
			Audience:  jwt.ClaimStrings{Audience},
			IssuedAt:  jwt.NewNumericDate(iat),
			ExpiresAt: jwt.NewNumericDate(iat.Add(Lifetime)),
		},
	}
}

// forge signs claims with any method, key and kid, as an attacker or a
// buggy issuer would.
func forge(t *testing.T, m jwt.SigningMethod, kid string, key any, c jwt.Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("forging token: %v", err)
	}
	return s
}

func TestSignVerify(t *testing.T) {
	s := mustSigner(t, testKey1)
	v := mustVerifier(t, testKey1)
	tok, err := s.Sign(testTenantID, testSub, testHost, testNow)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	got, err := v.Verify(tok, testHost, testNow)
	if err != nil {
		t.Fatalf("Verify(fresh token) = %v, want nil", err)
	}
	want := Claims{TenantID: testTenantID, Subdomain: testSub, Host: testHost, IssuedAt: testNow, ExpiresAt: testNow.Add(Lifetime)}
	if !got.IssuedAt.Equal(want.IssuedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) || got.TenantID != want.TenantID || got.Subdomain != want.Subdomain || got.Host != want.Host {
		t.Errorf("Verify = %+v, want %+v", got, want)
	}
	// The header names the key and the algorithm.
	parsed, _, err := jwt.NewParser().ParseUnverified(tok, &wireClaims{})
	if err != nil {
		t.Fatalf("ParseUnverified: %v", err)
	}
	if parsed.Header["kid"] != "k1" || parsed.Header["alg"] != "HS256" {
		t.Errorf("header = %v, want kid k1 and alg HS256", parsed.Header)
	}
}

func TestVerifyAccepts(t *testing.T) {
	s := mustSigner(t, testKey1)
	v := mustVerifier(t, testKey1)
	tok, err := s.Sign(testTenantID, testSub, testHost, testNow)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	tests := []struct {
		name string
		host string
		now  time.Time
	}{
		{"same instant", testHost, testNow},
		{"just before expiry", testHost, testNow.Add(Lifetime - time.Second)},
		{"expired within skew", testHost, testNow.Add(Lifetime + MaxSkew - time.Second)},
		{"issued in the future within skew", testHost, testNow.Add(-MaxSkew + time.Second)},
		{"host with port", testHost + ":8443", testNow},
		{"host upper case with trailing dot", "ACME.Example.COM.", testNow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := v.Verify(tok, tt.host, tt.now); err != nil {
				t.Errorf("Verify(token, %q, %v) = %v, want nil", tt.host, tt.now, err)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s := mustSigner(t, testKey1)
	good, err := s.Sign(testTenantID, testSub, testHost, testNow)
	if err != nil {
		t.Fatal(err)
	}
	with := func(f func(c *wireClaims)) *wireClaims {
		c := claimsAt(testNow)
		f(c)
		return c
	}
	tests := []struct {
		name  string
		token string
		host  string
		now   time.Time
	}{
		{"forged signature", forge(t, jwt.SigningMethodHS256, "k1", bytes.Repeat([]byte{9}, 32), claimsAt(testNow)), testHost, testNow},
		{"tampered payload", tamper(t, good), testHost, testNow},
		{"alg none", forge(t, jwt.SigningMethodNone, "k1", jwt.UnsafeAllowNoneSignatureType, claimsAt(testNow)), testHost, testNow},
		{"alg RS256", forge(t, jwt.SigningMethodRS256, "k1", rsaKey, claimsAt(testNow)), testHost, testNow},
		{"alg HS512 with the right key", forge(t, jwt.SigningMethodHS512, "k1", testKey1.Secret, claimsAt(testNow)), testHost, testNow},
		{"alg HS384 with the right key", forge(t, jwt.SigningMethodHS384, "k1", testKey1.Secret, claimsAt(testNow)), testHost, testNow},
		{"unknown kid", forge(t, jwt.SigningMethodHS256, "k9", testKey1.Secret, claimsAt(testNow)), testHost, testNow},
		{"missing kid", forge(t, jwt.SigningMethodHS256, "", testKey1.Secret, claimsAt(testNow)), testHost, testNow},
		{"expired", good, testHost, testNow.Add(Lifetime + MaxSkew + time.Second)},
		{"issued in the future beyond skew", good, testHost, testNow.Add(-MaxSkew - time.Second)},
		{"wrong audience", forge(t, jwt.SigningMethodHS256, "k1", testKey1.Secret, with(func(c *wireClaims) { c.Audience = jwt.ClaimStrings{"someone-else"} })), testHost, testNow},
		{"no audience", forge(t, jwt.SigningMethodHS256, "k1", testKey1.Secret, with(func(c *wireClaims) { c.Audience = nil })), testHost, testNow},
		{"wrong issuer", forge(t, jwt.SigningMethodHS256, "k1", testKey1.Secret, with(func(c *wireClaims) { c.Issuer = "mallory" })), testHost, testNow},
		{"no expiry", forge(t, jwt.SigningMethodHS256, "k1", testKey1.Secret, with(func(c *wireClaims) { c.ExpiresAt = nil })), testHost, testNow},
		{"no iat", forge(t, jwt.SigningMethodHS256, "k1", testKey1.Secret, with(func(c *wireClaims) { c.IssuedAt = nil })), testHost, testNow},
		{"lifetime too long", forge(t, jwt.SigningMethodHS256, "k1", testKey1.Secret, with(func(c *wireClaims) { c.ExpiresAt = jwt.NewNumericDate(testNow.Add(time.Hour)) })), testHost, testNow},
		{"no subject", forge(t, jwt.SigningMethodHS256, "k1", testKey1.Secret, with(func(c *wireClaims) { c.Subject = "" })), testHost, testNow},
		{"no tenant", forge(t, jwt.SigningMethodHS256, "k1", testKey1.Secret, with(func(c *wireClaims) { c.Tenant = "" })), testHost, testNow},
		{"host mismatch", good, "globex.example.com", testNow},
		{"host suffix", good, "evil-acme.example.com", testNow},
		{"invalid request host", good, "acme.example.com\x00", testNow},
		{"empty", "", testHost, testNow},
		{"malformed one part", "abc", testHost, testNow},
		{"malformed three garbage parts", "a.b.c", testHost, testNow},
		{"malformed two parts", strings.Join(strings.Split(good, ".")[:2], "."), testHost, testNow},
		{"malformed four parts", good + ".x", testHost, testNow},
		{"malformed payload not JSON", strings.Split(good, ".")[0] + ".bm90IGpzb24." + strings.Split(good, ".")[2], testHost, testNow},
	}
	v := mustVerifier(t, testKey1)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(tt.token, tt.host, tt.now)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Verify(%s) = %v, want an error wrapping ErrInvalid", tt.name, err)
			}
			if strings.Contains(err.Error(), string(testKey1.Secret)) {
				t.Errorf("Verify(%s) error %q contains the secret", tt.name, err)
			}
		})
	}
}

// tamper changes the payload of a signed token (tenant acme → globex)
// keeping its signature.
func tamper(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	c := claimsAt(testNow)
	c.Tenant = "globex"
	forged := forge(t, jwt.SigningMethodHS256, "k1", bytes.Repeat([]byte{7}, 32), c)
	return parts[0] + "." + strings.Split(forged, ".")[1] + "." + parts[2]
}

func TestKeyRotation(t *testing.T) {
	old := mustSigner(t, testKey1)
	tokOld, err := old.Sign(testTenantID, testSub, testHost, testNow)
	if err != nil {
		t.Fatal(err)
	}
	// Rotation: the new key goes first and signs, the old one still verifies.
	rotated := mustSigner(t, testKey2, testKey1)
	tokNew, err := rotated.Sign(testTenantID, testSub, testHost, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if got := rotated.KeyID(); got != "k2" {
		t.Errorf("rotated.KeyID() = %q, want k2", got)
	}
	tests := []struct {
		name    string
		keys    []Key
		token   string
		wantErr bool
	}{
		{"old token, both keys", []Key{testKey2, testKey1}, tokOld, false},
		{"new token, both keys", []Key{testKey2, testKey1}, tokNew, false},
		{"new token, verifier not yet rotated", []Key{testKey1}, tokNew, true},
		{"old token after the old key is retired", []Key{testKey2}, tokOld, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mustVerifier(t, tt.keys...).Verify(tt.token, testHost, testNow)
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Errorf("Verify = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

func TestSignRequiresClaims(t *testing.T) {
	s := mustSigner(t, testKey1)
	for _, args := range [][3]string{{"", testSub, testHost}, {testTenantID, "", testHost}, {testTenantID, testSub, ""}} {
		if _, err := s.Sign(args[0], args[1], args[2], testNow); err == nil {
			t.Errorf("Sign(%q, %q, %q) = nil error, want one", args[0], args[1], args[2])
		}
	}
}

func TestNewSignerVerifierRejectBadKeys(t *testing.T) {
	tests := []struct {
		name string
		keys []Key
	}{
		{"none", nil},
		{"short secret", []Key{{ID: "k", Secret: make([]byte, 31)}}},
		{"empty id", []Key{{ID: "", Secret: make([]byte, 32)}}},
		{"duplicate id", []Key{testKey1, {ID: "k1", Secret: make([]byte, 32)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewSigner(tt.keys); err == nil {
				t.Errorf("NewSigner(%v) = nil error, want one", tt.keys)
			}
			if _, err := NewVerifier(tt.keys); err == nil {
				t.Errorf("NewVerifier(%v) = nil error, want one", tt.keys)
			}
		})
	}
}

func FuzzVerify(f *testing.F) {
	s := mustSigner(f, testKey1)
	good, err := s.Sign(testTenantID, testSub, testHost, testNow)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, testHost)
	f.Add(good, "ACME.example.com:443")
	f.Add("", "")
	f.Add("a.b.c", testHost)
	f.Add("eyJhbGciOiJub25lIn0.e30.", testHost)
	f.Add(good[:len(good)-3], testHost)
	v := mustVerifier(f, testKey1)
	f.Fuzz(func(t *testing.T, token, host string) {
		c, err := v.Verify(token, host, testNow)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Verify error %v does not wrap ErrInvalid", err)
			}
			return
		}
		// Only our signer's token can verify; its claims must be intact.
		if c.TenantID != testTenantID || c.Subdomain != testSub || c.Host != testHost {
			t.Fatalf("Verify(%q, %q) = %+v: a token we did not sign verified", token, host, c)
		}
	})
}
