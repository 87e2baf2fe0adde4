package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tenantgate/tenantgate/tenantstore"
)

func init() {
	extraCommands = append(extraCommands, (*app).limitsCommand)
}

// limitsCommand is `tenantctl limits set|show|reset` (SPEC §11).
func (a *app) limitsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "limits",
		Short: "Show or change a tenant's request limits at the edge (rate, burst, requests in flight)",
		Long: `A tenant's own limits at the edge. A limit not set is the edge's default, from the
global tenant block of the Caddyfile (TENANT_RATE, TENANT_BURST, TENANT_MAX_IN_FLIGHT).
Over a limit the edge answers 429 rate_limited with Retry-After. Every edge applies a
change within a second.`,
		RunE: needSubcommand,
	}
	cmd.AddCommand(a.limitsSetCommand(), a.limitsShowCommand(), a.limitsResetCommand())
	return cmd
}

func (a *app) limitsSetCommand() *cobra.Command {
	var rate, burst, inFlight string
	cmd := &cobra.Command{
		Use:   "set <subdomain> [--rate N] [--burst N] [--max-in-flight N]",
		Short: "Set some of a tenant's limits (\"default\" returns one to the edge's default)",
		Args:  exactArgs(1, "<subdomain>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			if !f.Changed("rate") && !f.Changed("burst") && !f.Changed("max-in-flight") {
				return usageError{fmt.Errorf("limits set needs --rate, --burst or --max-in-flight")}
			}
			p := &tenantstore.LimitsPatch{}
			var err error
			if f.Changed("rate") {
				if p.RatePerSecond, err = rateSetting(rate); err != nil {
					return err
				}
			}
			if f.Changed("burst") {
				if p.Burst, err = countSetting("--burst", burst); err != nil {
					return err
				}
			}
			if f.Changed("max-in-flight") {
				if p.MaxInFlight, err = countSetting("--max-in-flight", inFlight); err != nil {
					return err
				}
			}
			return a.patchLimits(cmd, args[0], p)
		},
	}
	cmd.Flags().StringVar(&rate, "rate", "", `requests per second, fractions allowed (0.5: one every two seconds), or "default"`)
	cmd.Flags().StringVar(&burst, "burst", "", `requests that may come at once above the rate, or "default"`)
	cmd.Flags().StringVar(&inFlight, "max-in-flight", "", `requests being served at once, or "default"`)
	return cmd
}

// rateSetting parses --rate; the range is checked by the Manager.
func rateSetting(v string) (tenantstore.Setting[float64], error) {
	if strings.EqualFold(strings.TrimSpace(v), "default") {
		return tenantstore.Setting[float64]{Set: true}, nil
	}
	r, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || math.IsNaN(r) || math.IsInf(r, 0) {
		return tenantstore.Setting[float64]{}, usageError{fmt.Errorf("--rate %q: want a number of requests per second or \"default\"", v)}
	}
	return tenantstore.Setting[float64]{Set: true, Value: &r}, nil
}

// countSetting parses --burst or --max-in-flight.
func countSetting(flag, v string) (tenantstore.Setting[int], error) {
	if strings.EqualFold(strings.TrimSpace(v), "default") {
		return tenantstore.Setting[int]{Set: true}, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return tenantstore.Setting[int]{}, usageError{fmt.Errorf("%s %q: want a whole number or \"default\"", flag, v)}
	}
	return tenantstore.Setting[int]{Set: true, Value: &n}, nil
}

func (a *app) limitsShowCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show <subdomain>",
		Short: "Show a tenant's limits (\"default\": the edge's, from its Caddyfile)",
		Args:  exactArgs(1, "<subdomain>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, t, err := a.tenant(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(a.stdout).Encode(struct {
					Subdomain string                   `json:"subdomain"`
					Limits    tenantstore.TenantLimits `json:"limits"`
				}{t.Subdomain, t.Limits})
			}
			printLimits(a.stdout, t)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"subdomain": …, "limits": {…}} with null for a default`)
	return cmd
}

func (a *app) limitsResetCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "reset <subdomain>",
		Short: "Return every limit of a tenant to the edge's default",
		Args:  exactArgs(1, "<subdomain>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.patchLimits(cmd, args[0], tenantstore.ResetLimits())
		},
	}
}

// patchLimits applies p to the tenant and prints the limits it ends with.
func (a *app) patchLimits(cmd *cobra.Command, sub string, p *tenantstore.LimitsPatch) error {
	mgr, err := a.manager(cmd.Context())
	if err != nil {
		return err
	}
	t, err := mgr.Update(cmd.Context(), sub, tenantstore.Patch{Limits: p})
	if err != nil {
		return err
	}
	printLimits(a.stdout, t)
	return nil
}

func printLimits(w io.Writer, t *tenantstore.Tenant) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "tenant:\t%s\n", shown(t.Subdomain))
	// A limit the tenant leaves to its plan shows the plan's (issue 17).
	fromPlan := func(own bool, plan string) string {
		if own || plan == "default" {
			return ""
		}
		return " (from plan " + shown(t.Plan) + ")"
	}
	eff := t.EffectiveLimits()
	fmt.Fprintf(tw, "rate:\t%s%s\n", rateText(eff.RatePerSecond), fromPlan(t.Limits.RatePerSecond != nil, rateText(t.PlanLimits.RatePerSecond)))
	fmt.Fprintf(tw, "burst:\t%s%s\n", intOrDefault(eff.Burst), fromPlan(t.Limits.Burst != nil, intOrDefault(t.PlanLimits.Burst)))
	fmt.Fprintf(tw, "max in flight:\t%s%s\n", intOrDefault(eff.MaxInFlight), fromPlan(t.Limits.MaxInFlight != nil, intOrDefault(t.PlanLimits.MaxInFlight)))
	tw.Flush()
}

func intOrDefault(n *int) string {
	if n == nil {
		return "default"
	}
	return strconv.Itoa(*n)
}
