package sales

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantgate/tenantgate/appserver/httpapi"
)

// maxInvoiceSearch bounds ?q= of the invoice list.
const maxInvoiceSearch = 100

// defaultInvoiceSort is the invoice list's order without ?sort=: newest first.
const defaultInvoiceSort = "-created"

// invoiceSort is one ?sort= key of the invoice list: the expression it
// orders by and the type a cursor's value is cast back to. Both are
// constants of this package; only a key found here reaches SQL.
type invoiceSort struct{ expr, typ string }

// invoiceSorts are the invoice list's ?sort= keys ("-" first for
// descending); ties are broken by id in the same direction. Columns are
// qualified: a bare name in ORDER BY would be the output column, and
// invoiceColumns prints total as text.
var invoiceSorts = map[string]invoiceSort{
	"created": {"invoices.created_at", "timestamptz"},
	"number":  {"invoices.number", "bigint"},
	// Case-insensitive, as the other lists sort names.
	"customer": {"coalesce((SELECT lower(c.name) FROM customers c WHERE c.id = invoices.customer_id), '')", "text"},
	"status":   {"invoices.status", "text"},
	"total":    {"invoices.total", "numeric"},
	// Undated invoices (drafts) sort before every date.
	"issued": {"coalesce(invoices.issued_on, '-infinity'::date)", "date"},
}

// parseInvoiceSort reads ?sort= of the invoice list.
func parseInvoiceSort(v url.Values) (key string, sort invoiceSort, desc bool, _ error) {
	key = v.Get("sort")
	if key == "" {
		key = defaultInvoiceSort
	}
	sort, ok := invoiceSorts[strings.TrimPrefix(key, "-")]
	if !ok {
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range invoiceSorts {
				if !yield(k) {
					return
				}
			}
		})
		return "", sort, false, httpapi.InvalidField("sort", "must be one of "+strings.Join(keys, ", ")+` (prefix "-" for descending)`)
	}
	return key, sort, strings.HasPrefix(key, "-"), nil
}

// invoicePosition is a decoded cursor of the invoice list: the sort value
// (as PostgreSQL prints it) and id of an invoice.
type invoicePosition struct {
	value string
	id    uuid.UUID
}

// invoiceCursor is the cursor of the item at value, id under sort key:
// base64 of key|value|id, so a cursor of one order is refused by another.
func invoiceCursor(key, value string, id uuid.UUID) string {
	return base64.RawURLEncoding.EncodeToString([]byte(key + "|" + value + "|" + id.String()))
}

// parseInvoiceCursor decodes a cursor of ?field= made under sort key.
func parseInvoiceCursor(field, key, c string) (invoicePosition, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	k, rest, ok := strings.Cut(string(raw), "|")
	i := strings.LastIndexByte(rest, '|')
	if err != nil || !ok || i < 0 {
		return invoicePosition{}, httpapi.InvalidField(field, "malformed cursor")
	}
	id, ok := httpapi.ParseID(rest[i+1:])
	if !ok {
		return invoicePosition{}, httpapi.InvalidField(field, "malformed cursor")
	}
	if k != key {
		return invoicePosition{}, httpapi.InvalidField(field, "a cursor of another order ("+k+"); start again without it")
	}
	return invoicePosition{value: rest[:i], id: id}, nil
}

