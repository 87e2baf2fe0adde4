package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenantgate/tenantgate/internal/tenanttoken"
	"github.com/tenantgate/tenantgate/tenantops"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// The operations commands (backup, restore, move) join the tree through
// extraCommands, and delete --backup-to uses the same verified backup.
func init() {
	extraCommands = append(extraCommands, (*app).backupCommand, (*app).restoreCommand, (*app).moveCommand)
	backupBeforeDelete = opsBackup
}

// operations opens the control plane (through the manager) and returns the
// tenant operations and the jobs table, so that a CLI operation excludes an
// admin-API job on the same tenant and is visible to it.
func (a *app) operations(ctx context.Context, drain time.Duration) (*tenantops.Ops, *tenantops.Jobs, error) {
	if _, err := a.manager(ctx); err != nil {
		return nil, nil, err
	}
	dbURL := a.env("DATABASE_URL", defaultDatabaseURL)
	template := a.env("TENANT_DATABASE_TEMPLATE", "")
	if template == "" {
		t, err := tenantstore.DefaultTemplate(dbURL)
		if err != nil {
			return nil, nil, usageError{err}
		}
		template = t
	}
	keys, err := a.manifestKeys()
	if err != nil && !errors.Is(err, tenantops.ErrNoManifestKey) {
		return nil, nil, err
	}
	ops, err := tenantops.New(tenantops.Config{
		Store:        a.store,
		DSN:          tenantstore.DSNConfig{Template: template, Getenv: a.getenv},
		Drain:        drain,
		Servers:      a.store,
		ManifestKeys: keys, // none: move works, backup and restore say what to set
	})
	if err != nil {
		return nil, nil, err
	}
	jobs, err := tenantops.OpenJobs(ctx, tenantops.JobsConfig{DatabaseURL: dbURL})
	if err != nil {
		return nil, nil, err
	}
	a.close = append(a.close, jobs.Close)
	return ops, jobs, nil
}

// manifestKeys are the keys that sign and check backup manifests, from
// BACKUP_KEY or else TENANT_SIGNING_KEYS (tenantops.ManifestKeys); with
// neither set it is tenantops.ErrNoManifestKey.
func (a *app) manifestKeys() ([][]byte, error) {
	var signing []tenanttoken.Key
	if s := a.env("TENANT_SIGNING_KEYS", ""); s != "" {
		keys, err := tenanttoken.ParseKeys(s)
		if err != nil {
			return nil, usageError{fmt.Errorf("TENANT_SIGNING_KEYS: %w", err)}
		}
		signing = keys
	}
	keys, err := tenantops.ManifestKeys(signing, a.env("BACKUP_KEY", ""))
	if err != nil && !errors.Is(err, tenantops.ErrNoManifestKey) {
		return nil, usageError{err}
	}
	return keys, err
}

// progress records each step of an operation in its job and shows it: a
// spinner naming the step on a terminal, nothing otherwise (the command
// prints one line when it ends). The returned stop clears the spinner.
func (a *app) progress(op, sub string, record func(string)) (func(string), func()) {
	s := a.newStepper(op + " " + sub)
	return func(step string) {
		record(step)
		s.step(op+" "+sub, step)
	}, s.finish
}

func (a *app) backupCommand() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "backup <subdomain> --output DIR",
		Short: "Dump a tenant's database (pg_dump custom format) with its SHA-256 and a manifest of row counts",
		Args:  exactArgs(1, "<subdomain>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, sub := cmd.Context(), args[0]
			ops, jobs, err := a.operations(ctx, 0)
			if err != nil {
				return err
			}
			var res *tenantops.BackupResult
			_, err = jobs.Run(ctx, tenantops.KindBackup, sub, func(ctx context.Context, progress func(string)) (any, error) {
				show, stop := a.progress("backup", sub, progress)
				defer stop()
				r, err := ops.Backup(ctx, sub, dir, show)
				res = r
				return r, err
			})
			if err != nil {
				return err
			}
			m := res.Manifest
			fmt.Fprintf(a.stdout, "backup of %s written to %s (%d bytes)\nSHA-256: %s (in %s)\nmanifest: %s (migration version %d, %s)\n",
				m.Subdomain, res.File, res.Size, res.SHA256, res.ChecksumFile, res.ManifestFile, m.MigrationVersion, rowSummary(m.Tables))
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "output", "", "directory to write the backup into (created when missing)")
	_ = cmd.MarkFlagRequired("output")
	return cmd
}

