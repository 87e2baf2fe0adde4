package tenantstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// AddDomain adds the custom hostname (normalised by the caller) to the
// tenant, unverified, with a random verification token. A hostname another
// tenant (or this one) already has is a *ConflictError for field "hostname".
func (s *Store) AddDomain(ctx context.Context, tenantID, hostname string) (*Domain, error) {
	d := &Domain{Hostname: hostname, VerificationToken: randomToken(16)}
	var sub string
	err := s.pool.QueryRow(ctx, `WITH ins AS (
			INSERT INTO tenant_domains (hostname, tenant_id, verification_token) VALUES ($1, $2, $3) RETURNING created_at)
		SELECT ins.created_at, t.subdomain FROM ins, tenants t WHERE t.id = $2`,
		hostname, tenantID, d.VerificationToken).Scan(&d.CreatedAt, &sub)
	if err != nil {
		if isCode(err, "23503") {
			return nil, fmt.Errorf("adding domain %q: tenant %s: %w", hostname, tenantID, ErrNotFound)
		}
		return nil, fmt.Errorf("adding domain %q: %w", hostname, translate(err))
	}
	s.notify(ctx, Change{TenantID: tenantID, Subdomains: []string{sub}, Hostnames: []string{hostname}})
	return d, nil
}

// MarkDomainVerified marks the tenant's hostname verified; from then on
// GetByHostname finds the tenant by it.
func (s *Store) MarkDomainVerified(ctx context.Context, tenantID, hostname string) (*Domain, error) {
	d := &Domain{Hostname: hostname, Verified: true}
	var sub string
	err := s.pool.QueryRow(ctx, `UPDATE tenant_domains d SET verified = true, verified_at = COALESCE(verified_at, now())
		FROM tenants t WHERE d.hostname = $1 AND d.tenant_id = $2 AND t.id = d.tenant_id
		RETURNING d.verification_token, d.created_at, d.verified_at, t.subdomain`,
		hostname, tenantID).Scan(&d.VerificationToken, &d.CreatedAt, &d.VerifiedAt, &sub)
	if err != nil {
		return nil, fmt.Errorf("verifying domain %q: %w", hostname, translate(err))
	}
	s.notify(ctx, Change{TenantID: tenantID, Subdomains: []string{sub}, Hostnames: []string{hostname}})
	return d, nil
}

// RemoveDomain removes the tenant's custom hostname.
func (s *Store) RemoveDomain(ctx context.Context, tenantID, hostname string) error {
	var sub string
	err := s.pool.QueryRow(ctx, `DELETE FROM tenant_domains d USING tenants t
		WHERE d.hostname = $1 AND d.tenant_id = $2 AND t.id = d.tenant_id RETURNING t.subdomain`,
		hostname, tenantID).Scan(&sub)
	if err != nil {
		return fmt.Errorf("removing domain %q: %w", hostname, translate(err))
	}
	s.notify(ctx, Change{TenantID: tenantID, Subdomains: []string{sub}, Hostnames: []string{hostname}})
	return nil
}

// randomToken returns n random bytes, hex-encoded.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b)
}
