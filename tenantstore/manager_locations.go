package tenantstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// maxCodeLength bounds a location code.
const maxCodeLength = 32

// LocationInput is a new location of a tenant.
type LocationInput struct {
	Name    string
	Code    string // 1–32 characters of A-Z a-z 0-9 '-' '_', unique per tenant
	Address string
	Active  *bool // nil means true
}

// LocationPatch is a partial update of a location; nil fields are unchanged.
type LocationPatch struct {
	Name    *string
	Code    *string
	Address *string
	Active  *bool
}

func validateCode(code string) error {
	if code == "" || len(code) > maxCodeLength {
		return invalid("code", "must be 1 to %d characters", maxCodeLength)
	}
	for _, c := range code {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return invalid("code", "use only letters, digits, '-' and '_'")
		}
	}
	return nil
}

// AddLocation adds a location to the tenant with subdomain sub. A tenant
// that is not multi-location may have one location only (ErrConflict).
func (m *Manager) AddLocation(ctx context.Context, sub string, in LocationInput) (*Location, error) {
	t, err := m.Get(ctx, sub)
	if err != nil {
		return nil, err
	}
	l := &Location{TenantID: t.ID, Name: strings.TrimSpace(in.Name), Code: strings.TrimSpace(in.Code),
		Address: strings.TrimSpace(in.Address), Active: in.Active == nil || *in.Active}
	if err := validateName("name", l.Name); err != nil {
		return nil, err
	}
	if err := validateCode(l.Code); err != nil {
		return nil, err
	}
	if err := ValidateText("address", l.Address, MaxTextLength); err != nil {
		return nil, err
	}
	if !t.MultiLocation {
		existing, err := m.store.ListLocations(ctx, t.ID)
		if err != nil {
			return nil, err
		}
		if len(existing) > 0 {
			return nil, fmt.Errorf("adding location %q to tenant %q: %w", l.Code, t.Subdomain,
				&ConflictError{Field: "multi_location", Message: "is off and the tenant has a location; enable multi_location first"})
		}
	}
	if err := m.store.AddLocation(ctx, l); err != nil {
		return nil, fmt.Errorf("tenant %q: %w", t.Subdomain, err)
	}
	m.store.AuditCommitted(ctx, ActionLocationAdd, t, nil, l)
	return l, nil
}

// ListLocations returns the locations of the tenant with subdomain sub.
func (m *Manager) ListLocations(ctx context.Context, sub string) ([]Location, error) {
	t, err := m.Get(ctx, sub)
	if err != nil {
		return nil, err
	}
	return m.store.ListLocations(ctx, t.ID)
}

// UpdateLocation applies p to the location code of the tenant sub.
func (m *Manager) UpdateLocation(ctx context.Context, sub, code string, p LocationPatch) (*Location, error) {
	t, err := m.Get(ctx, sub)
	if err != nil {
		return nil, err
	}
	l, err := m.store.GetLocation(ctx, t.ID, code)
	if err != nil {
		return nil, fmt.Errorf("tenant %q: %w", t.Subdomain, err)
	}
	before := l
	if p.Name != nil {
		if l.Name = strings.TrimSpace(*p.Name); validateName("name", l.Name) != nil {
			return nil, validateName("name", l.Name)
		}
	}
	if p.Code != nil {
		if l.Code = strings.TrimSpace(*p.Code); validateCode(l.Code) != nil {
			return nil, validateCode(l.Code)
		}
	}
	if p.Address != nil {
		if l.Address = strings.TrimSpace(*p.Address); ValidateText("address", l.Address, MaxTextLength) != nil {
			return nil, ValidateText("address", l.Address, MaxTextLength)
		}
	}
	if p.Active != nil {
		l.Active = *p.Active
	}
	if err := m.store.UpdateLocation(ctx, &l); err != nil {
		return nil, fmt.Errorf("tenant %q: %w", t.Subdomain, err)
	}
	m.store.AuditCommitted(ctx, ActionLocationUpdate, t, before, l)
	return &l, nil
}

