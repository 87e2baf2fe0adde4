package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// The servers commands join the tree through extraCommands.
func init() {
	extraCommands = append(extraCommands, (*app).serversCommand)
}

func (a *app) serversCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "servers",
		Short: "Register database servers and see their load: add, list, drain, undrain, set",
		Long: `Tenant databases are placed on registered PostgreSQL servers. "default" is the server of
TENANT_DATABASE_TEMPLATE and is always registered. 'create' places a new tenant on the least
loaded accepting server (not draining, under capacity: fewest tenants against capacity,
then smallest total database size) unless --server names one; 'move --to-server' moves a
tenant to one.`,
		RunE: needSubcommand,
	}
	cmd.AddCommand(a.serversAddCommand(), a.serversListCommand(),
		a.serversDrainCommand("drain", true), a.serversDrainCommand("undrain", false), a.serversSetCommand())
	return cmd
}

func (a *app) serversAddCommand() *cobra.Command {
	var capacity int
	var pwEnv string
	cmd := &cobra.Command{
		Use:   "add <name> <url>",
		Short: "Register a database server; its operator role must be able to create databases and roles",
		Long: `Register a PostgreSQL server under <name> (a-z, 0-9, '_', '-'). <url> reaches it as an
operator role that may create databases and roles (CREATEDB and CREATEROLE, or superuser),
e.g. postgres://tenantgate_ops@db2.internal:5432/postgres?sslmode=require. The URL must not
hold a password: put it in an environment variable ending in _PASSWORD, set in every
tenantctl and appserver, and name it with --password-env (or use a .pgpass file). The
server is checked before it is registered.`,
		Args: exactArgs(2, "<name> <url>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("capacity") && capacity < 1 {
				return usageError{fmt.Errorf("--capacity must be at least 1")}
			}
			mgr, err := a.manager(cmd.Context())
			if err != nil {
				return err
			}
			s, err := mgr.AddServer(cmd.Context(), tenantstore.AddServerRequest{Name: args[0], URL: args[1], PasswordEnv: pwEnv, Capacity: capacity})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "registered database server %s (%s), capacity %d tenants\n", s.Name, s.Host, s.Capacity)
			return nil
		},
	}
	cmd.Flags().IntVar(&capacity, "capacity", tenantstore.DefaultServerCapacity, "the most tenants placement puts on the server")
	cmd.Flags().StringVar(&pwEnv, "password-env", "", "environment variable (ending in _PASSWORD) holding the operator role's password")
	return cmd
}

func (a *app) serversListCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List database servers: tenants against capacity, draining, databases' size, open connections",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			mgr, err := a.manager(cmd.Context())
			if err != nil {
				return err
			}
			list, err := mgr.Servers(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				for _, s := range list {
					if err := enc.Encode(s); err != nil {
						return err
					}
				}
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tHOST\tTENANTS\tCAPACITY\tDRAINING\tSIZE\tCONNECTIONS\tNOTE")
			for _, s := range list {
				name, capacity := s.Name, strconv.Itoa(s.Capacity)
				if !s.Registered {
					name, capacity = "-", "-"
				}
				conns := "?"
				if s.Connections != nil {
					conns = fmt.Sprintf("%d/%d", *s.Connections, *s.MaxConnections)
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", shown(name), shown(s.Host), s.Tenants, capacity,
					yesNo(s.Draining, "yes", "no"), sizeText(s.SizeBytes), conns, shown(s.Error))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per server and line")
	return cmd
}

func (a *app) serversDrainCommand(verb string, draining bool) *cobra.Command {
	short := "Drain a database server: new tenants are no longer placed there (its tenants stay)"
	if !draining {
		short = "Undrain a database server: placement may put new tenants there again"
	}
	return &cobra.Command{
		Use:   verb + " <name>",
		Short: short,
		Args:  exactArgs(1, "<name>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			mgr, err := a.manager(cmd.Context())
			if err != nil {
				return err
			}
			s, err := mgr.UpdateServer(cmd.Context(), args[0], tenantstore.ServerPatch{Draining: &draining})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "database server %s is %s\n", s.Name, yesNo(s.Draining, "draining: it takes no new tenants", "accepting new tenants"))
			return nil
		},
	}
}

func (a *app) serversSetCommand() *cobra.Command {
	var capacity int
	cmd := &cobra.Command{
		Use:   "set <name> --capacity N",
		Short: "Change a database server's capacity (the most tenants placement puts there)",
		Args:  exactArgs(1, "<name>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if capacity < 1 {
				return usageError{fmt.Errorf("--capacity must be at least 1")}
			}
			mgr, err := a.manager(cmd.Context())
			if err != nil {
				return err
			}
			s, err := mgr.UpdateServer(cmd.Context(), args[0], tenantstore.ServerPatch{Capacity: &capacity})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "database server %s: capacity %d tenants\n", s.Name, s.Capacity)
			return nil
		},
	}
	cmd.Flags().IntVar(&capacity, "capacity", 0, "the most tenants placement puts on the server")
	_ = cmd.MarkFlagRequired("capacity")
	return cmd
}

// sizeText prints a byte count for people: "8.1 MB", "?" when unknown.
func sizeText(n *int64) string {
	if n == nil || *n < 0 {
		return "?"
	}
	return humanize.Bytes(uint64(*n))
}

// serverField reports whether err is about the database server a command
// named (--server, --to-server).
func serverField(err error) bool {
	var ve *tenantstore.ValidationError
	var ce *tenantstore.ConflictError
	switch {
	case errors.As(err, &ve):
		return ve.Field == "server" || ve.Field == "to_server"
	case errors.As(err, &ce):
		return ce.Field == "server" || ce.Field == "to_server"
	}
	return false
}
