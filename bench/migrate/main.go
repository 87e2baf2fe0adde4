// Command migrate measures migrations across a fleet of tenants on the real
// PostgreSQL (make bench-migrate; not part of make test):
//
//  1. creates -tenants tenants (default 1,000) under a unique database
//     prefix and a control plane of their own, and reports the create rate;
//  2. times `bin/tenantctl migrate --check` over them, all up to date
//     (target ≤ 5 s), and the same check and an up-to-date rollout
//     in-process;
//  3. times a rollout at -parallel (default 8) applying one added column to
//     every tenant (target ≤ 2 min): the column migration exists only in
//     this program's migrations (the real ones plus one file), handed to
//     tenantstore.NewManager, so no binary has a switch to run other SQL;
//  4. deletes every tenant (timed), its databases, roles and the control
//     plane, also after Ctrl-C.
//
// Environment: BENCH_POSTGRES_URL (the server's maintenance database;
// default postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable),
// REDIS_URL (tenantctl starts its cache notifier; default the local Redis).
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/tenantgate/tenantgate/internal/testenv"
	"github.com/tenantgate/tenantgate/migrations"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// Targets of issue 16 on the 2-core development machine.
const (
	checkTarget = 5 * time.Second
	applyTarget = 2 * time.Minute
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/migrate:", err)
		os.Exit(1)
	}
}

type bench struct {
	server    string // maintenance database URL
	control   string // control-plane database URL
	controlDB string // its name
	prefix    string
	tenants   int
	create    int // tenants created at once
	parallel  int
	bin       string
}

