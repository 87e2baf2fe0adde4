package tenantstore

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
)

// SearchOptions filters and pages Search, forward (After) or back (Before).
type SearchOptions struct {
	// Query keeps the tenants whose name or subdomain contains it (any
	// case); "" keeps every tenant.
	Query  string
	Status Status // only tenants in this status; "" for all
	// After is a Next cursor of an earlier page, Before a Prev cursor; at
	// most one is set, neither for the first page.
	After, Before string
	Limit         int // page size; 0 means DefaultListLimit, capped at MaxListLimit
}

// SearchPage is one page of Search, ordered by subdomain, with the cursors
// of the pages before and after it ("" when there is none).
type SearchPage struct {
	Tenants    []*Tenant
	Prev, Next string
}

func decodeCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", invalid("cursor", "is not a cursor returned by a previous page")
	}
	return string(b), nil
}

func encodeCursor(sub string) string { return base64.RawURLEncoding.EncodeToString([]byte(sub)) }

// likePattern is q as a LIKE pattern matching it anywhere, its wildcards
// escaped.
func likePattern(q string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(q) + "%"
}

// Search returns a page of the tenants whose name or subdomain contains
// opts.Query, in opts.Status, by subdomain; it pages both ways with keyset
// cursors, so it stays fast over many tenants.
func (s *Store) Search(ctx context.Context, opts SearchOptions) (SearchPage, error) {
	limit := opts.Limit
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	after, err := decodeCursor(opts.After)
	if err != nil {
		return SearchPage{}, err
	}
	before, err := decodeCursor(opts.Before)
	if err != nil {
		return SearchPage{}, err
	}
	back := before != ""
	cmp, order, bound := "t.subdomain > $3", "ASC", after
	if back {
		cmp, order, bound = "t.subdomain < $3", "DESC", before
	}
	q := strings.TrimSpace(opts.Query)
	rows, err := s.pool.Query(ctx, "SELECT "+tenantColumns+` FROM tenants t
		WHERE ($1 = '' OR t.status = $1)
		AND ($2 = '' OR t.subdomain ILIKE $4 OR t.name ILIKE $4)
		AND (`+cmp+` OR $3 = '') ORDER BY t.subdomain `+order+` LIMIT $5`,
		string(opts.Status), q, bound, likePattern(q), limit+1)
	if err != nil {
		return SearchPage{}, fmt.Errorf("searching tenants: %w", translate(err))
	}
	defer rows.Close()
	var out []*Tenant
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return SearchPage{}, fmt.Errorf("searching tenants: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return SearchPage{}, fmt.Errorf("searching tenants: %w", translate(err))
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	page := SearchPage{Tenants: out}
	if back {
		slices.Reverse(out)
		page.Next = opts.Before
		if more && len(out) > 0 {
			page.Prev = encodeCursor(out[0].Subdomain)
		}
		return page, nil
	}
	if more {
		page.Next = encodeCursor(out[len(out)-1].Subdomain)
	}
	if after != "" && len(out) > 0 {
		page.Prev = encodeCursor(out[0].Subdomain)
	}
	return page, nil
}

// Search returns a page of tenants matching opts (see Store.Search).
func (m *Manager) Search(ctx context.Context, opts SearchOptions) (SearchPage, error) {
	if opts.Status != "" && !opts.Status.Valid() && opts.Status != StatusProvisioning {
		return SearchPage{}, invalid("status", "must be active, suspended, maintenance or provisioning")
	}
	if len(opts.Query) > 200 {
		return SearchPage{}, invalid("q", "must be at most 200 characters")
	}
	return m.store.Search(ctx, opts)
}
