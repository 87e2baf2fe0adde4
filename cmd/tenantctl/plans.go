package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tenantgate/tenantgate/tenantstore"
)

func init() {
	extraCommands = append(extraCommands, (*app).plansCommand, (*app).featuresCommand)
}

// plansCommand is `tenantctl plans list|set` (SPEC §13).
func (a *app) plansCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plans",
		Short: "List or change plans: a user limit, limits at the edge and features",
		Long: `Every tenant is on a plan. A tenant without its own user limit or edge limits takes
its plan's, and each feature (` + strings.Join(tenantstore.KnownFeatures, ", ") + `) is its own
override, else the plan's, else on. A change reaches every edge and appserver within a second.`,
		RunE: needSubcommand,
	}
	cmd.AddCommand(a.plansListCommand(), a.plansSetCommand())
	return cmd
}

func (a *app) plansListCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--json]",
		Short: "List the plans",
		Args:  exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, _ []string) error {
			mgr, err := a.manager(cmd.Context())
			if err != nil {
				return err
			}
			plans, err := mgr.ListPlans(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				for _, p := range plans {
					if err := enc.Encode(p); err != nil {
						return err
					}
				}
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PLAN\tMAX USERS\tRATE\tBURST\tIN FLIGHT\tFEATURES\tTENANTS")
			for _, p := range plans {
				name := p.Name
				if p.Default {
					name += " (default)"
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%d\n", name, p.MaxUsers, rateText(p.Limits.RatePerSecond),
					intOrDefault(p.Limits.Burst), intOrDefault(p.Limits.MaxInFlight), featuresText(tenantstore.EffectiveFeatures(p.Features, nil)), p.Tenants)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per plan")
	return cmd
}

func (a *app) plansSetCommand() *cobra.Command {
	var maxUsers int
	var rate, burst, inFlight string
	var features []string
	var makeDefault bool
	cmd := &cobra.Command{
		Use:   "set <name> [--max-users N] [--rate N] [--burst N] [--max-in-flight N] [--feature f=on|off|default]... [--default]",
		Short: "Create a plan, or change the one of that name",
		Args:  exactArgs(1, "<name>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			var req tenantstore.PlanRequest
			var err error
			if f.Changed("max-users") {
				req.MaxUsers = &maxUsers
			}
			if f.Changed("rate") || f.Changed("burst") || f.Changed("max-in-flight") {
				req.Limits = &tenantstore.LimitsPatch{}
			}
			if f.Changed("rate") {
				if req.Limits.RatePerSecond, err = rateSetting(rate); err != nil {
					return err
				}
			}
			if f.Changed("burst") {
				if req.Limits.Burst, err = countSetting("--burst", burst); err != nil {
					return err
				}
			}
			if f.Changed("max-in-flight") {
				if req.Limits.MaxInFlight, err = countSetting("--max-in-flight", inFlight); err != nil {
					return err
				}
			}
			if req.Features, err = parseFeatures("--feature", features); err != nil {
				return err
			}
			if makeDefault {
				req.Default = &makeDefault
			}
			mgr, err := a.manager(cmd.Context())
			if err != nil {
				return err
			}
			p, err := mgr.UpdatePlan(cmd.Context(), args[0], req)
			if errors.Is(err, tenantstore.ErrNotFound) {
				p, err = mgr.CreatePlan(cmd.Context(), args[0], req)
			}
			if err != nil {
				return err
			}
			printPlan(a.stdout, p)
			return nil
		},
	}
	cmd.Flags().IntVar(&maxUsers, "max-users", 0, "user limit of the plan's tenants without their own (new plans: "+strconv.Itoa(tenantstore.DefaultMaxUsers)+")")
	cmd.Flags().StringVar(&rate, "rate", "", `requests per second at the edge, or "default" for the edge's`)
	cmd.Flags().StringVar(&burst, "burst", "", `burst at the edge, or "default"`)
	cmd.Flags().StringVar(&inFlight, "max-in-flight", "", `requests in flight at the edge, or "default"`)
	cmd.Flags().StringArrayVar(&features, "feature", nil, "feature=on|off|default (default: on, unless a tenant overrides it); repeatable")
	cmd.Flags().BoolVar(&makeDefault, "default", false, "make it the plan of tenants created without one")
	return cmd
}

// featuresCommand is `tenantctl features set <subdomain> f=on|off|default…`.
func (a *app) featuresCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "features",
		Short: "Turn a tenant's features on or off, over its plan's",
		RunE:  needSubcommand,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "set <subdomain> <feature>=on|off|default...",
		Short: `Override features for one tenant ("default" follows its plan again)`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return usageError{fmt.Errorf("%s takes <subdomain> and at least one <feature>=on|off|default", cmd.CommandPath())}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := parseFeatures("feature", args[1:])
			if err != nil {
				return err
			}
			mgr, err := a.manager(cmd.Context())
			if err != nil {
				return err
			}
			t, err := mgr.Update(cmd.Context(), args[0], tenantstore.Patch{Features: p})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s (plan %s): %s\n", shown(t.Subdomain), shown(t.Plan), featuresDetail(t))
			return nil
		},
	})
	return cmd
}

