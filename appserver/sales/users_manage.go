package sales

import (
	"context"
	"net/http"
	"strings"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantgate/tenantgate/appserver/httpapi"
	"github.com/tenantgate/tenantgate/appserver/reqctx"
)

// Errors of user management.
var (
	errSelf      = httpapi.Conflict("self", "", "you cannot change your own role, deactivate or delete yourself; ask another administrator")
	errLastAdmin = httpapi.Conflict("last_admin", "", "the organization needs at least one active administrator")
)

// Seats is how many users the organization has and may have.
type Seats struct {
	Used int `json:"used"`
	Max  int `json:"max"`
}

// userSeats answers the organization's user count against its max_users
// (administrators only). Deactivated users keep their seat (they can be
// reactivated); deleting a user frees it.
func (s *Server) userSeats(w http.ResponseWriter, r *http.Request) error {
	if err := requireAdmin(r); err != nil {
		return err
	}
	db, err := s.db(r)
	if err != nil {
		return err
	}
	seats := Seats{Max: reqctx.Tenant(r.Context()).MaxUsers}
	if err := db.QueryRow(r.Context(), `SELECT count(*) FROM users`).Scan(&seats.Used); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, seats)
	return nil
}

// getUser answers one user (administrators only).
func (s *Server) getUser(w http.ResponseWriter, r *http.Request) error {
	if err := requireAdmin(r); err != nil {
		return err
	}
	return getRow(s, w, r, "users", userColumns, scanUser)
}

type updateUserRequest struct {
	Name   *string `json:"name"`
	Role   *string `json:"role"`
	Active *bool   `json:"active"`
}

// updateUser changes a user's name, role or active flag (administrators
// only). Nobody changes their own role or active flag, the last active
// administrator stays one, and a deactivated user's sessions end at once.
func (s *Server) updateUser(w http.ResponseWriter, r *http.Request) error {
	if err := requireAdmin(r); err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req updateUserRequest
	if err := httpapi.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	var fe fieldErrors
	if req.Name != nil {
		v := strings.TrimSpace(*req.Name)
		req.Name = &v
		if len(v) > 200 {
			fe.invalid("name", "must be at most 200 characters")
		}
	}
	if req.Role != nil && *req.Role != "admin" && *req.Role != "member" {
		fe.invalid("role", `must be "admin" or "member"`)
	}
	if err := fe.err(); err != nil {
		return err
	}
	me := UserFrom(r.Context())
	var u User
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx) error {
		// Serialize role and activity changes, so two administrators
		// cannot demote each other at once.
		if _, err := tx.Exec(ctx, `LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		cur, err := one(scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id)))
		if err != nil {
			return err
		}
		demote := req.Role != nil && *req.Role != cur.Role || req.Active != nil && *req.Active != cur.Active
		if demote && cur.ID == me.ID {
			return errSelf
		}
		if cur.Role == "admin" && cur.Active && (req.Role != nil && *req.Role != "admin" || req.Active != nil && !*req.Active) {
			if err := lastAdmin(ctx, tx, cur.ID); err != nil {
				return err
			}
		}
		u, err = scanUser(tx.QueryRow(ctx, `UPDATE users SET name = coalesce($2, name), role = coalesce($3, role),
			active = coalesce($4, active) WHERE id = $1 RETURNING `+userColumns, id, req.Name, req.Role, req.Active))
		if err != nil {
			return err
		}
		if !u.Active {
			_, err = tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, id)
		}
		return err
	})
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, u)
	return nil
}

// lastAdmin refuses when no active administrator but except would remain.
func lastAdmin(ctx context.Context, tx pgx.Tx, except string) error {
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM users WHERE role = 'admin' AND active AND id::text <> $1`, except).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return errLastAdmin
	}
	return nil
}

// deleteUser removes a user and their sessions (administrators only; not
// yourself, not the last active administrator), freeing a seat.
func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) error {
	if err := requireAdmin(r); err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	me := UserFrom(r.Context())
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		cur, err := one(scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id)))
		if err != nil {
			return err
		}
		if cur.ID == me.ID {
			return errSelf
		}
		if cur.Role == "admin" && cur.Active {
			if err := lastAdmin(ctx, tx, cur.ID); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `DELETE FROM users WHERE id = $1`, id)
		return err
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type passwordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// changePassword sets the logged-in user's password: the current one is
// required; the user's other sessions end, this one stays.
func (s *Server) changePassword(w http.ResponseWriter, r *http.Request) error {
	var req passwordRequest
	if err := httpapi.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	me := UserFrom(r.Context())
	if me.Support != nil {
		return errSupportSession
	}
	db, err := s.db(r)
	if err != nil {
		return err
	}
	var hash string
	if err := db.QueryRow(r.Context(), `SELECT password_hash FROM users WHERE id = $1`, me.ID).Scan(&hash); err != nil {
		return err
	}
	var fe fieldErrors
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(req.CurrentPassword)) != nil {
		fe = append(fe, &httpapi.Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: "current_password", Message: "is not your current password"})
	}
	fe.add(checkPassword("new_password", req.NewPassword))
	if err := fe.err(); err != nil {
		return err
	}
	newHash, err := bcrypt.GenerateFromPassword([]byte(req.NewPassword), s.cfg.BcryptCost)
	if err != nil {
		return err
	}
	token, _ := s.sessionToken(r)
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE users SET password_hash = $2 WHERE id = $1`, me.ID, string(newHash)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2`, me.ID, hashToken(token))
		return err
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
