package sales

import (
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantgate/tenantgate/appserver/httpapi"
)

// The helpers below carry the steps every resource (users, customers,
// products, expenses, invoices) repeats, so each handler holds only its
// own SQL: path id → body → validation (readInput, readPatch), then the
// tenant's pool (listRows, getRow, writeRow, inTx).

// input is a request body that validates (and trims) itself; create says
// whether the fields a new record needs must be present.
type input interface {
	validate(create bool) error
}

// readInput decodes the request's JSON body into in and validates it for a
// create.
func readInput(w http.ResponseWriter, r *http.Request, in input) error {
	if err := httpapi.DecodeJSON(w, r, in); err != nil {
		return err
	}
	return in.validate(true)
}

// readPatch reads the {id} of the route (a malformed one is 404) and the
// request's JSON body into in, validated for an update: the preamble of
// every PATCH.
func readPatch(w http.ResponseWriter, r *http.Request, in input) (uuid.UUID, error) {
	id, err := pathID(r)
	if err != nil {
		return uuid.Nil, err
	}
	if err := httpapi.DecodeJSON(w, r, in); err != nil {
		return uuid.Nil, err
	}
	return id, in.validate(false)
}

// inTx runs fn in one transaction of the tenant's database, with the
// request's context.
func (s *Server) inTx(r *http.Request, fn func(ctx context.Context, tx pgx.Tx) error) error {
	db, err := s.db(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error { return fn(ctx, tx) })
}

// textArg is a PATCH field as an SQL text argument: nil when absent or
// null (the column keeps its value, or the statement decides).
func textArg[T ~string](o httpapi.Optional[T]) *string {
	if !o.Set || o.Null {
		return nil
	}
	v := string(o.Value)
	return &v
}

// listRows answers one page of table's rows, oldest first, keyed by
// (created_at, id). table and columns are constants, never user input.
func listRows[T any](s *Server, w http.ResponseWriter, r *http.Request, table, columns string,
	scan func(pgx.Row) (T, error), key func(T) (time.Time, uuid.UUID)) error {
	page, err := httpapi.ParsePage(r)
	if err != nil {
		return err
	}
	db, err := s.db(r)
	if err != nil {
		return err
	}
	rows, err := db.Query(r.Context(), `SELECT `+columns+` FROM `+table+`
		WHERE (created_at, id) > ($1, $2) ORDER BY created_at, id LIMIT $3`, page.Args()...)
	if err != nil {
		return err
	}
	items, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (T, error) { return scan(row) })
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, httpapi.MakePage(page, items, key))
	return nil
}

// getRow answers the {id} row of table, or 404.
func getRow[T any](s *Server, w http.ResponseWriter, r *http.Request, table, columns string, scan func(pgx.Row) (T, error)) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	return writeRow(s, w, r, http.StatusOK, scan, `SELECT `+columns+` FROM `+table+` WHERE id = $1`, id)
}

// writeRow runs query (an INSERT or UPDATE … RETURNING, or a SELECT) in the
// tenant's database and answers the one row it returns with status; no row
// is 404.
func writeRow[T any](s *Server, w http.ResponseWriter, r *http.Request, status int, scan func(pgx.Row) (T, error), query string, args ...any) error {
	db, err := s.db(r)
	if err != nil {
		return err
	}
	v, err := one(scan(db.QueryRow(r.Context(), query, args...)))
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, status, v)
	return nil
}
