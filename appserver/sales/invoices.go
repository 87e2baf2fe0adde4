package sales

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantgate/tenantgate/appserver/httpapi"
	"github.com/tenantgate/tenantgate/appserver/reqctx"
)

// Invoice statuses and the moves between them.
var invoiceTransitions = map[string][]string{
	"draft":  {"issued", "void"},
	"issued": {"paid", "void"},
	"paid":   {},
	"void":   {},
}

// MaxInvoiceLines is the most lines one invoice may have; a write with more
// is refused (400 invalid_field lines). With headers-only lists it bounds
// the largest answer (one invoice) to about 150 KB.
const MaxInvoiceLines = 1000

// InvoiceHeader is an invoice without its lines: what GET /api/invoices
// answers, so a page of the largest invoices stays small (SPEC §9). Total and
// LineCount summarise the lines; GET /api/invoices/{id} has them.
type InvoiceHeader struct {
	ID         uuid.UUID  `json:"id"`
	Number     int64      `json:"number"`
	CustomerID uuid.UUID  `json:"customer_id"`
	LocationID *uuid.UUID `json:"location_id"`
	Status     string     `json:"status"`
	LineCount  int        `json:"line_count"`
	Total      string     `json:"total"`
	IssuedOn   *string    `json:"issued_on"`
	CreatedAt  time.Time  `json:"created_at"`
}

// Invoice is a bill to a customer, with its lines. Total and every line
// amount are computed by PostgreSQL in numeric (exact), and travel as
// decimal strings.
type Invoice struct {
	InvoiceHeader
	Lines []InvoiceLine `json:"lines"`
}

// InvoiceLine is one product on an invoice; Amount = quantity × unit price,
// rounded to cents.
type InvoiceLine struct {
	ProductID uuid.UUID `json:"product_id"`
	Quantity  string    `json:"quantity"`
	UnitPrice string    `json:"unit_price"`
	Amount    string    `json:"amount"`
}

type lineInput struct {
	ProductID string           `json:"product_id"`
	Quantity  httpapi.Decimal  `json:"quantity"`
	UnitPrice *httpapi.Decimal `json:"unit_price"`
}

type invoiceInput struct {
	CustomerID *string                        `json:"customer_id"`
	LocationID httpapi.Optional[string]       `json:"location_id"`
	Status     *string                        `json:"status"`
	IssuedOn   httpapi.Optional[httpapi.Date] `json:"issued_on"`
	Lines      *[]lineInput                   `json:"lines"`
}

