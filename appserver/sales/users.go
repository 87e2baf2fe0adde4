package sales

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantgate/tenantgate/appserver/httpapi"
	"github.com/tenantgate/tenantgate/appserver/reqctx"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// MinPasswordLength is the shortest password a user may be given.
const MinPasswordLength = 8

type createUserRequest struct {
	Email    string `json:"email"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	Password string `json:"password"`
}

func requireAdmin(r *http.Request) error {
	if u := UserFrom(r.Context()); u == nil || !u.IsAdmin() {
		return errForbidden
	}
	return nil
}

// listUsers answers the tenant's users (administrators only).
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) error {
	if err := requireAdmin(r); err != nil {
		return err
	}
	if wantsOffsetList(r) {
		return listOffset(s, w, r, userList, scanUser)
	}
	return listRows(s, w, r, "users", userColumns, scanUser,
		func(u User) (time.Time, uuid.UUID) { return u.CreatedAt, uuid.MustParse(u.ID) })
}

const userColumns = `id::text, email, name, role, active, created_at`

func scanUser(row pgx.Row) (User, error) {
	var u User
	err := row.Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.Active, &u.CreatedAt)
	return u, err
}

// userList is the searchable, sortable list of users.
var userList = listSpec{table: "users", columns: userColumns,
	search: []string{"email", "name", "role"},
	sorts:  map[string]string{"email": "lower(email)", "name": "lower(name)", "role": "role", "active": "active"}}

// checkPassword checks a new password's length: 8 to 72 bytes.
func checkPassword(field, pw string) error {
	if len(pw) < MinPasswordLength {
		return httpapi.InvalidField(field, "must be at least 8 characters")
	}
	if len(pw) > tenantstore.MaxPasswordBytes { // bytes, not runes: bcrypt's limit
		return httpapi.InvalidField(field, "must be at most 72 bytes (UTF-8)")
	}
	return nil
}

// createUser adds a user (administrators only). The tenant's max_users holds
// under concurrent creates: the users table is locked against other writers
// for the count and the insert, in one transaction.
func (s *Server) createUser(w http.ResponseWriter, r *http.Request) error {
	if err := requireAdmin(r); err != nil {
		return err
	}
	var req createUserRequest
	if err := httpapi.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	req.Email = strings.TrimSpace(req.Email)
	req.Name = strings.TrimSpace(req.Name)
	if req.Role == "" {
		req.Role = "member"
	}
	var fe fieldErrors
	fe.add(httpapiError(tenantstore.ValidateEmail("email", req.Email)))
	if len(req.Name) > 200 {
		fe.invalid("name", "must be at most 200 characters")
	}
	if req.Role != "admin" && req.Role != "member" {
		fe.invalid("role", `must be "admin" or "member"`)
	}
	fe.add(checkPassword("password", req.Password))
	if err := fe.err(); err != nil {
		return err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(req.Password), s.cfg.BcryptCost)
	if err != nil {
		return err
	}
	limit := reqctx.Tenant(r.Context()).MaxUsers
	u := User{Email: req.Email, Name: req.Name, Role: req.Role, Active: true}
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx) error {
		// SHARE ROW EXCLUSIVE conflicts with itself and with inserts, so
		// two creates cannot both count n-1 and both insert.
		if _, err := tx.Exec(ctx, `LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
			return err
		}
		if n >= limit {
			return errUserLimit
		}
		return tx.QueryRow(ctx, `INSERT INTO users (email, name, role, password_hash) VALUES ($1, $2, $3, $4) RETURNING id::text, created_at`,
			u.Email, u.Name, u.Role, string(hash)).Scan(&u.ID, &u.CreatedAt)
	})
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return httpapi.Conflict("email_taken", "email", "a user with this e-mail already exists")
	}
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusCreated, u)
	return nil
}
