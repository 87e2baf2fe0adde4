package tenantstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tenantgate/tenantgate/internal/logo"
)

// MaxDisplayNameLength bounds a tenant's display name.
const MaxDisplayNameLength = 100

// Branding is what a tenant's pages show of it (SPEC §13). The zero value
// means "no branding": the tenant's name and the default colours, no logo.
// It carries the logo's hash and type, never its bytes (Store.Logo reads
// those), so the cached tenant stays small.
type Branding struct {
	DisplayName string `json:"display_name"`
	// PrimaryColor is "#rrggbb" (lower case) or "".
	PrimaryColor string `json:"primary_color"`
	// LogoSHA256 is the hex SHA-256 of the stored logo, "" without one; it
	// is the logo's strong ETag and the version in its URL.
	LogoSHA256 string `json:"logo_sha256,omitempty"`
	// LogoType is image/png or image/svg+xml, "" without a logo.
	LogoType string `json:"logo_content_type,omitempty"`
}

// Title is the name the tenant's pages show: the display name, else name.
func (t *Tenant) Title() string {
	if t.Branding.DisplayName != "" {
		return t.Branding.DisplayName
	}
	return t.Name
}

// Logo is a tenant's stored logo.
type Logo struct {
	ContentType string
	SHA256      string // hex
	Data        []byte
	UpdatedAt   time.Time
}

// BrandingPatch changes a tenant's display name and colour; nil fields are
// unchanged, "" clears.
type BrandingPatch struct {
	DisplayName  *string
	PrimaryColor *string
}

// NormalizeColor checks a primary colour: exactly "#rrggbb" (hex digits,
// either case), returned lower-case; "" is no colour. Nothing else passes,
// so the value can be put into a style sheet as it is.
func NormalizeColor(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if len(s) != 7 || s[0] != '#' {
		return "", invalid("primary_color", "must be a colour written #rrggbb (six hex digits)")
	}
	s = strings.ToLower(s)
	for i := 1; i < 7; i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", invalid("primary_color", "must be a colour written #rrggbb (six hex digits)")
		}
	}
	return s, nil
}

// SetBranding changes the display name and primary colour of the tenant
// with subdomain sub and returns the tenant as stored.
func (m *Manager) SetBranding(ctx context.Context, sub string, p BrandingPatch) (*Tenant, error) {
	t, err := m.Get(ctx, sub)
	if err != nil {
		return nil, err
	}
	b := t.Branding
	if p.DisplayName != nil {
		b.DisplayName = strings.TrimSpace(*p.DisplayName)
		if err := ValidateText("display_name", b.DisplayName, MaxDisplayNameLength); err != nil {
			return nil, err
		}
	}
	if p.PrimaryColor != nil {
		if b.PrimaryColor, err = NormalizeColor(strings.TrimSpace(*p.PrimaryColor)); err != nil {
			return nil, err
		}
	}
	before := t.Branding
	if err := m.store.SetBranding(ctx, t, b.DisplayName, b.PrimaryColor); err != nil {
		return nil, err
	}
	m.store.AuditCommitted(ctx, "tenant.branding", t, before, t.Branding)
	return t, nil
}

// SetLogo checks data as a logo of contentType (see logo.Clean: a PNG, or
// an SVG it sanitises), stores it for the tenant with subdomain sub and
// returns the tenant as stored. Errors: logo.ErrTooLarge,
// logo.ErrUnsupported, a *ValidationError for field "logo".
func (m *Manager) SetLogo(ctx context.Context, sub, contentType string, data []byte) (*Tenant, error) {
	mt, clean, err := logo.Clean(contentType, data)
	if err != nil {
		if ie := (*logo.InvalidError)(nil); errors.As(err, &ie) {
			return nil, invalid("logo", "%s", ie.Reason)
		}
		return nil, err
	}
	t, err := m.Get(ctx, sub)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(clean)
	l := &Logo{ContentType: mt, SHA256: hex.EncodeToString(sum[:]), Data: clean}
	before := t.Branding
	if err := m.store.SetLogo(ctx, t, l); err != nil {
		return nil, err
	}
	// The trail records the logo's hash and type (in Branding), never its bytes.
	m.store.AuditCommitted(ctx, "tenant.logo", t, before, t.Branding)
	return t, nil
}

