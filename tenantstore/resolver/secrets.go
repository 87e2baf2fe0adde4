package resolver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/maypok86/otter/v2"
	"golang.org/x/sync/singleflight"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// DefaultSecretEntries bounds DatabaseURLs' memory when
// DatabaseURLsConfig.MaxEntries is zero.
const DefaultSecretEntries = 100_000

// IDSource reads one tenant, secrets included, from the control plane by id;
// *tenantstore.Store implements it.
type IDSource interface {
	Get(ctx context.Context, id string) (*tenantstore.Tenant, error)
}

// DatabaseURLsConfig configures DatabaseURLs.
type DatabaseURLsConfig struct {
	// Source is the control plane. Required.
	Source IDSource
	// URL builds a tenant's database URL from its full record
	// (tenantstore.DSNConfig.URL). Required.
	URL func(*tenantstore.Tenant) (string, error)
	// MaxEntries bounds the URLs kept in memory. Default
	// DefaultSecretEntries.
	MaxEntries int
	// Timeout bounds each control-plane read. Default DefaultSourceTimeout.
	Timeout time.Duration
}

// DatabaseURLs gives an appserver the database URL of a tenant the resolver
// returned. Resolver answers carry no secret (Redis must not hold any), so
// the URL, with the tenant's role password or the password of its explicit
// URL, is read from the control plane by tenant id and kept in memory by id
// and version: a tenant whose version moved on (rename, move, restore,
// password change) is read again, and TenantChanged forgets a tenant as soon
// as the invalidation arrives. While the control plane is down, tenants whose
// URL is in memory keep working. Safe for concurrent use.
type DatabaseURLs struct {
	src     IDSource
	url     func(*tenantstore.Tenant) (string, error)
	timeout time.Duration
	cache   *otter.Cache[string, secretEntry]
	flight  singleflight.Group
}

type secretEntry struct {
	version int64
	url     string
}

// NewDatabaseURLs returns an empty DatabaseURLs.
func NewDatabaseURLs(cfg DatabaseURLsConfig) (*DatabaseURLs, error) {
	if cfg.Source == nil || cfg.URL == nil {
		return nil, errors.New("creating database URL cache: Source and URL are required")
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultSecretEntries
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultSourceTimeout
	}
	c, err := otter.New(&otter.Options[string, secretEntry]{MaximumSize: cfg.MaxEntries})
	if err != nil {
		return nil, fmt.Errorf("creating database URL cache: %w", err)
	}
	return &DatabaseURLs{src: cfg.Source, url: cfg.URL, timeout: cfg.Timeout, cache: c}, nil
}

// URL returns the database URL of t (a tenant as the resolver returned it:
// only its ID and Version are used). It reads the control plane unless a URL
// of t's version or a later one is in memory. Errors wrap the store's
// (tenantstore.ErrNotFound, tenantstore.ErrUnavailable) and never contain a
// password.
func (d *DatabaseURLs) URL(ctx context.Context, t *tenantstore.Tenant) (string, error) {
	if e, ok := d.cache.GetIfPresent(t.ID); ok && e.version >= t.Version {
		return e.url, nil
	}
	ch := d.flight.DoChan(t.ID, func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.timeout)
		defer cancel()
		full, err := d.src.Get(ctx, t.ID)
		if err != nil {
			return nil, fmt.Errorf("reading the database URL of tenant %s: %w", t.Subdomain, err)
		}
		u, err := d.url(full)
		if err != nil {
			return nil, err
		}
		d.cache.Set(t.ID, secretEntry{version: full.Version, url: u})
		return u, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return "", res.Err
		}
		return res.Val.(string), nil
	case <-ctx.Done():
		return "", fmt.Errorf("reading the database URL of tenant %s: %w", t.Subdomain, ctx.Err())
	}
}

// TenantChanged forgets the URL of a changed tenant; pass it to the
// resolver's OnChange.
func (d *DatabaseURLs) TenantChanged(c tenantstore.Change) {
	if c.TenantID != "" && !c.PlanOnly { // a plan change moves no database
		d.cache.Invalidate(c.TenantID)
	}
}

// Close stops the cache's background work.
func (d *DatabaseURLs) Close() {
	d.cache.StopAllGoroutines()
}