func (a *app) restoreCommand() *cobra.Command {
	var file string
	var dropOld bool
	cmd := &cobra.Command{
		Use:   "restore <subdomain> --backup FILE",
		Short: "Restore a backup into a new database, verify it, and switch the tenant to it",
		Long: "Checks the backup's checksum and manifest first (a corrupt or truncated file changes nothing), restores it\n" +
			"into a new database beside the current one, verifies the migration version and every table's row count,\n" +
			"then switches the tenant. The previous database is kept unless --drop-old.",
		Args: exactArgs(1, "<subdomain>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, sub := cmd.Context(), args[0]
			ops, jobs, err := a.operations(ctx, 0)
			if err != nil {
				return err
			}
			if err := a.confirm(fmt.Sprintf("Restore %s into tenant %s? The tenant switches to the restored copy; changes made since the backup are no longer served.",
				shown(file), shown(sub)), ""); err != nil {
				return err
			}
			var res *tenantops.RestoreResult
			_, err = jobs.Run(ctx, tenantops.KindRestore, sub, func(ctx context.Context, progress func(string)) (any, error) {
				show, stop := a.progress("restore", sub, progress)
				defer stop()
				r, err := ops.Restore(ctx, sub, file, tenantops.RestoreOptions{DropOld: dropOld}, show)
				res = r
				return r, err
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "restored %s into database %s (migration version %d, %s) and switched the tenant to it\n",
				res.Tenant, res.NewDatabase, res.MigrationVersion, rowSummary(res.Tables))
			switch {
			case res.OldDropped:
				fmt.Fprintf(a.stdout, "previous database %s dropped\n", res.OldDatabase)
			case res.Warning != "":
				fmt.Fprintf(a.stderr, "tenantctl: warning: %s\n", res.Warning)
			default:
				fmt.Fprintf(a.stdout, "previous database %s kept; drop it when satisfied (or restore with --drop-old)\n", res.OldDatabase)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&file, "backup", "", "the .dump file written by 'tenantctl backup' (its .sha256 and .json beside it)")
	cmd.Flags().BoolVar(&dropOld, "drop-old", false, "drop the previous database after the switch")
	_ = cmd.MarkFlagRequired("backup")
	return cmd
}

func (a *app) moveCommand() *cobra.Command {
	var newURL, toServer string
	var drain time.Duration
	cmd := &cobra.Command{
		Use:   "move <subdomain> --to-server NAME | --new-url URL",
		Short: "Move a tenant's database to another server: maintenance → copy → verify → switch → active",
		Long: "Creates the database named in --new-url (it must not exist), puts the tenant in maintenance (requests get 503\n" +
			"with Retry-After), waits --drain for requests under way, copies the database with pg_dump/pg_restore, verifies\n" +
			"the migration version and every table's row count, switches the tenant to --new-url and makes it active again.\n" +
			"Any failure before the switch drops the copy and makes the tenant active on its old database, untouched.\n" +
			"--to-server moves it to a registered database server (tenantctl servers list) instead, with that server's\n" +
			"operator credentials; the tenant gets its own login role there either way.",
		Args: exactArgs(1, "<subdomain>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, sub := cmd.Context(), args[0]
			if drain < 0 {
				return usageError{fmt.Errorf("--drain must not be negative")}
			}
			if (newURL == "") == (toServer == "") {
				return usageError{fmt.Errorf("give --to-server NAME or --new-url URL (one of them)")}
			}
			ops, jobs, err := a.operations(ctx, drain)
			if err != nil {
				return err
			}
			if err := a.confirm(fmt.Sprintf("Move tenant %s to another database? It is in maintenance (503) while its data is copied.", shown(sub)), ""); err != nil {
				return err
			}
			var res *tenantops.MoveResult
			_, err = jobs.Run(ctx, tenantops.KindMove, sub, func(ctx context.Context, progress func(string)) (any, error) {
				show, stop := a.progress("move", sub, progress)
				defer stop()
				move := ops.Move
				target := newURL
				if toServer != "" {
					move, target = ops.MoveToServer, toServer
				}
				r, err := move(ctx, sub, target, tenantops.MoveOptions{}, show)
				res = r
				return r, err
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "moved %s from %s/%s to %s/%s (migration version %d, %s); in maintenance for %s\n",
				res.Tenant, res.OldServer, res.OldDatabase, res.NewServer, res.NewDatabase, res.MigrationVersion,
				rowSummary(res.Tables), time.Duration(res.MaintenanceMS)*time.Millisecond)
			fmt.Fprintf(a.stdout, "the old database %s on %s is kept; drop it when satisfied\n", res.OldDatabase, res.OldServer)
			return nil
		},
	}
	cmd.Flags().StringVar(&newURL, "new-url", "", "postgres:// URL of the new database (its user must be able to create it)")
	cmd.Flags().StringVar(&toServer, "to-server", "", "registered database server to move the tenant to")
	cmd.Flags().DurationVar(&drain, "drain", tenantops.DefaultDrain, "how long to wait in maintenance for requests under way")
	return cmd
}

// opsBackup is delete --backup-to: the same verified backup as 'backup'.
func opsBackup(ctx context.Context, a *app, t *tenantstore.Tenant, dir string) (string, error) {
	ops, _, err := a.operations(ctx, 0)
	if err != nil {
		return "", err
	}
	res, err := ops.Backup(ctx, t.Subdomain, dir, nil)
	if err != nil {
		return "", err
	}
	return res.File, nil
}

// rowSummary is "N tables, M rows".
func rowSummary(tables map[string]int64) string {
	var rows int64
	for _, n := range tables {
		rows += n
	}
	return fmt.Sprintf("%d tables, %d rows", len(tables), rows)
}
