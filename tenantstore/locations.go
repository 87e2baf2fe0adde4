package tenantstore

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

const locationColumns = `id, tenant_id, name, code, address, active, created_at`

func scanLocation(row pgx.Row) (Location, error) {
	var l Location
	err := row.Scan(&l.ID, &l.TenantID, &l.Name, &l.Code, &l.Address, &l.Active, &l.CreatedAt)
	return l, translate(err)
}

// AddLocation stores a new location of l.TenantID; an empty l.ID is filled.
// A code the tenant already uses is a *ConflictError for field "code".
func (s *Store) AddLocation(ctx context.Context, l *Location) error {
	if l.ID == "" {
		l.ID = uuid.NewString()
	}
	err := s.pool.QueryRow(ctx, `INSERT INTO tenant_locations (id, tenant_id, name, code, address, active)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING created_at`,
		l.ID, l.TenantID, l.Name, l.Code, l.Address, l.Active).Scan(&l.CreatedAt)
	if err != nil {
		if isCode(err, "23503") { // foreign_key_violation: the tenant is gone
			return fmt.Errorf("adding location %q: tenant %s: %w", l.Code, l.TenantID, ErrNotFound)
		}
		return fmt.Errorf("adding location %q: %w", l.Code, translate(err))
	}
	return nil
}

// ListLocations returns the locations of a tenant ordered by code.
func (s *Store) ListLocations(ctx context.Context, tenantID string) ([]Location, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+locationColumns+" FROM tenant_locations WHERE tenant_id = $1 ORDER BY code", tenantID)
	if err != nil {
		return nil, fmt.Errorf("listing locations of tenant %s: %w", tenantID, translate(err))
	}
	locs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Location, error) { return scanLocation(r) })
	if err != nil {
		return nil, fmt.Errorf("listing locations of tenant %s: %w", tenantID, translate(err))
	}
	return locs, nil
}

// GetLocation returns the tenant's location with code, or ErrNotFound.
func (s *Store) GetLocation(ctx context.Context, tenantID, code string) (Location, error) {
	l, err := scanLocation(s.pool.QueryRow(ctx, "SELECT "+locationColumns+
		" FROM tenant_locations WHERE tenant_id = $1 AND code = $2", tenantID, code))
	if err != nil {
		return Location{}, fmt.Errorf("getting location %q: %w", code, err)
	}
	return l, nil
}

// UpdateLocation writes the name, code, address and active flag of the
// location l.ID of l.TenantID.
func (s *Store) UpdateLocation(ctx context.Context, l *Location) error {
	tag, err := s.pool.Exec(ctx, `UPDATE tenant_locations SET name = $3, code = $4, address = $5, active = $6
		WHERE id = $1 AND tenant_id = $2`, l.ID, l.TenantID, l.Name, l.Code, l.Address, l.Active)
	if err != nil {
		return fmt.Errorf("updating location %q: %w", l.Code, translate(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("updating location %q: %w", l.Code, ErrNotFound)
	}
	return nil
}

// DeleteLocation removes the tenant's location with code.
func (s *Store) DeleteLocation(ctx context.Context, tenantID, code string) error {
	tag, err := s.pool.Exec(ctx, "DELETE FROM tenant_locations WHERE tenant_id = $1 AND code = $2", tenantID, code)
	if err != nil {
		return fmt.Errorf("deleting location %q: %w", code, translate(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("deleting location %q: %w", code, ErrNotFound)
	}
	return nil
}
