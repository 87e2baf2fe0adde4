package tenantpool

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ServerLimits are the connection settings of a PostgreSQL server.
type ServerLimits struct {
	MaxConnections    int // max_connections
	SuperuserReserved int // superuser_reserved_connections: never for tenant roles
	Reserved          int // reserved_connections (PostgreSQL 16+; 0 before)
}

// Available is how many connections roles without superuser or
// pg_use_reserved_connections (tenant roles) may open.
func (l ServerLimits) Available() int {
	return l.MaxConnections - l.SuperuserReserved - l.Reserved
}

// ReadServerLimits connects to url once and reads the server's limits.
func ReadServerLimits(ctx context.Context, url string) (ServerLimits, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return ServerLimits{}, fmt.Errorf("connecting to read max_connections: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var l ServerLimits
	// current_setting(…, true) is NULL for a setting the server lacks
	// (reserved_connections before PostgreSQL 16).
	err = conn.QueryRow(ctx, `SELECT current_setting('max_connections')::int,
		current_setting('superuser_reserved_connections')::int,
		coalesce(current_setting('reserved_connections', true), '0')::int`).Scan(&l.MaxConnections, &l.SuperuserReserved, &l.Reserved)
	if err != nil {
		return ServerLimits{}, fmt.Errorf("reading max_connections: %w", err)
	}
	return l, nil
}

// CapacityPlan is what a deployment may ask of one database server at
// most: every appserver's full budget and its own control-plane pools, plus
// a fixed margin for the edges and tenantctl.
type CapacityPlan struct {
	Appservers   int // APPSERVERS
	Budget       int // TENANT_CONNS_MAX of each
	PerAppserver int // control-plane, jobs and provisioning pools of one appserver
	Margin       int // caddy's control-plane pools, tenantctl, psql
}

// Need is the most connections the plan may open at once.
func (p CapacityPlan) Need() int {
	return p.Appservers*(p.Budget+p.PerAppserver) + p.Margin
}

// Fits reports whether the plan fits the server: its whole need within the
// connections non-superusers may open (tenant roles are never superusers;
// counting the control plane's there too leaves the reserved slots to an
// operator's psql).
func (p CapacityPlan) Fits(l ServerLimits) bool {
	return p.Need() <= l.Available()
}
