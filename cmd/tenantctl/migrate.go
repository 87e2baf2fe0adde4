package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
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
	var check, asJSON, resume bool
	var parallel, canary, maxFailures int
	cmd := &cobra.Command{
		Use:   "migrate [--canary N] [--max-failures K] [--resume] [--parallel N] [--json] | --check | --tenant SUB",
		Short: "Roll pending tenant migrations out over the fleet (or, with --check, report who is behind)",
		Long: `Apply the pending tenant migrations to every tenant database, up to --parallel at once,
each migration in its own transaction: a tenant whose migration fails stays at its last
good version. A tenant already at the latest version costs one version query.

Every rollout is a run recorded in the control plane with each tenant's outcome:
  --canary N        migrate N tenants first and stop the rollout if any of them fails;
                    the canaries are the first N tenants ordered by the SHA-256 of their
                    id: the same tenants every run, spread over the alphabet
  --max-failures K  start no more tenants once K failed (those in flight finish); the
                    rest stay pending
  --resume          continue the latest run that did not succeed: only its failed and
                    pending tenants, canaries first; it keeps the run's --max-failures
                    and --parallel unless given. Tenants created since are not added
                    (they were created at the latest version), deleted ones are skipped;
                    a run made with other migrations is not resumed (start a new one)
One rollout runs at a time. The exit code is 1 when any tenant failed or some were left
pending; the summary says how to resume.

--tenant SUB migrates one tenant outside any run; --check changes nothing and exits 1
when any tenant is behind or unreachable.

Progress is a bar on a terminal. --json prints one object per tenant as it finishes
("type":"tenant": subdomain, status migrated|up_to_date|behind|failed, from_version,
version, latest_version, applied, duration_ms, canary, error) and a last one
("type":"summary": run_id, resumed, state succeeded|failed|stopped, stop_reason,
target_version, tenants, migrated, up_to_date, behind, failed, pending, skipped,
duration_ms, resume).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkMigrateFlags(cmd, tenant, check, resume, parallel, canary, maxFailures); err != nil {
				return err
			}
			ctx := cmd.Context()
			mgr, err := a.manager(ctx)
			if err != nil {
				return err
			}
			out := &migrateOutput{a: a, json: asJSON, check: check, start: time.Now()}
			if check || tenant != "" {
				return a.migrateEach(ctx, mgr, out, tenant, parallel)
			}
			opts := tenantstore.RolloutOptions{Parallel: parallel, Canary: canary, MaxFailures: maxFailures, Resume: resume}
			if resume {
				if err := inheritRunOptions(ctx, cmd, mgr, &opts); err != nil {
					return err
				}
			}
			return a.rollout(ctx, mgr, out, opts)
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "only the tenant with this subdomain (outside any run)")
	cmd.Flags().BoolVar(&check, "check", false, "change nothing; exit 1 when any tenant is behind or unreachable")
	cmd.Flags().IntVar(&parallel, "parallel", tenantstore.DefaultParallel, "tenants migrated at once")
	cmd.Flags().IntVar(&canary, "canary", 0, "migrate this many tenants first; stop if any of them fails")
	cmd.Flags().IntVar(&maxFailures, "max-failures", 0, "start no more tenants after this many failed (0: no limit)")
	cmd.Flags().BoolVar(&resume, "resume", false, "retry only the failed and pending tenants of the latest unfinished run")
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per tenant and line, then a summary object, instead of the table")
	return cmd
}

// checkMigrateFlags refuses values and combinations that make no sense,
// naming the flag.
func checkMigrateFlags(cmd *cobra.Command, tenant string, check, resume bool, parallel, canary, maxFailures int) error {
	switch {
	case parallel < 1:
		return usageError{fmt.Errorf("--parallel must be at least 1")}
	case canary < 0:
		return usageError{fmt.Errorf("--canary must be 0 or more")}
	case maxFailures < 0:
		return usageError{fmt.Errorf("--max-failures must be 0 or more")}
	case resume && cmd.Flags().Changed("canary"):
		return usageError{fmt.Errorf("--canary cannot be used with --resume: a run's canaries are chosen when it starts")}
	}
	if check || tenant != "" {
		mode := "--check"
		if !check {
			mode = "--tenant"
		}
		for _, f := range []string{"canary", "max-failures", "resume"} {
			if cmd.Flags().Changed(f) {
				return usageError{fmt.Errorf("--%s applies to a fleet rollout, not to %s", f, mode)}
			}
		}
	}
	return nil
}

// inheritRunOptions gives a resume the --max-failures and --parallel of the
// run it continues, unless the command line sets them.
func inheritRunOptions(ctx context.Context, cmd *cobra.Command, mgr *tenantstore.Manager, opts *tenantstore.RolloutOptions) error {
	run, err := mgr.Store().LatestRun(ctx)
	if errors.Is(err, tenantstore.ErrNotFound) {
		return nil // Rollout says there is nothing to resume
	}
	if err != nil {
		return err
	}
	if !cmd.Flags().Changed("max-failures") {
		opts.MaxFailures = run.Options.MaxFailures
	}
	if !cmd.Flags().Changed("parallel") && run.Options.Parallel > 0 {
		opts.Parallel = run.Options.Parallel
	}
	return nil
}

// migrateEach is migrate --tenant and migrate --check: no run is recorded.
func (a *app) migrateEach(ctx context.Context, mgr *tenantstore.Manager, out *migrateOutput, tenant string, parallel int) error {
	results, err := mgr.Migrate(ctx, tenantstore.MigrateOptions{Tenant: tenant, Check: out.check, Parallel: parallel,
		Progress: out.add, Listed: func(n int) {
			if tenant != "" {
				n = 0 // one tenant: no progress
			}
			out.begin(n)
		}})
	out.end()
	if err != nil {
		return err
	}
	return out.finish(results, nil)
}

// rollout runs (or resumes) a recorded fleet migration.
func (a *app) rollout(ctx context.Context, mgr *tenantstore.Manager, out *migrateOutput, opts tenantstore.RolloutOptions) error {
	opts.Planned = func(p tenantstore.RolloutPlan) {
		// The plan is news on a terminal, or when it has canaries or resumes;
		// a plain run in a log gets only the summary line.
		if !out.json && (a.tty || p.Resumed || len(p.Canaries) > 0) {
			verb := "started"
			if p.Resumed {
				verb = fmt.Sprintf("resumed (%d tenant(s) already done)", p.Done)
			}
			fmt.Fprintf(a.stderr, "migration run %d %s: %d tenant(s) to bring to version %d", p.RunID, verb, p.Tenants, p.Target)
			if len(p.Canaries) > 0 {
				fmt.Fprintf(a.stderr, ", canaries first: %s", strings.Join(p.Canaries, ", "))
			}
			fmt.Fprintln(a.stderr)
		}
		out.begin(p.Tenants)
	}
	opts.Progress = out.add
	rep, err := mgr.Rollout(ctx, opts)
	out.end()
	if rep == nil {
		if errors.Is(err, tenantstore.ErrNoRun) {
			fmt.Fprintf(a.stderr, "tenantctl: nothing to resume: %v\n", err)
			return nil
		}
		if errors.Is(err, tenantstore.ErrRunTarget) {
			return human(err, "%s", err.Error())
		}
		return err
	}
	if ferr := out.finish(rep.Results, rep); ferr != nil && err == nil {
		return ferr
	}
	return err
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
