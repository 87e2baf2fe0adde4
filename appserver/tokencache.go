package appserver

import (
	"sync"
	"time"

	"github.com/tenantgate/tenantgate/internal/tenanttoken"
)

// tokenCache remembers tokens whose signature verified, keyed by their exact
// bytes, so a token the edge reuses costs a map lookup instead of an HMAC and
// a JSON parse. A hit still checks the host binding and the expiry (with the
// verifier's skew); the "not issued in the future" rule was checked at the
// first verification and only gets easier as time passes.
type tokenCache struct {
	mu  sync.RWMutex
	m   map[string]tenanttoken.Claims
	max int
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{m: make(map[string]tenanttoken.Claims, max), max: max}
}

func (c *tokenCache) get(token, host string, now time.Time) (tenanttoken.Claims, bool) {
	c.mu.RLock()
	cl, ok := c.m[token]
	c.mu.RUnlock()
	if !ok || cl.Host != host || !now.Before(cl.ExpiresAt.Add(tenanttoken.MaxSkew)) {
		return tenanttoken.Claims{}, false
	}
	return cl, true
}

func (c *tokenCache) put(token string, cl tenanttoken.Claims, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for k, v := range c.m {
			if !now.Before(v.ExpiresAt.Add(tenanttoken.MaxSkew)) {
				delete(c.m, k)
			}
		}
		// Still full of live tokens: drop some at random (map order) rather
		// than grow; a dropped token is just verified again.
		for k := range c.m {
			if len(c.m) < c.max*3/4 {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[token] = cl
}