// DeleteLocation removes the location code of the tenant sub.
func (m *Manager) DeleteLocation(ctx context.Context, sub, code string) error {
	t, err := m.Get(ctx, sub)
	if err != nil {
		return err
	}
	if err := m.store.DeleteLocation(ctx, t.ID, code); err != nil {
		return fmt.Errorf("tenant %q: %w", t.Subdomain, err)
	}
	m.store.AuditCommitted(ctx, ActionLocationDelete, t, map[string]string{"code": code}, nil)
	return nil
}

// VerificationRecord is the DNS name whose TXT record must hold a domain's
// verification token.
func VerificationRecord(hostname string) string { return "_tenantgate." + hostname }

func (m *Manager) normalizeDomain(hostname string) (string, error) {
	h, err := NormalizeDomain(hostname)
	if err != nil {
		return "", err
	}
	if m.base != "" && (h == m.base || strings.HasSuffix(h, "."+m.base)) {
		return "", invalid("hostname", "is inside %s; tenants get <subdomain>.%s without a custom domain", m.base, m.base)
	}
	return h, nil
}

// AddDomain adds an unverified custom hostname to the tenant sub. The
// returned Domain carries the token to publish as a TXT record at
// VerificationRecord(hostname) before calling VerifyDomain.
func (m *Manager) AddDomain(ctx context.Context, sub, hostname string) (*Domain, error) {
	h, err := m.normalizeDomain(hostname)
	if err != nil {
		return nil, err
	}
	t, err := m.Get(ctx, sub)
	if err != nil {
		return nil, err
	}
	d, err := m.store.AddDomain(ctx, t.ID, h)
	if err != nil {
		return nil, fmt.Errorf("tenant %q: %w", t.Subdomain, err)
	}
	m.store.AuditCommitted(ctx, ActionDomainAdd, t, nil, d)
	return d, nil
}

// VerifyDomain looks up the TXT records of VerificationRecord(hostname) and
// marks the domain verified when one equals its token; otherwise it returns
// a *ValidationError for field "hostname" saying what to publish.
func (m *Manager) VerifyDomain(ctx context.Context, sub, hostname string) (*Domain, error) {
	h, err := m.normalizeDomain(hostname)
	if err != nil {
		return nil, err
	}
	t, err := m.Get(ctx, sub)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(t.Domains, func(d Domain) bool { return d.Hostname == h })
	if i < 0 {
		return nil, fmt.Errorf("verifying domain %q of tenant %q: %w", h, t.Subdomain, ErrNotFound)
	}
	d := t.Domains[i]
	if !d.Verified {
		records, _ := m.lookupTXT(ctx, VerificationRecord(h)) // a lookup failure reads as "no record"
		if !slices.Contains(records, d.VerificationToken) {
			return nil, invalid("hostname", "no TXT record %s with the verification token %s; publish it and try again",
				VerificationRecord(h), d.VerificationToken)
		}
	}
	v, err := m.store.MarkDomainVerified(ctx, t.ID, h)
	if err == nil && !d.Verified {
		m.store.AuditCommitted(ctx, ActionDomainVerify, t, d, v)
	}
	return v, err
}

// RemoveDomain removes a custom hostname of the tenant sub.
func (m *Manager) RemoveDomain(ctx context.Context, sub, hostname string) error {
	t, err := m.Get(ctx, sub)
	if err != nil {
		return err
	}
	h, ok := NormalizeHost(strings.TrimSpace(hostname))
	if !ok {
		return invalid("hostname", "must be a DNS name such as shop.example.com")
	}
	if err := m.store.RemoveDomain(ctx, t.ID, h); err != nil {
		return fmt.Errorf("tenant %q: %w", t.Subdomain, err)
	}
	m.store.AuditCommitted(ctx, ActionDomainRemove, t, map[string]string{"hostname": h}, nil)
	return nil
}