// listInvoices answers invoice headers only (a page of 500 invoices of
// 1,000 lines would otherwise be 50 MB in memory, issue 11), newest first
// or in the order of ?sort= (number, customer, status, total, issued or
// created; "-" first for descending): ?cursor= goes to the next page,
// ?before= (the first item's cursor) back to the previous one. ?q= is an
// invoice number or part of the customer's name; ?status= one status.
func (s *Server) listInvoices(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	// ParsePage reads ?limit=; the cursors of this list are its own.
	page, err := httpapi.ParsePage(&http.Request{URL: &url.URL{RawQuery: url.Values{"limit": {q.Get("limit")}}.Encode()}})
	if err != nil {
		return err
	}
	search := strings.TrimSpace(q.Get("q"))
	if len(search) > maxInvoiceSearch {
		return httpapi.InvalidField("q", fmt.Sprintf("must be at most %d characters", maxInvoiceSearch))
	}
	status := q.Get("status")
	if _, ok := invoiceTransitions[status]; status != "" && !ok {
		return httpapi.InvalidField("status", "must be draft, issued, paid or void")
	}
	key, sort, desc, err := parseInvoiceSort(q)
	if err != nil {
		return err
	}
	var number *int64
	if n, err := strconv.ParseInt(strings.TrimPrefix(search, "#"), 10, 64); err == nil {
		number = &n
	}
	cursor, before := q.Get("cursor"), q.Get("before")
	if cursor != "" && before != "" {
		return httpapi.InvalidField("before", "give cursor or before, not both")
	}
	var pos *invoicePosition
	backward := before != ""
	for field, c := range map[string]string{"cursor": cursor, "before": before} {
		if c != "" {
			p, err := parseInvoiceCursor(field, key, c)
			if err != nil {
				return err
			}
			pos = &p
		}
	}
	// Forward in a descending order is towards smaller keys; backward
	// reverses both the comparison and the order (and the page, below).
	cmp, order := ">", "ASC"
	if desc != backward {
		cmp, order = "<", "DESC"
	}
	var posValue *string
	posID := uuid.Nil
	if pos != nil {
		posValue, posID = &pos.value, pos.id
	}
	db, err := s.db(r)
	if err != nil {
		return err
	}
	// sort.expr, sort.typ, cmp and order are constants chosen above, never
	// request text; the cursor's value is a parameter cast to the key's type.
	rows, err := db.Query(r.Context(), `SELECT `+invoiceColumns+`, (`+sort.expr+`)::text AS sort_value FROM invoices
		WHERE ($1::text IS NULL OR (`+sort.expr+`, invoices.id) `+cmp+` ($1::text::`+sort.typ+`, $2::uuid))
		  AND ($4 = '' OR status = $4)
		  AND ($5 = '' OR number = $6 OR customer_id IN (SELECT id FROM customers WHERE strpos(lower(name), lower($5)) > 0))
		ORDER BY `+sort.expr+` `+order+`, invoices.id `+order+` LIMIT $3`, posValue, posID, page.Limit+1, status, search, number)
	if err != nil {
		return err
	}
	type sorted struct {
		InvoiceHeader
		value string
	}
	items, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (sorted, error) {
		var v sorted
		err := row.Scan(&v.ID, &v.Number, &v.CustomerID, &v.LocationID, &v.Status, &v.LineCount, &v.Total, &v.IssuedOn, &v.CreatedAt, &v.value)
		return v, err
	})
	if err != nil {
		return err
	}
	res := invoicePage{Page: httpapi.Page[InvoiceHeader]{Items: []InvoiceHeader{}}, Sort: key}
	more := len(items) > page.Limit
	if more {
		items = items[:page.Limit]
	}
	if backward {
		slices.Reverse(items)
	}
	if len(items) > 0 {
		for _, it := range items {
			res.Items = append(res.Items, it.InvoiceHeader)
		}
		first, last := items[0], items[len(items)-1]
		if more || backward {
			res.NextCursor = invoiceCursor(key, last.value, last.ID)
		}
		if cursor != "" || backward && more {
			res.PrevCursor = invoiceCursor(key, first.value, first.ID)
		}
	}
	httpapi.WriteJSON(w, http.StatusOK, res)
	return nil
}

// invoicePage is a page of the invoice list; PrevCursor (for ?before=) is
// set when items precede it. Sort is the order answered (its ?sort= key).
type invoicePage struct {
	httpapi.Page[InvoiceHeader]
	PrevCursor string `json:"prev_cursor"`
	Sort       string `json:"sort"`
}
