package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// progressThreshold is how many tenants make migrate and check report
// progress.
var progressThreshold = 10

func (a *app) migrateCommand() *cobra.Command {
	var tenant string
	var check, asJSON bool
	var parallel int
	cmd := &cobra.Command{
		Use:   "migrate [--tenant SUB] [--check] [--parallel N] [--json]",
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
				if total, err = servedCount(ctx, mgr); err != nil {
					return err
				}
			}
			var mu sync.Mutex
			var count *counter
			if total >= progressThreshold {
				count = a.newCounter("migrate", total)
			}
			start := time.Now()
			progress := func(r tenantstore.MigrateResult) {
				if count == nil {
					return
				}
				mu.Lock()
				count.add(r.Err != nil)
				mu.Unlock()
			}
			results, err := mgr.Migrate(ctx, tenantstore.MigrateOptions{Tenant: tenant, Check: check, Parallel: parallel, Progress: progress})
			if count != nil {
				count.finish()
			}
			if err != nil {
				return err
			}
			if asJSON {
				return a.printMigrateJSON(results, check)
			}
			return a.printMigrate(results, check, time.Since(start))
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "only the tenant with this subdomain")
	cmd.Flags().BoolVar(&check, "check", false, "change nothing; exit 1 when any tenant is behind or unreachable")
	cmd.Flags().IntVar(&parallel, "parallel", tenantstore.DefaultParallel, "tenants migrated at once")
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per tenant and line instead of the table")
	return cmd
}

// servedCount is how many tenants migrate and check visit: every one not
// still provisioning.
func servedCount(ctx context.Context, mgr *tenantstore.Manager) (int, error) {
	all, err := mgr.Store().ListAll(ctx, "")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range all {
		if t.Status != tenantstore.StatusProvisioning {
			n++
		}
	}
	return n, nil
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
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Connect to every tenant database and print its latency; exit 1 when any is unreachable",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if parallel < 1 {
				return usageError{fmt.Errorf("--parallel must be at least 1")}
			}
			ctx := cmd.Context()
			mgr, err := a.manager(ctx)
			if err != nil {
				return err
			}
			// Progress as migrate shows it; --json output is for programs,
			// so it draws none.
			var count *counter
			if !asJSON {
				total, err := servedCount(ctx, mgr)
				if err != nil {
					return err
				}
				if total >= progressThreshold {
					count = a.newCounter("check", total)
				}
			}
			var progress func(tenantstore.CheckResult)
			if count != nil {
				// Check calls this one call at a time.
				progress = func(r tenantstore.CheckResult) { count.add(r.Err != nil) }
			}
			results := mgr.Check(ctx, tenantstore.CheckOptions{Parallel: parallel, Progress: progress})
			if len(results) == 1 && results[0].Subdomain == "" && results[0].Err != nil {
				return results[0].Err
			}
			if count != nil {
				count.finish()
			}
			if asJSON {
				return a.printCheckJSON(results)
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
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per tenant and line instead of the table")
	return cmd
}

// migrateLine is one tenant of 'migrate --json'.
type migrateLine struct {
	Subdomain  string `json:"subdomain"`
	Status     string `json:"status"` // migrated, up_to_date, behind, failed
	From       int64  `json:"from_version"`
	To         int64  `json:"version"`
	Latest     int64  `json:"latest_version"`
	Applied    int    `json:"applied"`
	DurationMS int64  `json:"duration_ms"`
	Error      string `json:"error,omitempty"`
}

// printMigrateJSON prints one JSON object per tenant on stdout and, as the
// table does, exits 1 when any failed (or, with check, is behind).
func (a *app) printMigrateJSON(results []tenantstore.MigrateResult, check bool) error {
	enc := json.NewEncoder(a.stdout)
	var failed, behind int
	for _, r := range results {
		l := migrateLine{Subdomain: r.Subdomain, Status: "up_to_date", From: r.From, To: r.To, Latest: r.Latest,
			Applied: r.Applied, DurationMS: r.Duration.Milliseconds()}
		switch {
		case r.Err != nil:
			failed++
			l.Status, l.Error = "failed", r.Err.Error()
		case check && r.Behind():
			behind++
			l.Status = "behind"
		case r.Applied > 0:
			l.Status = "migrated"
		}
		if err := enc.Encode(l); err != nil {
			return err
		}
	}
	if failed > 0 || behind > 0 {
		fmt.Fprintf(a.stderr, "tenantctl: %d tenant(s) failed, %d behind\n", failed, behind)
		return silentFailure
	}
	return nil
}

// printCheckJSON prints one JSON object per tenant database on stdout; the
// exit code is 1 when any is unreachable.
func (a *app) printCheckJSON(results []tenantstore.CheckResult) error {
	enc := json.NewEncoder(a.stdout)
	bad := 0
	for _, r := range results {
		l := struct {
			Subdomain string  `json:"subdomain"`
			Status    string  `json:"status"` // ok, unreachable
			LatencyMS float64 `json:"latency_ms,omitempty"`
			Error     string  `json:"error,omitempty"`
		}{Subdomain: r.Subdomain, Status: "ok", LatencyMS: float64(r.Latency.Microseconds()) / 1000}
		if r.Err != nil {
			bad++
			l.Status, l.LatencyMS, l.Error = "unreachable", 0, r.Err.Error()
		}
		if err := enc.Encode(l); err != nil {
			return err
		}
	}
	if bad > 0 {
		fmt.Fprintf(a.stderr, "tenantctl: %d tenant database(s) unreachable\n", bad)
		return silentFailure
	}
	return nil
}