// DeleteLogo removes the logo of the tenant with subdomain sub (nothing to
// remove is no error) and returns the tenant as stored.
func (m *Manager) DeleteLogo(ctx context.Context, sub string) (*Tenant, error) {
	t, err := m.Get(ctx, sub)
	if err != nil {
		return nil, err
	}
	before := t.Branding
	if err := m.store.SetLogo(ctx, t, nil); err != nil {
		return nil, err
	}
	m.store.AuditCommitted(ctx, "tenant.logo", t, before, t.Branding)
	return t, nil
}

// Logo returns the logo of the tenant with subdomain sub, ErrNotFound
// without one.
func (m *Manager) Logo(ctx context.Context, sub string) (*Logo, error) {
	t, err := m.Get(ctx, sub)
	if err != nil {
		return nil, err
	}
	return m.store.Logo(ctx, t.ID)
}

// SetBranding stores t's display name and colour (already validated),
// bumps its version and tells the caches; t is updated to match.
func (s *Store) SetBranding(ctx context.Context, t *Tenant, displayName, color string) error {
	err := s.pool.QueryRow(ctx, `UPDATE tenants SET display_name = $2, primary_color = $3,
		updated_at = now(), version = version + 1 WHERE id = $1 RETURNING updated_at, version`,
		t.ID, displayName, color).Scan(&t.UpdatedAt, &t.Version)
	if err != nil {
		return fmt.Errorf("setting branding of tenant %q: %w", t.Subdomain, translate(err))
	}
	t.Branding.DisplayName, t.Branding.PrimaryColor = displayName, color
	s.notify(ctx, brandingChange(t))
	return nil
}

// SetLogo stores l as t's logo, or removes t's logo when l is nil, in one
// transaction with the hash and type the cached tenant carries; t is
// updated to match.
func (s *Store) SetLogo(ctx context.Context, t *Tenant, l *Logo) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("setting logo of tenant %q: %w", t.Subdomain, translate(err))
	}
	defer tx.Rollback(ctx)
	var sum, ct string
	if l == nil {
		_, err = tx.Exec(ctx, `DELETE FROM tenant_logos WHERE tenant_id = $1`, t.ID)
	} else {
		sum, ct = l.SHA256, l.ContentType
		_, err = tx.Exec(ctx, `INSERT INTO tenant_logos (tenant_id, content_type, sha256, data) VALUES ($1, $2, $3, $4)
			ON CONFLICT (tenant_id) DO UPDATE SET content_type = $2, sha256 = $3, data = $4, updated_at = now()`,
			t.ID, l.ContentType, l.SHA256, l.Data)
	}
	if err == nil {
		err = tx.QueryRow(ctx, `UPDATE tenants SET logo_sha256 = $2, logo_content_type = $3,
			updated_at = now(), version = version + 1 WHERE id = $1 RETURNING updated_at, version`,
			t.ID, sum, ct).Scan(&t.UpdatedAt, &t.Version)
	}
	if err == nil {
		err = tx.Commit(ctx)
	}
	if err != nil {
		return fmt.Errorf("setting logo of tenant %q: %w", t.Subdomain, translate(err))
	}
	t.Branding.LogoSHA256, t.Branding.LogoType = sum, ct
	s.notify(ctx, brandingChange(t))
	return nil
}

// Logo returns the logo of the tenant with id, ErrNotFound without one.
func (s *Store) Logo(ctx context.Context, tenantID string) (*Logo, error) {
	if _, err := uuid.Parse(tenantID); err != nil {
		return nil, fmt.Errorf("reading logo of tenant %q: %w", tenantID, ErrNotFound)
	}
	var l Logo
	err := s.pool.QueryRow(ctx, `SELECT content_type, sha256, data, updated_at FROM tenant_logos WHERE tenant_id = $1`,
		tenantID).Scan(&l.ContentType, &l.SHA256, &l.Data, &l.UpdatedAt)
	if err != nil {
		return nil, fmt.Errorf("reading logo of tenant %s: %w", tenantID, translate(err))
	}
	return &l, nil
}

// brandingChange is the cache invalidation of a branding change: every
// name the tenant is looked up by.
func brandingChange(t *Tenant) Change {
	c := Change{TenantID: t.ID, Subdomains: []string{t.Subdomain}}
	for _, d := range t.Domains {
		c.Hostnames = append(c.Hostnames, d.Hostname)
	}
	return c
}
