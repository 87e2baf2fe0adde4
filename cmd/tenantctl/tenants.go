package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenantgate/tenantgate/tenantstore"
)

func (a *app) createCommand() *cobra.Command {
	var (
		maxUsers                                      int
		multi                                         bool
		pwEnv, dbURL, dbHost, dbUser, dbPwEnv, dbName string
		dbPort                                        int
		adopt                                         bool
		server, plan                                  string
	)
	cmd := &cobra.Command{
		Use:   "create <name> <subdomain> <admin_email>",
		Short: "Create a tenant: its database, login role, schema and first admin user",
		Long: `Create a tenant. Without --database-* flags its database is placed on a registered
database server (tenantctl servers): the one --server names, or else the least loaded one
that accepts tenants (not draining, under capacity; fewest tenants against capacity, then
smallest total database size). On "default", the server of TENANT_DATABASE_TEMPLATE, it is
copied from a pre-migrated template; on another, created and migrated there with that
server's operator credentials. Either way it gets a login role that may connect to that
database only; when a renamed or deleted tenant still holds the derived name, a short
suffix makes a fresh one. With --database-url whose user is a
superuser or may create roles, those credentials only do the work, as for move: the
tenant gets its own login role on that server, owner of the database (created when
missing, or given to it) and of its objects, which only it may connect to, and the URL
is stored without user and password. With any other --database-url (or
host/port/user/name, or TENANT_<SUB>_DATABASE_URL) the database named there is created
on that server with those credentials when missing, and no role is made. An existing
database that already holds tables, or that another tenant uses, is refused unless
--adopt-existing (which still refuses one of another tenant). The first admin's
password is read from --admin-password-env, or generated and printed once.`,
		Args: exactArgs(3, "<name> <subdomain> <admin_email>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := tenantstore.CreateRequest{Name: args[0], Subdomain: args[1], AdminEmail: args[2],
				MaxUsers: maxUsers, MultiLocation: multi}
			if cmd.Flags().Changed("max-users") && maxUsers < 1 {
				return usageError{fmt.Errorf("--max-users must be at least 1")}
			}
			if pwEnv != "" {
				if req.AdminPassword = a.getenv(pwEnv); req.AdminPassword == "" {
					return usageError{fmt.Errorf("--admin-password-env %s: the variable is empty or unset", pwEnv)}
				}
			}
			parts := dbHost != "" || dbPort != 0 || dbUser != "" || dbPwEnv != "" || dbName != ""
			if dbURL != "" && parts {
				return usageError{fmt.Errorf("give --database-url or --database-host/-port/-user/-password-env/-name, not both")}
			}
			req.Placement = tenantstore.Placement{URL: dbURL, Host: dbHost, Port: dbPort, User: dbUser, PasswordEnv: dbPwEnv}
			if parts && dbHost == "" {
				req.Placement.Host = "127.0.0.1"
			}
			req.DatabaseName = dbName
			req.AdoptExisting = adopt
			req.Server = server
			req.Plan = plan
			mgr, err := a.manager(cmd.Context())
			if err != nil {
				return err
			}
			t, pw, err := mgr.Create(cmd.Context(), req)
			if err != nil {
				return err
			}
			where := ""
			if s, err := mgr.ServerOf(cmd.Context(), t); err == nil {
				where = " on server " + s.Name
			}
			fmt.Fprintf(a.stdout, "created tenant %s (%s), id %s, database %s%s\n", t.Subdomain, t.Name, t.ID, t.DatabaseName, where)
			fmt.Fprintf(a.stdout, "admin user: %s\n", t.AdminEmail)
			if pw != "" {
				fmt.Fprintf(a.stdout, "admin password: %s\n  (shown once: store it now)\n", pw)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&maxUsers, "max-users", 0, "the tenant's own user limit (default: its plan's)")
	f.StringVar(&plan, "plan", "", "the tenant's plan (default: the default plan; see 'tenantctl plans list')")
	f.BoolVar(&multi, "multi-location", false, "the tenant has several locations")
	f.StringVar(&pwEnv, "admin-password-env", "", "read the first admin's password from this environment variable")
	f.StringVar(&dbURL, "database-url", "", "explicit database URL: a user who may create roles only does the work (the tenant gets its own role); any other URL is stored as given, password included (prefer --database-password-env)")
	f.StringVar(&dbHost, "database-host", "", "database server host")
	f.IntVar(&dbPort, "database-port", 0, "database server port")
	f.StringVar(&dbUser, "database-user", "", "database user")
	f.StringVar(&dbPwEnv, "database-password-env", "", "environment variable holding the database password (read on every connect)")
	f.StringVar(&dbName, "database-name", "", "database name (default: TENANT_DB_PREFIX + subdomain)")
	f.BoolVar(&adopt, "adopt-existing", false, "attach the tenant to an existing database that already holds tables")
	f.StringVar(&server, "server", "", "registered database server to place the database on (default: the least loaded accepting one)")
	return cmd
}

func (a *app) listCommand() *cobra.Command {
	var activeOnly, asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List tenants (a table, or one JSON object per line with --json)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			mgr, err := a.manager(cmd.Context())
			if err != nil {
				return err
			}
			status := tenantstore.Status("")
			if activeOnly {
				status = tenantstore.StatusActive
			}
			tenants, err := mgr.Store().ListAll(cmd.Context(), status)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				for _, t := range tenants {
					if err := enc.Encode(t); err != nil {
						return err
					}
				}
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SUBDOMAIN\tNAME\tSTATUS\tMAX USERS\tLOCATIONS\tDATABASE\tPLACEMENT\tCREATED")
			for _, t := range tenants {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", shown(t.Subdomain), shown(t.Name), t.Status, t.MaxUsers,
					yesNo(t.MultiLocation, "multi", "single"), shown(t.DatabaseName), t.Placement.Kind(), t.CreatedAt.UTC().Format("2006-01-02 15:04"))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&activeOnly, "active-only", false, "only active tenants")
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per tenant and line")
	return cmd
}

