package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenantgate/tenantgate/internal/actor"
	"github.com/tenantgate/tenantgate/internal/tenanttoken"
	"github.com/tenantgate/tenantgate/tenantstore"
	"github.com/tenantgate/tenantgate/tenantstore/resolver"
)

// Defaults of the environment (SPEC §3).
const (
	defaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/tenantgate?sslmode=disable"
	defaultRedisURL    = "redis://127.0.0.1:6379/0"
	defaultBaseDomain  = "localhost"
	// openTimeout bounds connecting to the control plane.
	openTimeout = 15 * time.Second
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// extraCommands lets other files of this package (operations such as
// backup, restore, move) add commands to the tree.
var extraCommands []func(a *app) *cobra.Command

// app is one invocation of tenantctl: its environment, its output and the
// control-plane connection it opens on first use.
type app struct {
	getenv         func(string) string
	stdout, stderr io.Writer

	// Tests set these before execute.
	migrations fs.FS
	lookupTXT  func(ctx context.Context, name string) ([]string, error)
	bcryptCost int
	notifier   tenantstore.Notifier // instead of the Redis publisher

	// The terminal: main sets these from os.Stdin and os.Stderr; tests
	// set them to drive prompts and progress bars.
	stdin       io.Reader
	interactive bool // stdin and stderr are a terminal: confirmations are asked
	tty         bool // stderr is a terminal: progress is a bar

	// Global flags.
	yes, verbose bool

	store *tenantstore.Store
	mgr   *tenantstore.Manager
	close []func()
}

// run executes tenantctl with args and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	return newApp(getenv, stdout, stderr).execute(ctx, args)
}

func newApp(getenv func(string) string, stdout, stderr io.Writer) *app {
	return &app{getenv: getenv, stdout: stdout, stderr: stderr}
}

// env returns the variable k, or def when it is unset or blank.
func (a *app) env(k, def string) string {
	if v := strings.TrimSpace(a.getenv(k)); v != "" {
		return v
	}
	return def
}

// usageError is bad usage: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// silentFailure is a failure the command already reported.
var silentFailure = errors.New("failed")

func (a *app) execute(ctx context.Context, args []string) int {
	defer func() {
		for i := len(a.close) - 1; i >= 0; i-- {
			a.close[i]()
		}
	}()
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	// Every change this run makes is audited as the OS user running it.
	err := root.ExecuteContext(actor.NewContext(ctx, actor.OSUser()))
	if err == nil {
		return exitOK
	}
	if errors.Is(err, silentFailure) {
		return exitFailed
	}
	if es := exitStatus(0); errors.As(err, &es) {
		return int(es) // psql's (dbshell), which reported its own errors
	}
	code := exitCode(err)
	a.report(err, code)
	return code
}

// hint says what to do about err.
func (a *app) hint(err error, code int) string {
	switch {
	case code == exitUsage:
		return "run 'tenantctl help' or 'tenantctl <command> --help' for usage"
	case errors.Is(err, errNotConfirmed):
		return "run it again and confirm, or pass --yes"
	case errors.Is(err, tenantstore.ErrStaleVersion):
		return "the tenant changed meanwhile; run the command again"
	case errors.Is(err, tenantstore.ErrDatabaseInUse):
		return "one database serves one tenant: name another database, or --adopt-existing to take over one that holds data but no tenant"
	case errors.Is(err, tenantstore.ErrNotFound):
		return "run 'tenantctl list' to see the tenants"
	case errors.Is(err, tenantstore.ErrUnavailable):
		return fmt.Sprintf("check that PostgreSQL is running at DATABASE_URL (%s) and the tenant database servers",
			tenantstore.RedactURL(a.env("DATABASE_URL", defaultDatabaseURL)))
	case serverField(err):
		return "run 'tenantctl servers list' to see the database servers, their load and which are draining"
	case errors.Is(err, tenantstore.ErrConflict):
		return "run 'tenantctl show <subdomain>' to see the tenant as it is now"
	}
	var netErr *net.OpError
	if errors.As(err, &netErr) || strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "dial error") {
		return "check that the database server is running and reachable; 'tenantctl check' tests every tenant database, 'tenantctl show <subdomain>' shows where one lives"
	}
	return ""
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "tenantctl",
		Short:         "Manage tenantgate tenants, their databases and migrations",
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help() // a first look: what can it do?
			}
			return needSubcommand(cmd, args)
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.PersistentFlags().BoolVarP(&a.yes, "yes", "y", false, "do not ask for confirmation on a terminal (without a terminal tenantctl never asks)")
	root.PersistentFlags().BoolVarP(&a.verbose, "verbose", "v", false, "print the full error chain when something fails")
	root.AddCommand(a.createCommand(), a.listCommand(), a.showCommand(),
		a.statusCommand("suspend", tenantstore.StatusSuspended), a.statusCommand("activate", tenantstore.StatusActive),
		a.statusCommand("maintenance", tenantstore.StatusMaintenance), a.renameCommand(),
		a.deleteCommand(), a.locationsCommand(), a.domainsCommand(), a.migrateCommand(), a.checkCommand(), a.jobsCommand())
	for _, f := range extraCommands {
		root.AddCommand(f(a))
	}
	return root
}

