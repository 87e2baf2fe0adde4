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
	switch {
	case create && in.Description == nil, in.Description != nil && *in.Description == "":
		return httpapi.InvalidField("description", "is required")
	case in.Description != nil && len(*in.Description) > 500:
		return httpapi.InvalidField("description", "must be at most 500 characters")
	case create && in.Amount == nil:
		return httpapi.InvalidField("amount", "is required")
	case create && in.SpentOn == nil:
		return httpapi.InvalidField("spent_on", "is required")
	}
	if in.Amount != nil {
		if err := in.Amount.Check("amount", 2, false); err != nil {
			return err
		}
	}
	if in.SpentOn != nil {
		return in.SpentOn.Check("spent_on")
	}
	return nil
}

const expenseColumns = `id, description, amount::text, spent_on::text, location_id, created_at`

func scanExpense(row pgx.Row) (Expense, error) {
	var e Expense
	err := row.Scan(&e.ID, &e.Description, &e.Amount, &e.SpentOn, &e.LocationID, &e.CreatedAt)
	return e, err
}

func (s *Server) listExpenses(w http.ResponseWriter, r *http.Request) error {
	return listRows(s, w, r, "expenses", expenseColumns, scanExpense,
		func(e Expense) (time.Time, uuid.UUID) { return e.CreatedAt, e.ID })
}

func (s *Server) createExpense(w http.ResponseWriter, r *http.Request) error {
	var in expenseInput
	if err := readInput(w, r, &in); err != nil {
		return err
	}
	loc, err := s.checkLocation(r, "location_id", in.LocationID.Value)
	if err != nil {
		return err
	}
	return writeRow(s, w, r, http.StatusCreated, scanExpense, `INSERT INTO expenses (description, amount, spent_on, location_id)
		VALUES ($1, $2::numeric, $3::date, $4) RETURNING `+expenseColumns,
		in.Description, string(*in.Amount), string(*in.SpentOn), loc)
}

func (s *Server) getExpense(w http.ResponseWriter, r *http.Request) error {
	return getRow(s, w, r, "expenses", expenseColumns, scanExpense)
}

func (s *Server) updateExpense(w http.ResponseWriter, r *http.Request) error {
	var in expenseInput
	id, err := readPatch(w, r, &in)
	if err != nil {
		return err
	}
	// Absent or null, Value is "" and loc nil; $5 says whether to set it.
	loc, err := s.checkLocation(r, "location_id", in.LocationID.Value)
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