func (in *invoiceInput) validate(create bool) error {
	if create && in.CustomerID == nil {
		return httpapi.InvalidField("customer_id", "is required")
	}
	if in.CustomerID != nil {
		if _, ok := httpapi.ParseID(*in.CustomerID); !ok {
			return httpapi.InvalidField("customer_id", "must be a customer id")
		}
	}
	if in.Status != nil {
		if _, ok := invoiceTransitions[*in.Status]; !ok {
			return httpapi.InvalidField("status", "must be draft, issued, paid or void")
		}
	}
	if in.IssuedOn.Set && !in.IssuedOn.Null {
		if err := in.IssuedOn.Value.Check("issued_on"); err != nil {
			return err
		}
	}
	if in.Lines != nil {
		if len(*in.Lines) > MaxInvoiceLines {
			return httpapi.InvalidField("lines", fmt.Sprintf("at most %d lines", MaxInvoiceLines))
		}
		for i, l := range *in.Lines {
			f := fmt.Sprintf("lines[%d].", i)
			if _, ok := httpapi.ParseID(l.ProductID); !ok {
				return httpapi.InvalidField(f+"product_id", "must be a product id")
			}
			if err := l.Quantity.Check(f+"quantity", 3, true); err != nil {
				return err
			}
			if l.UnitPrice != nil {
				if err := l.UnitPrice.Check(f+"unit_price", 2, false); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

const invoiceColumns = `id, number, customer_id, location_id, status,
	(SELECT count(*) FROM invoice_lines l WHERE l.invoice_id = invoices.id), total::text, issued_on::text, created_at`

func scanInvoice(row pgx.Row) (InvoiceHeader, error) {
	var v InvoiceHeader
	err := row.Scan(&v.ID, &v.Number, &v.CustomerID, &v.LocationID, &v.Status, &v.LineCount, &v.Total, &v.IssuedOn, &v.CreatedAt)
	return v, err
}

// querier is what both a pool and a transaction offer.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// getInvoice loads an invoice with its lines (at most MaxInvoiceLines).
func getInvoice(ctx context.Context, q querier, id uuid.UUID) (Invoice, error) {
	h, err := one(scanInvoice(q.QueryRow(ctx, `SELECT `+invoiceColumns+` FROM invoices WHERE id = $1`, id)))
	if err != nil {
		return Invoice{}, err
	}
	rows, err := q.Query(ctx, `SELECT product_id, quantity::text, unit_price::text, amount::text
		FROM invoice_lines WHERE invoice_id = $1 ORDER BY position`, id)
	if err != nil {
		return Invoice{}, err
	}
	lines, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (InvoiceLine, error) {
		var l InvoiceLine
		err := row.Scan(&l.ProductID, &l.Quantity, &l.UnitPrice, &l.Amount)
		return l, err
	})
	if err != nil {
		return Invoice{}, err
	}
	if lines == nil {
		lines = []InvoiceLine{}
	}
	return Invoice{InvoiceHeader: h, Lines: lines}, nil
}

// replaceLines writes the invoice's lines (unit price defaulting to the
// product's price, amount rounded to cents) and recomputes its total, all
// in numeric.
func replaceLines(ctx context.Context, tx pgx.Tx, invoiceID uuid.UUID, lines []lineInput) error {
	if _, err := tx.Exec(ctx, `DELETE FROM invoice_lines WHERE invoice_id = $1`, invoiceID); err != nil {
		return err
	}
	for i, l := range lines {
		var price *string
		if l.UnitPrice != nil {
			p := string(*l.UnitPrice)
			price = &p
		}
		tag, err := tx.Exec(ctx, `INSERT INTO invoice_lines (invoice_id, position, product_id, quantity, unit_price, amount)
			SELECT $1, $2, p.id, $4::numeric, coalesce($5::numeric, p.price),
			       round($4::numeric * coalesce($5::numeric, p.price), 2)
			FROM products p WHERE p.id = $3`, invoiceID, i+1, l.ProductID, string(l.Quantity), price)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return httpapi.InvalidField(fmt.Sprintf("lines[%d].product_id", i), "no such product")
		}
	}
	_, err := tx.Exec(ctx, `UPDATE invoices SET total = (SELECT coalesce(sum(amount), 0) FROM invoice_lines WHERE invoice_id = $1) WHERE id = $1`, invoiceID)
	return err
}

func checkCustomer(ctx context.Context, tx pgx.Tx, id string) error {
	var ok bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM customers WHERE id = $1)`, id).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return httpapi.InvalidField("customer_id", "no such customer")
	}
	return nil
}

// errNoLines refuses an invoice without lines: an empty invoice is no bill.
var errNoLines = httpapi.InvalidField("lines", "add at least one line")

// deleteInvoice removes a draft; any other invoice is a record of a bill
// and stays (409 invoice_not_draft).
func (s *Server) deleteInvoice(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx) error {
		var cur string
		err := tx.QueryRow(ctx, `SELECT status FROM invoices WHERE id = $1 FOR UPDATE`, id).Scan(&cur)
		if errors.Is(err, pgx.ErrNoRows) {
			return httpapi.ErrNotFound
		}
		if err != nil {
			return err
		}
		if cur != "draft" {
			return errDeleteNotDraft
		}
		_, err = tx.Exec(ctx, `DELETE FROM invoices WHERE id = $1`, id)
		return err
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

var errDeleteNotDraft = httpapi.Conflict("invoice_not_draft", "", "only a draft invoice can be deleted; void it instead")

func (s *Server) createInvoice(w http.ResponseWriter, r *http.Request) error {
	var in invoiceInput
	if err := readInput(w, r, &in); err != nil {
		return err
	}
	status := "draft"
	if in.Status != nil {
		status = *in.Status
	}
	loc, err := s.checkLocation(r, "location_id", in.LocationID.Value)
	if err != nil {
		return err
	}
	var inv Invoice
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx) error {
		if err := checkCustomer(ctx, tx, *in.CustomerID); err != nil {
			return err
		}
		var id uuid.UUID
		// An invoice created issued or paid is dated today unless told.
		if err := tx.QueryRow(ctx, `INSERT INTO invoices (customer_id, location_id, status, issued_on)
			VALUES ($1, $2, $3, CASE WHEN $3 IN ('issued', 'paid') THEN coalesce($4::date, current_date) ELSE $4::date END)
			RETURNING id`, *in.CustomerID, loc, status, textArg(in.IssuedOn)).Scan(&id); err != nil {
			return err
		}
		if in.Lines == nil || len(*in.Lines) == 0 {
			return errNoLines
		}
		lines := *in.Lines
		if err := replaceLines(ctx, tx, id, lines); err != nil {
			return err
		}
		inv, err = getInvoice(ctx, tx, id)
		return err
	})
	if err != nil {
		return err
	}
	reqctx.InvoiceCreated(r.Context())
	httpapi.WriteJSON(w, http.StatusCreated, inv)
	return nil
}

func (s *Server) getInvoice(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	db, err := s.db(r)
	if err != nil {
		return err
	}
	inv, err := getInvoice(r.Context(), db, id)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, inv)
	return nil
}

var errNotDraft = httpapi.Conflict("invoice_not_draft", "", "only a draft invoice's customer and lines can change")

// updateInvoice changes an invoice: customer and lines while it is a draft;
// status along draft → issued → paid, or to void; location and date freely.
func (s *Server) updateInvoice(w http.ResponseWriter, r *http.Request) error {
	var in invoiceInput
	id, err := readPatch(w, r, &in)
	if err != nil {
		return err
	}
	// Absent or null, Value is "" and loc nil; $3 says whether to set it.
	loc, err := s.checkLocation(r, "location_id", in.LocationID.Value)
	if err != nil {
		return err
	}
	var inv Invoice
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx) error {
		var cur string
		err := tx.QueryRow(ctx, `SELECT status FROM invoices WHERE id = $1 FOR UPDATE`, id).Scan(&cur)
		if errors.Is(err, pgx.ErrNoRows) {
			return httpapi.ErrNotFound
		}
		if err != nil {
			return err
		}
		if (in.Lines != nil || in.CustomerID != nil) && cur != "draft" {
			return errNotDraft
		}
		next := cur
		if in.Status != nil && *in.Status != cur {
			next = *in.Status
			allowed := false
			for _, s := range invoiceTransitions[cur] {
				allowed = allowed || s == next
			}
			if !allowed {
				return httpapi.Conflict("invalid_status_change", "status", fmt.Sprintf("an invoice cannot go from %s to %s", cur, next))
			}
		}
		if in.CustomerID != nil {
			if err := checkCustomer(ctx, tx, *in.CustomerID); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE invoices SET
			customer_id = coalesce($2, customer_id),
			location_id = CASE WHEN $3 THEN $4::uuid ELSE location_id END,
			status = $5,
			issued_on = CASE WHEN $6 THEN $7::date
			                 WHEN $5 IN ('issued', 'paid') THEN coalesce(issued_on, current_date)
			                 ELSE issued_on END
			WHERE id = $1`, id, in.CustomerID, in.LocationID.Set, loc, next, in.IssuedOn.Set, textArg(in.IssuedOn)); err != nil {
			return err
		}
		if in.Lines != nil {
			if len(*in.Lines) == 0 {
				return errNoLines
			}
			if err := replaceLines(ctx, tx, id, *in.Lines); err != nil {
				return err
			}
		}
		inv, err = getInvoice(ctx, tx, id)
		return err
	})
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, inv)
	return nil
}
