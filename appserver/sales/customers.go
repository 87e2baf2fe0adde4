package sales

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5"

	"github.com/tenantgate/tenantgate/appserver/httpapi"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// Customer is someone the tenant invoices.
type Customer struct {
	ID        uuid.UUID `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	Phone     string    `json:"phone"`
	Address   string    `json:"address"`
	CreatedAt time.Time `json:"created_at"`
}

type customerInput struct {
	Name    *string `json:"name"`
	Email   *string `json:"email"`
	Phone   *string `json:"phone"`
	Address *string `json:"address"`
}

// validate trims and checks the fields present; create requires a name.
func (in *customerInput) validate(create bool) error {
	for _, f := range []**string{&in.Name, &in.Email, &in.Phone, &in.Address} {
		if *f != nil {
			v := strings.TrimSpace(**f)
			*f = &v
		}
	}
	var fe fieldErrors
	if create && in.Name == nil || in.Name != nil && *in.Name == "" {
		fe.invalid("name", "is required")
	}
	if in.Name != nil && len(*in.Name) > 200 {
		fe.invalid("name", "must be at most 200 characters")
	}
	if in.Email != nil && *in.Email != "" {
		fe.add(httpapiError(tenantstore.ValidateEmail("email", *in.Email)))
	}
	if in.Phone != nil && len(*in.Phone) > 50 {
		fe.invalid("phone", "must be at most 50 characters")
	}
	if in.Address != nil && len(*in.Address) > 500 {
		fe.invalid("address", "must be at most 500 characters")
	}
	return fe.err()
}

// customerList is the searchable, sortable list of customers.
var customerList = listSpec{table: "customers", columns: customerColumns,
	search: []string{"name", "email", "phone", "address"},
	sorts:  map[string]string{"name": "lower(name)", "email": "lower(email)"}}

const customerColumns = `id, name, email, phone, address, created_at`

func scanCustomer(row pgx.Row) (Customer, error) {
	var c Customer
	err := row.Scan(&c.ID, &c.Name, &c.Email, &c.Phone, &c.Address, &c.CreatedAt)
	return c, err
}

// pathID is the {id} of the route; a malformed one is simply not found.
func pathID(r *http.Request) (uuid.UUID, error) {
	id, ok := httpapi.ParseID(mux.Vars(r)["id"])
	if !ok {
		return uuid.Nil, httpapi.ErrNotFound
	}
	return id, nil
}

// one maps "no row" to 404.
func one[T any](v T, err error) (T, error) {
	if errors.Is(err, pgx.ErrNoRows) {
		return v, httpapi.ErrNotFound
	}
	return v, err
}

func (s *Server) listCustomers(w http.ResponseWriter, r *http.Request) error {
	if wantsOffsetList(r) {
		return listOffset(s, w, r, customerList, scanCustomer)
	}
	return listRows(s, w, r, "customers", customerColumns, scanCustomer,
		func(c Customer) (time.Time, uuid.UUID) { return c.CreatedAt, c.ID })
}

func (s *Server) createCustomer(w http.ResponseWriter, r *http.Request) error {
	var in customerInput
	if err := readInput(w, r, &in); err != nil {
		return err
	}
	return writeRow(s, w, r, http.StatusCreated, scanCustomer, `INSERT INTO customers (name, email, phone, address)
		VALUES ($1, coalesce($2, ''), coalesce($3, ''), coalesce($4, '')) RETURNING `+customerColumns,
		in.Name, in.Email, in.Phone, in.Address)
}

func (s *Server) getCustomer(w http.ResponseWriter, r *http.Request) error {
	return getRow(s, w, r, "customers", customerColumns, scanCustomer)
}

func (s *Server) updateCustomer(w http.ResponseWriter, r *http.Request) error {
	var in customerInput
	id, err := readPatch(w, r, &in)
	if err != nil {
		return err
	}
	return writeRow(s, w, r, http.StatusOK, scanCustomer, `UPDATE customers SET
		name = coalesce($2, name), email = coalesce($3, email), phone = coalesce($4, phone), address = coalesce($5, address)
		WHERE id = $1 RETURNING `+customerColumns, id, in.Name, in.Email, in.Phone, in.Address)
}

func (s *Server) deleteCustomer(w http.ResponseWriter, r *http.Request) error {
	return s.deleteRow(w, r, "customers", "the customer has invoices")
}

// deleteRow deletes the {id} row of table (a constant, never user input);
// a row still referenced answers 409 in_use with inUse as the message.
func (s *Server) deleteRow(w http.ResponseWriter, r *http.Request, table, inUse string) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	db, err := s.db(r)
	if err != nil {
		return err
	}
	tag, err := db.Exec(r.Context(), `DELETE FROM `+table+` WHERE id = $1`, id)
	if err != nil {
		if ae, _ := httpapi.ErrorFor(err); ae.Code == "in_use" {
			return httpapi.Conflict("in_use", "", inUse)
		}
		return err
	}
	if tag.RowsAffected() == 0 {
		return httpapi.ErrNotFound
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
