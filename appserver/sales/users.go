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
	return listRows(s, w, r, "users", `id::text, email, name, role, created_at`, func(row pgx.Row) (User, error) {
		var u User
		err := row.Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.CreatedAt)
		return u, err
	}, func(u User) (time.Time, uuid.UUID) { return u.CreatedAt, uuid.MustParse(u.ID) })
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
	if err := tenantstore.ValidateEmail("email", req.Email); err != nil {
		return err
	}
	if req.Role != "admin" && req.Role != "member" {
		return httpapi.InvalidField("role", `must be "admin" or "member"`)
	}
	if len(req.Password) < MinPasswordLength {
		return httpapi.InvalidField("password", "must be at least 8 characters")
	}
	if len(req.Password) > tenantstore.MaxPasswordBytes { // bytes, not runes: bcrypt's limit
		return httpapi.InvalidField("password", "must be at most 72 bytes (UTF-8)")
	}
	if len(req.Name) > 200 {
		return httpapi.InvalidField("name", "must be at most 200 characters")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(req.Password), s.cfg.BcryptCost)
	if err != nil {
		return err
	}
	limit := reqctx.Tenant(r.Context()).MaxUsers
	u := User{Email: req.Email, Name: req.Name, Role: req.Role}
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
