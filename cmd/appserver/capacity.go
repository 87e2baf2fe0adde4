package main

import (
	"context"
	"log/slog"
	"runtime"
	"time"

	"github.com/tenantgate/tenantgate/appserver/tenantpool"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// capacityCheckTimeout bounds the start-up read of max_connections.
const capacityCheckTimeout = 5 * time.Second

// capacityPlan is the most connections the deployment may open on the
// tenant database server: APPSERVERS × (TENANT_CONNS_MAX + each
// appserver's control-plane pool, jobs pool and provisioning pool), plus
// caddy's control-plane and certificate-storage pools and one tenantctl.
// Pools sized by pgxpool's default hold max(4, CPUs).
func capacityPlan(cfg config, cpus int) tenantpool.CapacityPlan {
	pgxDefault := max(4, cpus)
	const jobs, provisioning = 4, 4
	return tenantpool.CapacityPlan{
		Appservers:   cfg.Appservers,
		Budget:       cfg.ConnsMax,
		PerAppserver: pgxDefault + jobs + provisioning,
		Margin:       2*pgxDefault + pgxDefault + provisioning,
	}
}

// checkServerCapacity reads max_connections of the server of
// TENANT_DATABASE_TEMPLATE and warns when the plan could exceed it. Tenants
// on other servers (an explicit URL, a registered server) are not checked.
// It never stops the start: a server that does not answer yet is only
// logged.
func checkServerCapacity(ctx context.Context, log *slog.Logger, cfg config, dsn tenantstore.DSNConfig) {
	url, err := dsn.AdminURL("postgres")
	if err != nil {
		log.Warn("connection budget not checked", slog.String("error", err.Error()))
		return
	}
	ctx, cancel := context.WithTimeout(ctx, capacityCheckTimeout)
	defer cancel()
	limits, err := tenantpool.ReadServerLimits(ctx, url)
	if err != nil {
		log.Warn("connection budget not checked: the tenant database server did not answer",
			slog.String("server", tenantstore.RedactURL(url)), slog.String("error", err.Error()))
		return
	}
	plan := capacityPlan(cfg, runtime.NumCPU())
	attrs := []any{
		slog.String("server", tenantstore.RedactURL(url)),
		slog.Int("appservers", plan.Appservers), slog.Int("tenant_conns_max", plan.Budget),
		slog.Int("needed", plan.Need()), slog.Int("max_connections", limits.MaxConnections),
		slog.Int("superuser_reserved_connections", limits.SuperuserReserved),
		slog.Int("reserved_connections", limits.Reserved), slog.Int("available", limits.Available()),
	}
	if !plan.Fits(limits) {
		log.Warn("APPSERVERS × (TENANT_CONNS_MAX + control-plane pools) + caddy and tenantctl could exceed the tenant database server's max_connections; lower TENANT_CONNS_MAX or raise max_connections", attrs...)
		return
	}
	log.Info("connection budget fits the tenant database server", attrs...)
}
