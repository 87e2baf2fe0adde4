// Package brandlogo serves tenants' logos (SPEC §13) so that they can be
// cached for ever and can never run script: a strong ETag (the SHA-256 of
// the bytes), a year-long immutable Cache-Control when the URL names that
// hash (?v=<sha256>), and a Content-Security-Policy that sandboxes the
// response and forbids every script and fetch, even when the SVG is opened
// on its own rather than through <img>. The tenant listener serves the
// request's tenant's logo with Handler; the admin dashboard uses Serve for
// its preview.
package brandlogo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/maypok86/otter/v2"
	"golang.org/x/sync/singleflight"

	"github.com/tenantgate/tenantgate/appserver/httpapi"
	"github.com/tenantgate/tenantgate/appserver/reqctx"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// Path is where the tenant listener serves the logo of the request's
// tenant.
const Path = "/branding/logo"

// CSP is the Content-Security-Policy of every logo response: nothing may
// load or run, inline style only (SVGs use it), in a sandbox.
const CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"

// DefaultCacheBytes bounds the bytes of logos an appserver keeps in memory.
const DefaultCacheBytes = 16 << 20

// URL is the cache-busting address of a tenant's logo, "" without one.
func URL(b tenantstore.Branding) string {
	if b.LogoSHA256 == "" {
		return ""
	}
	return Path + "?v=" + b.LogoSHA256
}

// Serve answers l with its safe headers and strong ETag, 304 to a matching
// If-None-Match. With immutable the response may be cached for a year (the
// URL names the hash); otherwise it is revalidated each time.
func Serve(w http.ResponseWriter, r *http.Request, l *tenantstore.Logo, immutable bool) {
	h := w.Header()
	h.Set("Content-Type", l.ContentType)
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("ETag", `"`+l.SHA256+`"`)
	if immutable {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	// ServeContent answers If-None-Match (304), If-Match and ranges from
	// the ETag set above.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(l.Data))
}

// Source reads a tenant's logo from the control plane; *tenantstore.Store
// implements it.
type Source interface {
	Logo(ctx context.Context, tenantID string) (*tenantstore.Logo, error)
}

// Handler serves the logo of the request's tenant (reqctx.Tenant, set from
// the verified tenant token, so a host only ever gets its own tenant's
// logo), kept in memory by tenant and hash: a new logo has a new hash, so
// an entry never goes stale.
type Handler struct {
	src   Source
	cache *otter.Cache[string, *tenantstore.Logo]
	group singleflight.Group
	onErr httpapi.ErrorWriter
}

// New returns a Handler reading from src that keeps up to maxBytes of
// logos in memory (DefaultCacheBytes when 0 or less; the least used go
// first) and answers errors with onErr. Close stops its cache.
func New(src Source, maxBytes int, onErr httpapi.ErrorWriter) (*Handler, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultCacheBytes
	}
	c, err := otter.New(&otter.Options[string, *tenantstore.Logo]{
		MaximumWeight: uint64(maxBytes),
		Weigher:       func(_ string, l *tenantstore.Logo) uint32 { return uint32(len(l.Data)) + 1 },
	})
	if err != nil {
		return nil, fmt.Errorf("creating the logo cache: %w", err)
	}
	return &Handler{src: src, cache: c, onErr: onErr}, nil
}

// Close stops the cache's goroutines; it is idempotent.
func (h *Handler) Close() { h.cache.StopAllGoroutines() }

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := reqctx.Tenant(r.Context())
	if t == nil || t.Branding.LogoSHA256 == "" {
		h.onErr(w, r, httpapi.ErrNotFound)
		return
	}
	l, err := h.load(r.Context(), t)
	if err != nil {
		h.onErr(w, r, err)
		return
	}
	Serve(w, r, l, r.URL.Query().Get("v") == l.SHA256)
}

// load returns t's logo from memory, or from the source once however many
// requests ask at the same time.
func (h *Handler) load(ctx context.Context, t *tenantstore.Tenant) (*tenantstore.Logo, error) {
	key := t.ID + "/" + t.Branding.LogoSHA256
	if l, ok := h.cache.GetIfPresent(key); ok {
		return l, nil
	}
	v, err, _ := h.group.Do(key, func() (any, error) {
		l, err := h.src.Logo(context.WithoutCancel(ctx), t.ID)
		if err != nil {
			return nil, err
		}
		// The cached tenant and the store can disagree for a moment
		// around a change: only a logo matching its key is kept, and
		// whatever is served carries its own hash as ETag.
		if l.SHA256 == t.Branding.LogoSHA256 {
			h.cache.Set(key, l)
		}
		return l, nil
	})
	if err != nil {
		if errors.Is(err, tenantstore.ErrNotFound) {
			return nil, httpapi.ErrNotFound
		}
		return nil, err
	}
	return v.(*tenantstore.Logo), nil
}