func yesNo(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

func (a *app) showCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show <subdomain>",
		Short: "Show a tenant, its domains, locations and database status",
		Args:  exactArgs(1, "<subdomain>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			mgr, t, err := a.tenant(ctx, args[0])
			if err != nil {
				return err
			}
			locs, err := mgr.ListLocations(ctx, t.Subdomain)
			if err != nil {
				return err
			}
			latency, dbErr := mgr.DatabaseStatus(ctx, t)
			usage := mgr.DatabaseUsage(ctx, t)
			if asJSON {
				out := struct {
					*tenantstore.Tenant
					Locations      []tenantstore.Location `json:"locations"`
					DatabaseStatus string                 `json:"database_status"`
					LatencyMS      float64                `json:"database_latency_ms,omitempty"`
					Usage          tenantstore.Usage      `json:"database_usage"`
				}{t, locs, "ok", float64(latency.Microseconds()) / 1000, usage}
				if dbErr != nil {
					out.DatabaseStatus = "unreachable"
				}
				return json.NewEncoder(a.stdout).Encode(out)
			}
			printTenant(a.stdout, t, locs, latency, dbErr, usage)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printTenant(w io.Writer, t *tenantstore.Tenant, locs []tenantstore.Location, latency time.Duration, dbErr error, usage tenantstore.Usage) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := t.Placement
	db := fmt.Sprintf("%s (%s placement", t.DatabaseName, p.Kind())
	switch p.Kind() {
	case "url":
		db += ", " + tenantstore.RedactURL(p.URL)
	case "parts":
		db += fmt.Sprintf(", %s@%s:%d, password from $%s", p.User, p.Host, p.Port, p.PasswordEnv)
	}
	if p.RoleName != "" {
		db += ", role " + p.RoleName
	}
	db += ")"
	status := fmt.Sprintf("ok, %.1f ms", float64(latency.Microseconds())/1000)
	if dbErr != nil {
		status = "UNREACHABLE: " + dbErr.Error()
	}
	for _, row := range [][2]string{
		{"subdomain", t.Subdomain}, {"name", t.Name}, {"id", t.ID}, {"status", string(t.Status)},
		{"admin email", t.AdminEmail}, {"max users", fmt.Sprint(t.MaxUsers) + yesNo(t.OwnMaxUsers == nil, " (the plan's)", "")},
		{"plan", t.Plan}, {"features", featuresDetail(t)},
		{"multi-location", yesNo(t.MultiLocation, "yes", "no")}, {"database", db}, {"database status", status},
		{"database server", usageServer(usage)}, {"database size", usageText(usage)},
		{"created", t.CreatedAt.UTC().Format(time.RFC3339)}, {"updated", t.UpdatedAt.UTC().Format(time.RFC3339)},
		{"version", fmt.Sprint(t.Version)},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", row[0], shown(row[1]))
	}
	for _, d := range t.Domains {
		fmt.Fprintf(tw, "domain:\t%s (%s)\n", shown(d.Hostname), yesNo(d.Verified, "verified", "unverified, TXT "+tenantstore.VerificationRecord(d.Hostname)+" = "+d.VerificationToken))
	}
	for _, l := range locs {
		fmt.Fprintf(tw, "location:\t%s %s%s\n", shown(l.Code), shown(l.Name), strings.TrimSuffix(" — "+shown(l.Address), " — ")+yesNo(l.Active, "", " (inactive)"))
	}
	tw.Flush()
}

// statusShort says what each status command does to the tenant's users.
var statusShort = map[tenantstore.Status]string{
	tenantstore.StatusSuspended:   "Suspend a tenant: its users get a 403 page until it is activated",
	tenantstore.StatusActive:      "Activate a tenant: serve it again after a suspend or maintenance",
	tenantstore.StatusMaintenance: "Put a tenant in maintenance: its users get a 503 page (Retry-After) until it is activated",
}

func (a *app) statusCommand(verb string, s tenantstore.Status) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " <subdomain>",
		Short: statusShort[s],
		Args:  exactArgs(1, "<subdomain>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			mgr, err := a.manager(cmd.Context())
			if err != nil {
				return err
			}
			if s != tenantstore.StatusActive {
				cur, err := mgr.Get(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				if cur.Status == tenantstore.StatusActive {
					if err := a.confirm(fmt.Sprintf("Tenant %s (%s) is active; set it %s, so that its users are refused?",
						shown(cur.Subdomain), shown(cur.Name), s), ""); err != nil {
						return err
					}
				}
			}
			t, err := mgr.SetStatus(cmd.Context(), args[0], s)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "tenant %s is now %s\n", t.Subdomain, t.Status)
			return nil
		},
	}
}