// parseFeatures reads feature=on|off|default settings; unknown feature
// names are the Manager's to refuse (features.<name>).
func parseFeatures(what string, settings []string) (tenantstore.FeaturePatch, error) {
	if len(settings) == 0 {
		return nil, nil
	}
	p := tenantstore.FeaturePatch{}
	for _, s := range settings {
		name, value, ok := strings.Cut(s, "=")
		name = strings.ToLower(strings.TrimSpace(name))
		var on *bool
		switch v := strings.ToLower(strings.TrimSpace(value)); {
		case !ok || name == "":
			return nil, usageError{fmt.Errorf("%s %q: want <feature>=on|off|default", what, s)}
		case v == "on" || v == "true":
			on = ptrTo(true)
		case v == "off" || v == "false":
			on = ptrTo(false)
		case v == "default":
		default:
			return nil, usageError{fmt.Errorf("%s %q: the value must be on, off or default", what, s)}
		}
		p[name] = on
	}
	return p, nil
}

func ptrTo[T any](v T) *T { return &v }

func rateText(r *float64) string {
	if r == nil {
		return "default"
	}
	return strconv.FormatFloat(*r, 'g', -1, 64) + "/s"
}

// featuresText lists features as "expenses on, reports off".
func featuresText(m map[string]bool) string {
	parts := make([]string, 0, len(tenantstore.KnownFeatures))
	for _, f := range tenantstore.KnownFeatures {
		parts = append(parts, f+" "+yesNo(m[f], "on", "off"))
	}
	return strings.Join(parts, ", ")
}

// featuresDetail lists a tenant's effective features, marking overrides.
func featuresDetail(t *tenantstore.Tenant) string {
	parts := make([]string, 0, len(tenantstore.KnownFeatures))
	for _, f := range tenantstore.KnownFeatures {
		s := f + " " + yesNo(t.FeatureEnabled(f), "on", "off")
		if _, own := t.FeatureOverrides[f]; own {
			s += " (override)"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

func printPlan(w io.Writer, p *tenantstore.Plan) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "plan:\t%s%s\n", p.Name, yesNo(p.Default, " (default)", ""))
	fmt.Fprintf(tw, "max users:\t%d\n", p.MaxUsers)
	fmt.Fprintf(tw, "rate:\t%s\n", rateText(p.Limits.RatePerSecond))
	fmt.Fprintf(tw, "burst:\t%s\n", intOrDefault(p.Limits.Burst))
	fmt.Fprintf(tw, "max in flight:\t%s\n", intOrDefault(p.Limits.MaxInFlight))
	fmt.Fprintf(tw, "features:\t%s\n", featuresText(tenantstore.EffectiveFeatures(p.Features, nil)))
	fmt.Fprintf(tw, "tenants:\t%d\n", p.Tenants)
	tw.Flush()
}