// exactArgs is cobra.ExactArgs reporting bad usage.
func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("%s takes %d argument(s): %s (got %d)", cmd.CommandPath(), n, names, len(args))}
		}
		return nil
	}
}

// needSubcommand is the RunE of commands that only group others: without a
// subcommand it is bad usage (cobra reports unknown ones for the root).
func needSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())}
	}
	return usageError{fmt.Errorf("%s needs a command; run '%s --help' to list them", cmd.CommandPath(), cmd.CommandPath())}
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())}
	}
	return nil
}

// tenant opens the control plane (a.manager) and loads the tenant whose
// subdomain is sub.
func (a *app) tenant(ctx context.Context, sub string) (*tenantstore.Manager, *tenantstore.Tenant, error) {
	mgr, err := a.manager(ctx)
	if err != nil {
		return nil, nil, err
	}
	t, err := mgr.Get(ctx, sub)
	if err != nil {
		return nil, nil, err
	}
	return mgr, t, nil
}

// manager opens the control plane and the tenant manager on first use.
func (a *app) manager(ctx context.Context) (*tenantstore.Manager, error) {
	if a.mgr != nil {
		return a.mgr, nil
	}
	dbURL := a.env("DATABASE_URL", defaultDatabaseURL)
	template := a.env("TENANT_DATABASE_TEMPLATE", "")
	if template == "" {
		t, err := tenantstore.DefaultTemplate(dbURL)
		if err != nil {
			return nil, usageError{err}
		}
		template = t
	}
	octx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	store, err := tenantstore.Open(octx, dbURL)
	if err != nil {
		return nil, err
	}
	a.close = append(a.close, store.Close)
	a.store = store
	store.SetAuditErrorHandler(func(action string, err error) {
		fmt.Fprintf(a.stderr, "tenantctl: warning: the change was made but its audit row (%s) could not be written: %v\n", action, err)
	})
	if err := a.notifyCaches(store); err != nil {
		return nil, err
	}
	var reserved []string
	if r := a.env("RESERVED_SUBDOMAINS", ""); r != "" {
		for _, s := range strings.Split(r, ",") {
			reserved = append(reserved, strings.TrimSpace(strings.ToLower(s)))
		}
	}
	mgr, err := tenantstore.NewManager(tenantstore.ManagerConfig{
		Store:          store,
		DSN:            tenantstore.DSNConfig{Template: template, Getenv: a.getenv},
		Reserved:       reserved,
		DatabasePrefix: a.env("TENANT_DB_PREFIX", tenantstore.DefaultDatabasePrefix),
		Migrations:     a.migrations,
		LookupTXT:      a.lookupTXT,
		BaseDomain:     a.env("BASE_DOMAIN", defaultBaseDomain),
		BcryptCost:     a.bcryptCost,
		// The operator on the box may name any database server; only the
		// admin API is held to TENANT_DATABASE_HOSTS.
		AnyDatabaseHost: true,
	})
	if err != nil {
		return nil, err
	}
	a.close = append(a.close, mgr.Close)
	a.mgr = mgr
	return mgr, nil
}

// notifyCaches publishes every change on Redis so edges and appservers drop
// their cached copies; when Redis is unreachable the change still stands
// and a warning says caches catch up when their entries expire. The entries
// it leaves in Redis are authenticated like the resolvers' (SPEC §9), so it
// needs TENANT_SIGNING_KEYS or CACHE_KEY: without either it refuses (bad
// usage) rather than write entries every cache would reject.
func (a *app) notifyCaches(store *tenantstore.Store) error {
	if a.notifier != nil {
		store.SetNotifier(a.notifier)
		return nil
	}
	var signing []tenanttoken.Key
	if s := a.env("TENANT_SIGNING_KEYS", ""); s != "" {
		var err error
		if signing, err = tenanttoken.ParseKeys(s); err != nil {
			return usageError{fmt.Errorf("TENANT_SIGNING_KEYS: %w", err)}
		}
	}
	macKeys, err := resolver.EntryKeys(a.getenv("CACHE_KEY"), signing)
	if err != nil {
		return usageError{fmt.Errorf("%w (tenantctl marks changed tenants in the Redis cache, whose entries are authenticated)", err)}
	}
	rdb, err := resolver.NewRedisClient(a.env("REDIS_URL", defaultRedisURL))
	if err != nil {
		fmt.Fprintf(a.stderr, "tenantctl: warning: REDIS_URL: %v; caches will not be told about changes\n", err)
		return nil
	}
	a.close = append(a.close, func() { _ = rdb.Close() })
	pub, err := resolver.NewPublisher(rdb, resolver.Config{
		BaseDomain: a.env("BASE_DOMAIN", defaultBaseDomain),
		// Empty means the resolver's default, the same as caddy's and the appserver's.
		KeyPrefix: a.env("REDIS_KEY_PREFIX", ""),
		MACKeys:   macKeys,
	})
	if err != nil {
		return err
	}
	store.SetNotifier(pub)
	store.SetNotifyErrorHandler(func(c tenantstore.Change, err error) {
		fmt.Fprintf(a.stderr, "tenantctl: warning: telling caches about the change failed (%v); they catch up within their TTL\n", err)
	})
	return nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