func (a *app) deleteCommand() *cobra.Command {
	var drop bool
	var backupTo string
	cmd := &cobra.Command{
		Use:   "delete <subdomain>",
		Short: "Delete a suspended tenant; --drop-database drops its database and role, else they are kept",
		Args:  exactArgs(1, "<subdomain>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			mgr, t, err := a.tenant(ctx, args[0])
			if err != nil {
				return err
			}
			if t.Status != tenantstore.StatusSuspended {
				return human(nil, "tenant %q is %s: suspend it first (tenantctl suspend %s), then delete it", t.Subdomain, t.Status, t.Subdomain)
			}
			what := "Its database is kept, detached"
			if drop {
				what = "Its database " + shown(t.DatabaseName) + " and login role are dropped"
			}
			if err := a.confirm(fmt.Sprintf("Delete tenant %s (%s)? %s; this cannot be undone.", shown(t.Subdomain), shown(t.Name), what), t.Subdomain); err != nil {
				return err
			}
			if backupTo != "" {
				file, err := backupBeforeDelete(ctx, a, t, backupTo)
				if err != nil {
					return fmt.Errorf("backing up tenant %q before deleting it (nothing was deleted): %w", t.Subdomain, err)
				}
				fmt.Fprintf(a.stdout, "backup of %s written to %s\n", t.Subdomain, file)
			}
			res, err := mgr.Delete(ctx, t.Subdomain, tenantstore.DeleteOptions{DropDatabase: drop})
			if err != nil {
				return err
			}
			if res.Warning != "" {
				fmt.Fprintf(a.stdout, "deleted tenant %s; %s\n", t.Subdomain, res.Warning)
			} else if res.DatabaseDropped {
				fmt.Fprintf(a.stdout, "deleted tenant %s; database %s dropped\n", t.Subdomain, t.DatabaseName)
			} else {
				fmt.Fprintf(a.stdout, "deleted tenant %s; database %s kept, detached (drop it by hand when no longer needed)\n", t.Subdomain, t.DatabaseName)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&drop, "drop-database", false, "drop the tenant's database and login role (only when tenantgate created them for it; otherwise they are kept, detached)")
	cmd.Flags().StringVar(&backupTo, "backup-to", "", "write a pg_dump (custom format) of the database into this directory first")
	return cmd
}

func (a *app) renameCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "rename <subdomain> <new-subdomain>",
		Short: "Give a tenant a new subdomain (its old address stops answering at once)",
		Long: `Give a tenant a new subdomain. Its users must use <new-subdomain>.BASE_DOMAIN from then
on: the old address answers 404 as soon as the caches hear of the change. The tenant keeps
its database, users and custom domains.`,
		Args: exactArgs(2, "<subdomain> <new-subdomain>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			mgr, t, err := a.tenant(ctx, args[0])
			if err != nil {
				return err
			}
			if err := a.confirm(fmt.Sprintf("Rename tenant %s (%s) to %s? Its users lose the old address at once.",
				shown(t.Subdomain), shown(t.Name), shown(args[1])), ""); err != nil {
				return err
			}
			newSub := args[1]
			t, err = mgr.Update(ctx, t.Subdomain, tenantstore.Patch{Subdomain: &newSub})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "tenant %s is now %s (https://%s.%s)\n", shown(args[0]), t.Subdomain, t.Subdomain, a.env("BASE_DOMAIN", defaultBaseDomain))
			return nil
		},
	}
}

// usageServer names the tenant's database server: its registered name and
// "host:port".
func usageServer(u tenantstore.Usage) string {
	if u.Server == "" {
		return u.ServerHost + " (not registered)"
	}
	return u.Server + " (" + u.ServerHost + ")"
}

// usageText is the database's size and open connections, or why they are
// unknown.
func usageText(u tenantstore.Usage) string {
	if u.SizeBytes == nil || u.Connections == nil {
		return "unknown: " + u.Error
	}
	return fmt.Sprintf("%s, %d open connection(s)", sizeText(u.SizeBytes), *u.Connections)
}
