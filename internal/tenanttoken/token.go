package tenanttoken

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// The fixed parts of every token (SPEC §6).
const (
	// Header is the request header the edge sets and the app verifies.
	Header = "X-Tenant-Token"
	// Issuer is the "iss" claim.
	Issuer = "tenantgate-edge"
	// Audience is the "aud" claim.
	Audience = "tenantgate-app"
	// Lifetime is exp − iat.
	Lifetime = 60 * time.Second
	// MaxSkew is the clock skew tolerated either way on iat and exp.
	MaxSkew = 5 * time.Second
)

// ErrInvalid is wrapped by every error Verify returns: the caller answers 401
// invalid_tenant_token whatever the fault was.
var ErrInvalid = errors.New("invalid tenant token")

// signingMethod is the only algorithm signed and accepted.
var signingMethod = jwt.SigningMethodHS256

// Claims is what a valid token says.
type Claims struct {
	TenantID  string
	Subdomain string
	Host      string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// wireClaims is the JSON form of the claims.
type wireClaims struct {
	Tenant string `json:"tenant"`
	Host   string `json:"host"`
	jwt.RegisteredClaims
}

// Validate checks what the jwt library does not: the claims our tokens always
// carry, and a lifetime no longer than ours. The library calls it after its
// own checks.
func (c *wireClaims) Validate() error {
	switch {
	case c.Subject == "":
		return errors.New("missing sub")
	case c.Tenant == "":
		return errors.New("missing tenant")
	case c.Host == "":
		return errors.New("missing host")
	case c.IssuedAt == nil:
		return errors.New("missing iat")
	case c.ExpiresAt == nil:
		return errors.New("missing exp")
	case c.ExpiresAt.Sub(c.IssuedAt.Time) > Lifetime:
		return errors.New("lifetime longer than allowed")
	}
	return nil
}

// Signer signs tokens with the first of its keys. It is safe for concurrent
// use.
type Signer struct {
	key Key
}

// NewSigner returns a Signer that signs with keys[0].
func NewSigner(keys []Key) (*Signer, error) {
	if err := checkKeys(keys); err != nil {
		return nil, fmt.Errorf("creating token signer: %w", err)
	}
	return &Signer{key: keys[0]}, nil
}

// KeyID is the id of the signing key.
func (s *Signer) KeyID() string { return s.key.ID }

// Sign returns a token for the tenant, bound to host (already normalised:
// lower-case, without port or trailing dot), issued at now and expiring
// Lifetime later.
func (s *Signer) Sign(tenantID, subdomain, host string, now time.Time) (string, error) {
	if tenantID == "" || subdomain == "" || host == "" {
		return "", errors.New("signing tenant token: tenant id, subdomain and host are required")
	}
	iat := now.Truncate(time.Second)
	claims := &wireClaims{
		Tenant: subdomain,
		Host:   host,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   tenantID,
			Audience:  jwt.ClaimStrings{Audience},
			IssuedAt:  jwt.NewNumericDate(iat),
			ExpiresAt: jwt.NewNumericDate(iat.Add(Lifetime)),
		},
	}
	tok := jwt.NewWithClaims(signingMethod, claims)
	tok.Header["kid"] = s.key.ID
	out, err := tok.SignedString(s.key.Secret)
	if err != nil {
		return "", fmt.Errorf("signing tenant token: %w", err)
	}
	return out, nil
}

// Verifier checks tokens against all of its keys, chosen by "kid". It is
// safe for concurrent use.
type Verifier struct {
	secrets map[string][]byte
}

// NewVerifier returns a Verifier that accepts tokens signed by any of keys.
func NewVerifier(keys []Key) (*Verifier, error) {
	if err := checkKeys(keys); err != nil {
		return nil, fmt.Errorf("creating token verifier: %w", err)
	}
	v := &Verifier{secrets: make(map[string][]byte, len(keys))}
	for _, k := range keys {
		v.secrets[k.ID] = k.Secret
	}
	return v, nil
}

// Verify checks token as of now and its binding to host, the Host of the
// request it arrived with (normalised here: case, port and trailing dot do
// not matter). Every error wraps ErrInvalid and never contains a key.
func (v *Verifier) Verify(token, host string, now time.Time) (Claims, error) {
	if token == "" {
		return Claims{}, fmt.Errorf("%w: missing", ErrInvalid)
	}
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{signingMethod.Alg()}),
		jwt.WithIssuer(Issuer),
		jwt.WithAudience(Audience),
		jwt.WithLeeway(MaxSkew),
		jwt.WithIssuedAt(),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	var c wireClaims
	if _, err := p.ParseWithClaims(token, &c, v.key); err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	h, ok := tenantstore.NormalizeHost(host)
	if !ok || h != c.Host {
		return Claims{}, fmt.Errorf("%w: issued for another host", ErrInvalid)
	}
	return Claims{
		TenantID:  c.Subject,
		Subdomain: c.Tenant,
		Host:      c.Host,
		IssuedAt:  c.IssuedAt.Time,
		ExpiresAt: c.ExpiresAt.Time,
	}, nil
}

// key is the jwt.Keyfunc: the secret named by the token's kid.
func (v *Verifier) key(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	if kid == "" {
		return nil, errors.New("missing kid")
	}
	secret, ok := v.secrets[kid]
	if !ok {
		return nil, errors.New("unknown kid")
	}
	return secret, nil
}
