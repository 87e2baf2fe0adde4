package main

import (
	"fmt"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// progressThreshold is how many tenants make migrate report progress.
var progressThreshold = 10

func (a *app) migrateCommand() *cobra.Command {
	var tenant string
	var check bool
	var parallel int
	cmd := &cobra.Command{
		Use:   "migrate [--tenant SUB] [--check] [--parallel N]",
		Short: "Apply pending tenant migrations (or, with --check, report who is behind)",
		Long: `Apply the pending tenant migrations to every tenant database (or one with --tenant),
up to --parallel at once, each migration in its own transaction. A failing tenant is
reported and the others go on; the exit code is 1 when any failed. With --check nothing
changes and the exit code is 1 when any tenant is behind or unreachable.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if parallel < 1 {
				return usageError{fmt.Errorf("--parallel must be at least 1")}
			}
			ctx := cmd.Context()
			mgr, err := a.manager(ctx)
			if err != nil {
				return err
			}
			total := 0
			if tenant == "" {
				all, err := mgr.Store().ListAll(ctx, "")
				if err != nil {
					return err
				}
				for _, t := range all {
					if t.Status != tenantstore.StatusProvisioning {
						total++
					}
				}
			}
			var done, failed atomic.Int64
			start := time.Now()
			progress := func(r tenantstore.MigrateResult) {
				n := done.Add(1)
				if r.Err != nil {
					failed.Add(1)
				}
				if total < progressThreshold {
					return
				}
				if isTerminal(a.stderr) {
					fmt.Fprintf(a.stderr, "\rmigrate: %d/%d tenants, %d failed", n, total, failed.Load())
				} else if n%int64(max(total/10, 1)) == 0 || n == int64(total) {
					fmt.Fprintf(a.stderr, "migrate: %d/%d tenants, %d failed\n", n, total, failed.Load())
				}
			}
			results, err := mgr.Migrate(ctx, tenantstore.MigrateOptions{Tenant: tenant, Check: check, Parallel: parallel, Progress: progress})
			if total >= progressThreshold && isTerminal(a.stderr) {
				fmt.Fprintln(a.stderr)
			}
			if err != nil {
				return err
			}
			return a.printMigrate(results, check, time.Since(start))
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "only the tenant with this subdomain")
	cmd.Flags().BoolVar(&check, "check", false, "change nothing; exit 1 when any tenant is behind or unreachable")
	cmd.Flags().IntVar(&parallel, "parallel", tenantstore.DefaultParallel, "tenants migrated at once")
	return cmd
}

func (a *app) printMigrate(results []tenantstore.MigrateResult, check bool, took time.Duration) error {
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	var behind, failed, changed int
	var latest int64
	for _, r := range results {
		latest = r.Latest
		switch {
		case r.Err != nil:
			failed++
			fmt.Fprintf(tw, "%s\tFAILED\tversion %d\t%v\n", r.Subdomain, r.To, r.Err)
		case check && r.Behind():
			behind++
			fmt.Fprintf(tw, "%s\tbehind\tversion %d of %d\n", r.Subdomain, r.To, r.Latest)
		case r.Applied > 0:
			changed++
			fmt.Fprintf(tw, "%s\tmigrated\tversion %d → %d\t%d applied in %s\n", r.Subdomain, r.From, r.To, r.Applied, r.Duration.Round(time.Millisecond))
		default:
			fmt.Fprintf(tw, "%s\tup to date\tversion %d\n", r.Subdomain, r.To)
		}
	}
	tw.Flush()
	if check {
		fmt.Fprintf(a.stdout, "checked %d tenants in %s: latest version %d, %d behind, %d unreachable\n",
			len(results), took.Round(time.Millisecond), latest, behind, failed)
	} else {
		fmt.Fprintf(a.stdout, "migrated %d tenants in %s: %d changed, %d up to date, %d failed\n",
			len(results), took.Round(time.Millisecond), changed, len(results)-changed-failed, failed)
	}
	if failed > 0 {
		fmt.Fprintf(a.stderr, "tenantctl: %d tenant(s) failed (listed above); fix each and run 'tenantctl migrate --tenant <subdomain>'\n", failed)
		return silentFailure
	}
	if behind > 0 {
		fmt.Fprintf(a.stderr, "tenantctl: %d tenant(s) behind; run 'tenantctl migrate'\n", behind)
		return silentFailure
	}
	return nil
}

func (a *app) checkCommand() *cobra.Command {
	var parallel int
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Connect to every tenant database and print its latency; exit 1 when any is unreachable",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if parallel < 1 {
				return usageError{fmt.Errorf("--parallel must be at least 1")}
			}
			mgr, err := a.manager(cmd.Context())
			if err != nil {
				return err
			}
			results := mgr.Check(cmd.Context(), parallel)
			if len(results) == 1 && results[0].Subdomain == "" && results[0].Err != nil {
				return results[0].Err
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			bad := 0
			for _, r := range results {
				if r.Err != nil {
					bad++
					fmt.Fprintf(tw, "%s\tUNREACHABLE\t%v\n", r.Subdomain, r.Err)
					continue
				}
				fmt.Fprintf(tw, "%s\tok\t%.1f ms\n", r.Subdomain, float64(r.Latency.Microseconds())/1000)
			}
			tw.Flush()
			fmt.Fprintf(a.stdout, "%d tenants, %d unreachable\n", len(results), bad)
			if bad > 0 {
				fmt.Fprintf(a.stderr, "tenantctl: %d tenant database(s) unreachable (listed above); check their servers and URLs ('tenantctl show <subdomain>')\n", bad)
				return silentFailure
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&parallel, "parallel", tenantstore.DefaultParallel, "databases checked at once")
	return cmd
}
