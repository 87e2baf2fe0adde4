package caddymodule

import (
	"fmt"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/tenantgate/tenantgate/internal/tenanttoken"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// maxTokenEntries bounds the token cache; it only ever holds hosts of
// resolved tenants, so reaching it means a very large deployment, and the
// cache is simply emptied.
const maxTokenEntries = 100_000

// tokenEntry is a signed token for one tenant and host, with everything the
// handler needs per request prepared once.
type tokenEntry struct {
	tenant    *tenantstore.Tenant
	id, sub   string
	name      string
	status    tenantstore.Status
	token     string
	header    []string  // {token}, with cap 1: read-only, shared by requests
	refreshAt time.Time // half the token's lifetime after issue

	// placeholders serves {tenant.*}; its values are boxed once here so that
	// a request does not allocate for them.
	placeholders caddy.ReplacerFunc
}

// matches reports whether e was made for (the current version of) t.
func (e *tokenEntry) matches(t *tenantstore.Tenant) bool {
	return e.tenant == t || e.id == t.ID && e.sub == t.Subdomain && e.name == t.Name && e.status == t.Status
}

// tokenCache keeps one signed token per host, reused for half its lifetime,
// so a request pays a map read rather than an HMAC signature.
type tokenCache struct {
	signer *tenanttoken.Signer
	now    func() time.Time

	mu      sync.RWMutex
	entries map[string]*tokenEntry
}

func newTokenCache(s *tenanttoken.Signer, now func() time.Time) *tokenCache {
	return &tokenCache{signer: s, now: now, entries: make(map[string]*tokenEntry)}
}

// get returns a fresh entry for tenant t at the normalised host.
func (c *tokenCache) get(t *tenantstore.Tenant, host string) (*tokenEntry, error) {
	now := c.now()
	c.mu.RLock()
	e := c.entries[host]
	c.mu.RUnlock()
	if e != nil && now.Before(e.refreshAt) && e.matches(t) {
		return e, nil
	}
	tok, err := c.signer.Sign(t.ID, t.Subdomain, host, now)
	if err != nil {
		return nil, fmt.Errorf("signing the tenant token for %q: %w", t.Subdomain, err)
	}
	e = newTokenEntry(t, tok, now.Add(tenanttoken.Lifetime/2))
	c.mu.Lock()
	if len(c.entries) >= maxTokenEntries {
		clear(c.entries)
	}
	c.entries[host] = e
	c.mu.Unlock()
	return e, nil
}

func newTokenEntry(t *tenantstore.Tenant, tok string, refreshAt time.Time) *tokenEntry {
	e := &tokenEntry{
		tenant: t, id: t.ID, sub: t.Subdomain, name: t.Name, status: t.Status,
		token: tok, header: []string{tok}[:1:1], refreshAt: refreshAt,
	}
	var id, sub, name, status any = t.ID, t.Subdomain, t.Name, string(t.Status)
	e.placeholders = func(key string) (any, bool) {
		switch key {
		case "tenant.id":
			return id, true
		case "tenant.subdomain":
			return sub, true
		case "tenant.name":
			return name, true
		case "tenant.status":
			return status, true
		}
		return nil, false
	}
	return e
}
