package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tenantgate/tenantgate/tenantops"
)

// jobsLimit is how many of the newest jobs 'tenantctl jobs' shows.
const jobsLimit = 50

func (a *app) jobsCommand() *cobra.Command {
	var tenant string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "jobs [--tenant SUB] [--json]",
		Short: "List the newest backup, restore and move jobs (from tenantctl and the admin API), newest first",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if _, err := a.manager(ctx); err != nil { // applies the control-plane migrations
				return err
			}
			jobs, err := a.listJobs(ctx, tenant)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				for _, j := range jobs {
					if err := enc.Encode(j); err != nil {
						return err
					}
				}
				return nil
			}
			if len(jobs) == 0 {
				fmt.Fprintln(a.stdout, "no jobs")
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "STARTED\tKIND\tTENANT\tSTATUS\tSTEP / ERROR\tID")
			for _, j := range jobs {
				detail := j.Step
				if j.Error != "" {
					detail = j.Error
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", j.CreatedAt.UTC().Format("2006-01-02 15:04:05"), shown(j.Kind),
					shown(j.Tenant), j.Status, shown(detail), j.ID)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "only the jobs of the tenant with this subdomain")
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per job and line")
	return cmd
}

// listJobs returns the newest jobs of the control plane (tenantops.Jobs,
// which the admin API's job list reads too), an unfinished job whose
// process stopped heartbeating reported as failed.
func (a *app) listJobs(ctx context.Context, tenant string) ([]tenantops.Job, error) {
	jobs, err := tenantops.OpenJobs(ctx, tenantops.JobsConfig{DatabaseURL: a.env("DATABASE_URL", defaultDatabaseURL)})
	if err != nil {
		return nil, fmt.Errorf("listing jobs: %w", err)
	}
	defer jobs.Close()
	list, _, err := jobs.List(ctx, tenantops.JobListOptions{Tenant: tenant, Limit: jobsLimit})
	if err != nil {
		return nil, fmt.Errorf("listing jobs: %w", err)
	}
	return list, nil
}
