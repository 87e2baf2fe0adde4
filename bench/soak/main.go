// Command soak runs tenantgate at a thousand tenants (issue 16, SPEC §12):
// it creates the tenants and reports the create rate, drives open-loop
// random traffic, Zipf-distributed over all of them, through a real
// bin/caddy and two real bin/appservers for a while, then deletes every
// tenant (dropping its database), timed.
//
// It prints the responses by status (errors: 0 expected), the tenant
// database backends sampled every second from pg_stat_activity against
// APPSERVERS × TENANT_CONNS_MAX, each appserver's RSS and goroutines in the
// first and last minute, and p50/p99 latency measured from each request's
// scheduled send time (so a slow server cannot hide its queue).
//
// Everything it makes carries a unique prefix (databases, roles, Redis
// keys); Ctrl-C stops the processes and drops them all. Run it with
// `make bench-soak` (bin/ built first); it is not part of `make test`.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

type options struct {
	tenants     int
	parallel    int
	duration    time.Duration
	rate        int
	connsMax    int
	postgresURL string
	redisURL    string
	binDir      string
	keep        bool
}

func main() {
	var o options
	flag.IntVar(&o.tenants, "tenants", 1000, "tenants to create")
	flag.IntVar(&o.parallel, "parallel", 4, "tenants created (and deleted) at once")
	flag.DurationVar(&o.duration, "duration", 5*time.Minute, "how long to drive traffic")
	flag.IntVar(&o.rate, "rate", 50, "requests per second, sent on schedule whatever the latency (open loop)")
	flag.IntVar(&o.connsMax, "conns-max", 30, "TENANT_CONNS_MAX of each of the two appservers")
	flag.StringVar(&o.postgresURL, "postgres", envOr("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"), "PostgreSQL superuser URL (maintenance database)")
	flag.StringVar(&o.redisURL, "redis", envOr("TEST_REDIS_URL", "redis://127.0.0.1:6379/0"), "Redis URL")
	flag.StringVar(&o.binDir, "bin", "bin", "directory of caddy and appserver (make build)")
	flag.Parse()
	if o.tenants < 1 || o.parallel < 1 || o.rate < 1 || o.connsMax < 1 || o.duration <= 0 {
		fmt.Fprintln(os.Stderr, "soak: -tenants, -parallel, -rate, -conns-max and -duration must be positive")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func run(ctx context.Context, o options) (err error) {
	id := make([]byte, 4)
	_, _ = rand.Read(id)
	prefix := "tg_soak_" + hex.EncodeToString(id) + "_"
	dir, err := os.MkdirTemp("", "tg-soak-")
	if err != nil {
		return err
	}
	fmt.Printf("soak %s: %d tenants, %s at %d req/s, TENANT_CONNS_MAX %d × 2 appservers; logs in %s\n",
		prefix, o.tenants, o.duration, o.rate, o.connsMax, dir)

	w, err := newWorld(ctx, o, prefix)
	if err != nil {
		return err
	}
	// Whatever happens (Ctrl-C included), everything with the prefix goes.
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		if cerr := w.cleanup(cctx); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()

	// 1. Create.
	start := time.Now()
	created, err := w.createTenants(ctx, o.tenants, o.parallel)
	took := time.Since(start)
	fmt.Printf("\ncreate: %d tenants in %s: %.1f tenants/s (parallel %d)\n", created, took.Round(time.Millisecond), float64(created)/took.Seconds(), o.parallel)
	if err != nil {
		return err
	}

	// 2. Traffic through caddy and two appservers.
	st, err := startStack(ctx, w, dir, o)
	if err != nil {
		return err
	}
	rep, err := drive(ctx, w, st, o)
	st.stop()
	if rep != nil {
		rep.print(o)
	}
	if err != nil {
		return err
	}

	// 3. Delete, dropping the databases.
	start = time.Now()
	deleted, err := w.deleteTenants(ctx, o.parallel)
	took = time.Since(start)
	fmt.Printf("\ndelete: %d tenants (databases dropped) in %s: %.1f tenants/s (parallel %d)\n", deleted, took.Round(time.Millisecond), float64(deleted)/took.Seconds(), o.parallel)
	if err == nil {
		_ = os.RemoveAll(filepath.Clean(dir))
	}
	return err
}
