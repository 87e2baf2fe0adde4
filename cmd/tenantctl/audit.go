package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// The audit command joins the tree through extraCommands.
func init() {
	extraCommands = append(extraCommands, (*app).auditCommand)
}

// defaultAuditLimit is how many of the newest entries 'tenantctl audit' shows.
const defaultAuditLimit = 50

func (a *app) auditCommand() *cobra.Command {
	var tenant string
	var asJSON bool
	var limit int
	cmd := &cobra.Command{
		Use:   "audit [--tenant SUB] [--json] [--limit N]",
		Short: "Show the audit trail: who changed what (admin API, dashboard, tenantctl), newest first",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 1 || limit > tenantstore.MaxListLimit {
				return usageError{fmt.Errorf("--limit must be from 1 to %d", tenantstore.MaxListLimit)}
			}
			ctx := cmd.Context()
			m, err := a.manager(ctx)
			if err != nil {
				return err
			}
			entries, _, err := m.Store().ListAudit(ctx, tenantstore.AuditListOptions{Subdomain: tenant, Limit: limit})
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				for _, e := range entries {
					if err := enc.Encode(e); err != nil {
						return err
					}
				}
				return nil
			}
			if len(entries) == 0 {
				fmt.Fprintln(a.stdout, "no audit entries")
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "AT\tACTOR\tIP\tACTION\tTENANT\tID")
			for _, e := range entries {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", e.At.UTC().Format("2006-01-02 15:04:05"),
					shown(string(e.Actor.Kind)+":"+e.Actor.ID), shown(e.Actor.IP), shown(e.Action), shown(e.Subdomain), e.ID)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "only the entries of the tenant with this subdomain")
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per entry and line, with before and after")
	cmd.Flags().IntVar(&limit, "limit", defaultAuditLimit, fmt.Sprintf("how many entries (1 to %d)", tenantstore.MaxListLimit))
	return cmd
}
