package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/tenantgate/tenantgate/tenantstore"
)

func init() {
	extraCommands = append(extraCommands, (*app).dbshellCommand)
}

// exitStatus is the exit code of a program tenantctl ran on the user's
// behalf (psql), returned as tenantctl's own.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func (a *app) dbshellCommand() *cobra.Command {
	var psql string
	cmd := &cobra.Command{
		Use:   "dbshell <subdomain> [-- psql arguments]",
		Short: "Open psql on a tenant's database as the tenant's own role",
		Long: `Run psql on the tenant's database with the credentials the application uses: the
tenant's login role (or its explicit URL's user, or TENANT_<SUB>_DATABASE_URL's).
Arguments after -- go to psql, e.g.

  tenantctl dbshell acme -- -Atc 'select current_user'

The password is written to a temporary PGPASSFILE (mode 0600, in a private
directory under $XDG_RUNTIME_DIR or $TMPDIR) that is removed when psql exits,
also after an error or SIGTERM/SIGHUP (which are passed on to psql). It never
appears on a command line or in psql's environment: psql gets PGHOST, PGPORT,
PGDATABASE, PGUSER, the URL's TLS and connection settings as PG* variables,
PGPASSFILE, and only harmless variables of tenantctl's environment (PATH, HOME,
TERM, locale, PAGER, EDITOR, PSQL*), never DATABASE_URL, keys or tokens.
Suspended tenants and tenants in maintenance are opened too (a note says so).
The exit code is psql's.`,
		Args: func(cmd *cobra.Command, args []string) error {
			n := cmd.ArgsLenAtDash()
			if n < 0 {
				n = len(args)
			}
			if n != 1 {
				return usageError{fmt.Errorf("%s takes one subdomain, then -- and psql's arguments (got %d before --)", cmd.CommandPath(), n)}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			mgr, t, err := a.tenant(ctx, args[0])
			if err != nil {
				return err
			}
			if t.Status != tenantstore.StatusActive {
				fmt.Fprintf(a.stderr, "tenantctl: note: tenant %q is %s; opening its database anyway\n", t.Subdomain, t.Status)
			}
			u, err := mgr.DatabaseURL(t)
			if err != nil {
				return err
			}
			conn, err := psqlConnection(u)
			if err != nil {
				return fmt.Errorf("tenant %q: %w", t.Subdomain, err)
			}
			return a.runPsql(psql, conn, args[1:])
		},
	}
	cmd.Flags().StringVar(&psql, "psql", "psql", "the psql program to run")
	return cmd
}

// runPsql runs psql with args on conn, the password in a private
// PGPASSFILE that is removed afterwards, and returns psql's exit status.
func (a *app) runPsql(psql string, conn *psqlConn, args []string) error {
	path, err := exec.LookPath(psql)
	if err != nil {
		return human(err, "%s not found; install the PostgreSQL client (apt-get install postgresql-client) or pass --psql", psql)
	}
	// Signals first: from here on a SIGTERM or SIGHUP cannot kill
	// tenantctl before the passfile is removed; they are passed to psql.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)

	dir, err := a.privateDir()
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	passfile := filepath.Join(dir, "pgpass")
	if err := writePassfile(passfile, conn.user, conn.password); err != nil {
		return err
	}
	cmd := exec.Command(path, args...)
	cmd.Env = append(psqlEnviron(os.Environ()), append(conn.env, "PGPASSFILE="+passfile)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = a.stdin, a.stdout, a.stderr
	if cmd.Stdin == nil {
		cmd.Stdin = os.Stdin
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", psql, err)
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case s := <-sigs:
				_ = cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err = cmd.Wait()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		return exitStatus(ee.ExitCode())
	case errors.As(err, &ee):
		return exitStatus(exitFailed) // killed by a signal
	case err != nil:
		return fmt.Errorf("running %s: %w", psql, err)
	}
	return nil
}

// privateDir makes a directory only this user can enter, under
// XDG_RUNTIME_DIR (a per-user tmpfs) when set and usable, else TMPDIR.
func (a *app) privateDir() (string, error) {
	var lastErr error
	for _, base := range []string{a.getenv("XDG_RUNTIME_DIR"), a.getenv("TMPDIR"), os.TempDir()} {
		if base == "" {
			continue
		}
		dir, err := os.MkdirTemp(base, "tenantctl-dbshell-") // mode 0700
		if err == nil {
			return dir, nil
		}
		lastErr = err
	}
	return "", fmt.Errorf("creating a private directory for the password file: %w", lastErr)
}

// writePassfile writes a one-line PostgreSQL password file for user, mode
// 0600, refusing to follow or replace an existing file.
func writePassfile(path, user, password string) error {
	if strings.ContainsAny(password, "\r\n") || strings.ContainsAny(user, "\r\n") {
		return errors.New("the database password or user holds a line break, which a password file cannot carry")
	}
	esc := strings.NewReplacer(`\`, `\\`, `:`, `\:`)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("creating the password file: %w", err)
	}
	_, err = fmt.Fprintf(f, "*:*:*:%s:%s\n", esc.Replace(user), esc.Replace(password))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing the password file: %w", err)
	}
	return nil
}

// psqlEnviron keeps the variables of environ that psql and the user's
// terminal need and that carry no secret: every PG* variable (the operator's
// own PGPASSWORD, PGSERVICE…) and tenantgate's settings are dropped.
func psqlEnviron(environ []string) []string {
	keep := map[string]bool{"PATH": true, "HOME": true, "USER": true, "LOGNAME": true, "SHELL": true, "TERM": true,
		"COLORTERM": true, "LANG": true, "LANGUAGE": true, "TZ": true, "PAGER": true, "LESS": true, "EDITOR": true,
		"VISUAL": true, "COLUMNS": true, "LINES": true, "TMPDIR": true}
	var out []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if keep[k] || strings.HasPrefix(k, "LC_") || strings.HasPrefix(k, "PSQL") {
			out = append(out, kv)
		}
	}
	return out
}