func run() error {
	b := bench{}
	flag.IntVar(&b.tenants, "tenants", 1000, "tenants to create")
	flag.IntVar(&b.create, "create-parallel", 4, "tenants created at once")
	flag.IntVar(&b.parallel, "parallel", tenantstore.DefaultParallel, "tenants migrated at once")
	flag.StringVar(&b.bin, "tenantctl", "bin/tenantctl", "the tenantctl binary timed for migrate --check")
	flag.Parse()
	b.server = os.Getenv("BENCH_POSTGRES_URL")
	if b.server == "" {
		b.server = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	suffix := randomHex(4)
	b.prefix = "bm" + suffix + "_"
	b.controlDB = "tenantgate_bench_migrate_" + suffix
	b.control = strings.Replace(b.server, "/postgres?", "/"+b.controlDB+"?", 1)
	if b.control == b.server {
		return errors.New("BENCH_POSTGRES_URL must name the database postgres with a query string (…/postgres?sslmode=disable)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Printf("tenants %d, database prefix %s, control plane %s\n", b.tenants, b.prefix, tenantstore.RedactURL(b.control))
	err := b.measure(ctx)
	if cerr := b.cleanup(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("cleaning up (drop databases and roles starting with %s by hand): %w", b.prefix, cerr))
	}
	return err
}

func randomHex(n int) string {
	p := make([]byte, n)
	_, _ = rand.Read(p)
	return hex.EncodeToString(p)
}

// manager opens a Manager on the bench's control plane with fsys as the
// tenant migrations.
func (b *bench) manager(ctx context.Context, fsys fs.FS) (*tenantstore.Manager, func(), error) {
	store, err := tenantstore.Open(ctx, b.control)
	if err != nil {
		return nil, nil, err
	}
	tmpl, err := tenantstore.DefaultTemplate(b.server)
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	m, err := tenantstore.NewManager(tenantstore.ManagerConfig{Store: store, DSN: tenantstore.DSNConfig{Template: tmpl},
		DatabasePrefix: b.prefix, BcryptCost: 4, Migrations: fsys})
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return m, func() { m.Close(); store.Close() }, nil
}

func (b *bench) measure(ctx context.Context) error {
	m, closeM, err := b.manager(ctx, nil)
	if err != nil {
		return err
	}
	defer closeM()

	start := time.Now()
	var created atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(b.create)
	for i := range b.tenants {
		g.Go(func() error {
			sub := fmt.Sprintf("bench-%04d", i)
			if _, _, err := m.Create(gctx, tenantstore.CreateRequest{Name: "Bench " + sub, Subdomain: sub,
				AdminEmail: "admin@" + sub + ".test", AdminPassword: "bench-password"}); err != nil {
				return fmt.Errorf("creating %s: %w", sub, err)
			}
			if n := created.Add(1); n%100 == 0 {
				fmt.Printf("  created %d in %s\n", n, time.Since(start).Round(time.Second))
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	took := time.Since(start)
	fmt.Printf("create: %d tenants in %s (%.1f/s, %d at once)\n", b.tenants, took.Round(time.Millisecond), float64(b.tenants)/took.Seconds(), b.create)

	// The first pass over freshly created databases is reported apart: it
	// may pay for caches (the relcache init file) the next one finds.
	for _, pass := range []string{"first", "second"} {
		took, err := b.tenantctlCheck(ctx)
		if err != nil {
			return err
		}
		verdict("bin/tenantctl migrate --check, "+pass+" pass (up to date, process included)", took, checkTarget)
	}

	start = time.Now()
	results, err := m.Migrate(ctx, tenantstore.MigrateOptions{Check: true, Parallel: b.parallel})
	if err != nil {
		return err
	}
	if bad := notOK(results); bad != 0 {
		return fmt.Errorf("check in-process: %d tenants not up to date", bad)
	}
	verdict("in-process check (up to date)", time.Since(start), checkTarget)

	rep, took, err := b.rollout(ctx, m)
	if err != nil {
		return err
	}
	fmt.Printf("rollout with nothing to apply (run %d, %s): %s\n", rep.RunID, rep.State, took.Round(time.Millisecond))

	// The added column: the real migrations plus one file.
	fsys, err := testenv.CopyFS(migrations.Tenant())
	if err != nil {
		return err
	}
	fsys["09999_bench_column.sql"] = &fstest.MapFile{Data: []byte(
		"-- +goose Up\nALTER TABLE customers ADD COLUMN bench_note text;\n-- +goose Down\nALTER TABLE customers DROP COLUMN bench_note;\n")}
	m2, close2, err := b.manager(ctx, fsys)
	if err != nil {
		return err
	}
	defer close2()
	rep, took, err = b.rollout(ctx, m2)
	if err != nil {
		return err
	}
	if rep.State != tenantstore.RunSucceeded || rep.Counts.OK != b.tenants {
		return fmt.Errorf("applying the column: run %d %s, %d ok of %d", rep.RunID, rep.State, rep.Counts.OK, b.tenants)
	}
	verdict(fmt.Sprintf("rollout applying one column at --parallel %d (run %d)", b.parallel, rep.RunID), took, applyTarget)

	start = time.Now()
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(b.create)
	for i := range b.tenants {
		g.Go(func() error {
			sub := fmt.Sprintf("bench-%04d", i)
			if _, err := m.SetStatus(gctx, sub, tenantstore.StatusSuspended); err != nil {
				return err
			}
			_, err := m.Delete(gctx, sub, tenantstore.DeleteOptions{DropDatabase: true})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("deleting: %w", err)
	}
	took = time.Since(start)
	fmt.Printf("delete: %d tenants in %s (%.1f/s)\n", b.tenants, took.Round(time.Millisecond), float64(b.tenants)/took.Seconds())
	return nil
}

func notOK(results []tenantstore.MigrateResult) int {
	n := 0
	for _, r := range results {
		if !r.OK() {
			n++
		}
	}
	return n
}

func (b *bench) rollout(ctx context.Context, m *tenantstore.Manager) (*tenantstore.RolloutReport, time.Duration, error) {
	start := time.Now()
	rep, err := m.Rollout(ctx, tenantstore.RolloutOptions{Parallel: b.parallel})
	return rep, time.Since(start), err
}

// tenantctlCheck runs bin/tenantctl migrate --check against the bench's
// control plane and returns how long it took.
func (b *bench) tenantctlCheck(ctx context.Context) (time.Duration, error) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	tmpl, _ := tenantstore.DefaultTemplate(b.server)
	cmd := exec.CommandContext(ctx, b.bin, "migrate", "--check", "--parallel", fmt.Sprint(b.parallel), "--json")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+b.control, "TENANT_DATABASE_TEMPLATE="+tmpl,
		"TENANT_DB_PREFIX="+b.prefix, "CACHE_KEY="+base64.StdEncoding.EncodeToString(key))
	start := time.Now()
	out, err := cmd.Output()
	took := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("%s migrate --check: %w (last output %q)", b.bin, err, tail(out))
	}
	return took, nil
}

func tail(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func verdict(what string, took, target time.Duration) {
	v := "within"
	if took > target {
		v = "OVER"
	}
	fmt.Printf("%s: %s (%s the target of %s)\n", what, took.Round(time.Millisecond), v, target)
}

// cleanup drops whatever the bench left: databases and roles under its
// prefix (templates, tenants a failure left) and the control plane.
func (b *bench) cleanup() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, b.server)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	pattern := strings.ReplaceAll(b.prefix, "_", `\_`) + "%"
	var errs []error
	for _, q := range []struct{ list, drop string }{
		{"SELECT datname FROM pg_database WHERE datname LIKE $1 OR datname = $2", "DROP DATABASE IF EXISTS %s WITH (FORCE)"},
		{"SELECT rolname FROM pg_roles WHERE rolname LIKE $1 OR rolname = $2", "DROP ROLE IF EXISTS %s"},
	} {
		rows, _ := conn.Query(ctx, q.list, pattern, b.controlDB)
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, n := range names {
			if _, err := conn.Exec(ctx, fmt.Sprintf(q.drop, pgx.Identifier{n}.Sanitize())); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
