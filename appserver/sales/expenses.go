package sales

import (
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantgate/tenantgate/appserver/httpapi"
)

// Expense is money the tenant spent, optionally at one location.
type Expense struct {
	ID          uuid.UUID  `json:"id"`
	Description string     `json:"description"`
	Amount      string     `json:"amount"`
	SpentOn     string     `json:"spent_on"`
	LocationID  *uuid.UUID `json:"location_id"`
	CreatedAt   time.Time  `json:"created_at"`
}

type expenseInput struct {
	Description *string                  `json:"description"`
	Amount      *httpapi.Decimal         `json:"amount"`
	SpentOn     *httpapi.Date            `json:"spent_on"`
	LocationID  httpapi.Optional[string] `json:"location_id"`
}

func (in *expenseInput) validate(create bool) error {
	if in.Description != nil {
		v := strings.TrimSpace(*in.Description)
		in.Description = &v
	}
	var fe fieldErrors
	switch {
	case create && in.Description == nil, in.Description != nil && *in.Description == "":
		fe.invalid("description", "is required")
	case in.Description != nil && len(*in.Description) > 500:
		fe.invalid("description", "must be at most 500 characters")
	}
	switch {
	case create && in.Amount == nil:
		fe.invalid("amount", "is required")
	case in.Amount != nil:
		fe.add(in.Amount.Check("amount", 2, false))
	}
	switch {
	case create && in.SpentOn == nil:
		fe.invalid("spent_on", "is required")
	case in.SpentOn != nil:
		fe.add(in.SpentOn.Check("spent_on"))
	}
	return fe.err()
}

// expenseList is the searchable, sortable list of expenses.
var expenseList = listSpec{table: "expenses", columns: expenseColumns,
	search: []string{"description"},
	sorts:  map[string]string{"description": "lower(description)", "amount": "amount", "spent_on": "spent_on"}}

const expenseColumns = `id, description, amount::text, spent_on::text, location_id, created_at`

func scanExpense(row pgx.Row) (Expense, error) {
	var e Expense
	err := row.Scan(&e.ID, &e.Description, &e.Amount, &e.SpentOn, &e.LocationID, &e.CreatedAt)
	return e, err
}

func (s *Server) listExpenses(w http.ResponseWriter, r *http.Request) error {
	if wantsOffsetList(r) {
		return listOffset(s, w, r, expenseList, scanExpense)
	}
	return listRows(s, w, r, "expenses", expenseColumns, scanExpense,
		func(e Expense) (time.Time, uuid.UUID) { return e.CreatedAt, e.ID })
}

func (s *Server) createExpense(w http.ResponseWriter, r *http.Request) error {
	var in expenseInput
	if err := httpapi.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	loc, err := s.checkExpense(r, &in, true)
	if err != nil {
		return err
	}
	return writeRow(s, w, r, http.StatusCreated, scanExpense, `INSERT INTO expenses (description, amount, spent_on, location_id)
		VALUES ($1, $2::numeric, $3::date, $4) RETURNING `+expenseColumns,
		in.Description, string(*in.Amount), string(*in.SpentOn), loc)
}

// checkExpense validates in and resolves its location, reporting every
// invalid field at once.
func (s *Server) checkExpense(r *http.Request, in *expenseInput, create bool) (*uuid.UUID, error) {
	fe := asFieldErrors(in.validate(create))
	loc, err := s.checkLocation(r, "location_id", in.LocationID.Value)
	if err != nil {
		if ae, _ := httpapi.ErrorFor(err); ae.Field == "" {
			return nil, err
		}
		fe.add(err)
	}
	return loc, fe.err()
}

func (s *Server) getExpense(w http.ResponseWriter, r *http.Request) error {
	return getRow(s, w, r, "expenses", expenseColumns, scanExpense)
}

func (s *Server) updateExpense(w http.ResponseWriter, r *http.Request) error {
	var in expenseInput
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := httpapi.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	// Absent or null, Value is "" and loc nil; $5 says whether to set it.
	loc, err := s.checkExpense(r, &in, false)
	if err != nil {
		return err
	}
	var amount, spent *string
	if in.Amount != nil {
		amount = (*string)(in.Amount)
	}
	if in.SpentOn != nil {
		spent = (*string)(in.SpentOn)
	}
	return writeRow(s, w, r, http.StatusOK, scanExpense, `UPDATE expenses SET
		description = coalesce($2, description), amount = coalesce($3::numeric, amount),
		spent_on = coalesce($4::date, spent_on),
		location_id = CASE WHEN $5 THEN $6::uuid ELSE location_id END
		WHERE id = $1 RETURNING `+expenseColumns, id, in.Description, amount, spent, in.LocationID.Set, loc)
}

func (s *Server) deleteExpense(w http.ResponseWriter, r *http.Request) error {
	return s.deleteRow(w, r, "expenses", "the expense is referenced")
}
