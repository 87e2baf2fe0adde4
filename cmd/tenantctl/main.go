// Command tenantctl is the operator CLI of tenantgate: create, list, show,
// suspend, activate and delete tenants, manage their locations and custom
// domains, migrate and check every tenant database (SPEC §8), register the
// database servers tenants are placed on, roll migrations out over the fleet
// as recorded runs, and open psql as a tenant (SPEC §12).
//
// Configuration comes from the environment (SPEC §3): DATABASE_URL,
// TENANT_DATABASE_TEMPLATE, TENANT_DB_PREFIX, TENANT_<SUB>_DATABASE_URL,
// REDIS_URL (caches are told about every change) and BASE_DOMAIN.
//
// Destructive commands (suspend, maintenance, rename, delete, domains remove,
// restore, move) ask for confirmation when stdin and stderr are a terminal;
// --yes skips the question, and without a terminal nothing is asked, so
// scripts keep working. Progress is a bar on a terminal and one summary line
// otherwise. Errors are one sentence and what to do next; --verbose adds the
// full chain.
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
	a := newApp(os.Getenv, os.Stdout, os.Stderr)
	a.stdin = os.Stdin
	a.tty = isTerminal(os.Stderr)
	a.interactive = a.tty && isTerminal(os.Stdin)
	code := a.execute(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
