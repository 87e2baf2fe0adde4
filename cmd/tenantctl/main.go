// Command tenantctl is the operator CLI of tenantgate: create, list, show,
// suspend, activate and delete tenants, manage their locations and custom
// domains, migrate and check every tenant database (SPEC §8).
//
// Configuration comes from the environment (SPEC §3): DATABASE_URL,
// TENANT_DATABASE_TEMPLATE, TENANT_DB_PREFIX, TENANT_<SUB>_DATABASE_URL,
// REDIS_URL (caches are told about every change) and BASE_DOMAIN.
//
// Exit codes: 0 success, 1 the operation failed, 2 bad usage.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
