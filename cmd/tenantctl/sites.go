package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tenantgate/tenantgate/tenantstore"
)

func (a *app) locationsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "locations", Short: "Manage a tenant's locations", RunE: needSubcommand}
	var name, code, address string
	add := &cobra.Command{
		Use:   "add <subdomain> --name N --code C [--address A]",
		Short: "Add a location to a tenant",
		Args:  exactArgs(1, "<subdomain>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			mgr, err := a.manager(cmd.Context())
			if err != nil {
				return err
			}
			l, err := mgr.AddLocation(cmd.Context(), args[0], tenantstore.LocationInput{Name: name, Code: code, Address: address})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "added location %s (%s) to tenant %s\n", l.Code, l.Name, args[0])
			return nil
		},
	}
	add.Flags().StringVar(&name, "name", "", "location name")
	add.Flags().StringVar(&code, "code", "", "location code, unique per tenant")
	add.Flags().StringVar(&address, "address", "", "postal address")
	_ = add.MarkFlagRequired("name")
	_ = add.MarkFlagRequired("code")

	var asJSON bool
	list := &cobra.Command{
		Use:   "list <subdomain>",
		Short: "List a tenant's locations",
		Args:  exactArgs(1, "<subdomain>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			mgr, err := a.manager(cmd.Context())
			if err != nil {
				return err
			}
			locs, err := mgr.ListLocations(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				for _, l := range locs {
					if err := enc.Encode(l); err != nil {
						return err
					}
				}
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CODE\tNAME\tADDRESS\tACTIVE")
			for _, l := range locs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", shown(l.Code), shown(l.Name), shown(l.Address), yesNo(l.Active, "yes", "no"))
			}
			return tw.Flush()
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "one JSON object per location and line")
	cmd.AddCommand(add, list)
	return cmd
}

func (a *app) domainsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "domains", Short: "Manage a tenant's custom domains", RunE: needSubcommand}
	cmd.AddCommand(&cobra.Command{
		Use:   "add <subdomain> <hostname>",
		Short: "Add a custom domain; prints the TXT record that verifies it",
		Args:  exactArgs(2, "<subdomain> <hostname>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			mgr, err := a.manager(cmd.Context())
			if err != nil {
				return err
			}
			d, err := mgr.AddDomain(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "added %s to tenant %s (unverified)\npublish this DNS record, then run 'tenantctl domains verify %s %s':\n  %s. TXT %q\n",
				d.Hostname, args[0], args[0], d.Hostname, tenantstore.VerificationRecord(d.Hostname), d.VerificationToken)
			return nil
		},
	}, &cobra.Command{
		Use:   "verify <subdomain> <hostname>",
		Short: "Verify a custom domain by its TXT record",
		Args:  exactArgs(2, "<subdomain> <hostname>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			mgr, err := a.manager(cmd.Context())
			if err != nil {
				return err
			}
			if _, ok := tenantstore.NormalizeHost(strings.TrimSpace(args[1])); !ok {
				return usageError{fmt.Errorf("%q is not a host name such as shop.example.com", args[1])}
			}
			d, err := mgr.VerifyDomain(cmd.Context(), args[0], args[1])
			var ve *tenantstore.ValidationError
			if errors.As(err, &ve) && ve.Field == "hostname" {
				// The record is not published (or not visible) yet: the
				// operation failed, the usage was right.
				return failure{human(err, "%s is not verified: %s", shown(args[1]), ve.Message)}
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s is verified for tenant %s\n", d.Hostname, args[0])
			return nil
		},
	}, &cobra.Command{
		Use:   "remove <subdomain> <hostname>",
		Short: "Remove a custom domain",
		Args:  exactArgs(2, "<subdomain> <hostname>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			mgr, err := a.manager(cmd.Context())
			if err != nil {
				return err
			}
			if err := a.confirm(fmt.Sprintf("Remove %s from tenant %s? Requests for it stop reaching the tenant.", shown(args[1]), shown(args[0])), ""); err != nil {
				return err
			}
			if err := mgr.RemoveDomain(cmd.Context(), args[0], args[1]); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "removed %s from tenant %s\n", args[1], args[0])
			return nil
		},
	}, a.domainsListCommand())
	return cmd
}

func (a *app) domainsListCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list <subdomain>",
		Short: "List a tenant's custom domains, whether each is verified, and the TXT record that verifies it",
		Args:  exactArgs(1, "<subdomain>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, t, err := a.tenant(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				for _, d := range t.Domains {
					out := struct {
						tenantstore.Domain
						TXTRecord string `json:"txt_record"`
					}{d, tenantstore.VerificationRecord(d.Hostname)}
					if err := enc.Encode(out); err != nil {
						return err
					}
				}
				return nil
			}
			if len(t.Domains) == 0 {
				fmt.Fprintf(a.stdout, "tenant %s has no custom domains; add one with 'tenantctl domains add %s <hostname>'\n", t.Subdomain, t.Subdomain)
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "HOSTNAME\tSTATUS\tTXT RECORD\tVALUE")
			for _, d := range t.Domains {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", shown(d.Hostname), yesNo(d.Verified, "verified", "unverified"),
					shown(tenantstore.VerificationRecord(d.Hostname)), shown(d.VerificationToken))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per domain and line")
	return cmd
}
