package sales

import (
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantgate/tenantgate/appserver/httpapi"
)

// The helpers below carry the steps every simple resource (customers,
// products, expenses) repeats, so each handler holds only its own SQL.

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
