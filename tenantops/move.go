package tenantops

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// quietPoll is how often a move looks for open transactions.
const quietPoll = 100 * time.Millisecond

// MoveOptions modifies Move.
type MoveOptions struct {
	// Drain overrides Config.Drain for this move when positive.
	Drain time.Duration
}

// MoveResult is the outcome of a move. Servers are "host:port"; no URL or
// password is in it.
type MoveResult struct {
	Tenant      string `json:"tenant"`
	OldServer   string `json:"old_server"`
	OldDatabase string `json:"old_database"`
	NewServer   string `json:"new_server"`
	NewDatabase string `json:"new_database"`
	// MaintenanceMS is how long the tenant was in maintenance (refused with
	// 503), in milliseconds.
	MaintenanceMS int64 `json:"maintenance_ms"`
	Contents
}

// Move copies the database of the tenant with subdomain sub to the server
// and database named by newURL (a postgres:// URL whose user may create
// databases there; without a database name the tenant's current name is
// used) and switches the tenant to it:
//
//  1. create the target database — it must not exist: nothing is
//     overwritten;
//  2. set the tenant to maintenance (the edge and the appservers answer 503
//     with Retry-After from then on), wait Drain for every appserver to
//     see it and for requests under way to end, then until no other session
//     has a transaction open on the database;
//  3. dump it (pg_dump, one snapshot with row counts), restore on the new
//     server in one transaction;
//  4. verify the migration version and every table's row count equal both
//     the snapshot and the old database now (so nothing was written during
//     the copy);
//  5. switch: the tenant's placement becomes newURL without its
//     credentials, reached as the tenant's own login role that step 1
//     created there (a fresh password; owner of the new database only,
//     which PUBLIC cannot connect to; every restored object is the role's),
//     and its status what it was (active), in one update whose
//     invalidation makes every appserver close its pool on the old
//     database. newURL's credentials are used only to do the work and
//     never stored.
//
// Any failure before the switch drops the target database and role and puts
// the tenant back to its status; the old database (and its role) is never
// changed and is kept after a successful move, for a way back. A suspended tenant is moved and stays suspended;
// a tenant already in maintenance is refused.
func (o *Ops) Move(ctx context.Context, sub, newURL string, opts MoveOptions, progress func(step string)) (*MoveResult, error) {
	res, err := o.move(ctx, sub, newURL, opts, progress)
	if err != nil {
		return nil, fmt.Errorf("moving tenant %q: %w", sub, err)
	}
	return res, nil
}

func (o *Ops) move(ctx context.Context, sub, newURL string, opts MoveOptions, progress func(string)) (res *MoveResult, err error) {
	pgDump, err := lookTool(o.cfg.PgDump)
	if err != nil {
		return nil, err
	}
	pgRestore, err := lookTool(o.cfg.PgRestore)
	if err != nil {
		return nil, err
	}
	drain := o.cfg.Drain
	if opts.Drain > 0 {
		drain = opts.Drain
	}
	t, err := o.tenant(ctx, sub)
	if err != nil {
		return nil, err
	}
	orig := t.Status
	if orig == tenantstore.StatusMaintenance {
		return nil, &tenantstore.ConflictError{Field: "status", Message: "is maintenance (another move may be under way); set it active first"}
	}
	if o.overridden(t) {
		return nil, &tenantstore.ConflictError{Field: "database", Message: fmt.Sprintf(
			"URL comes from %s, which a move cannot switch; unset it first", tenantstore.OverrideVar(t.Subdomain))}
	}
	newURL, newCfg, err := o.targetURL(t, newURL)
	if err != nil {
		return nil, err
	}
	oldURL, err := o.adminURL(t)
	if err != nil {
		return nil, err
	}
	oldCfg, err := pgx.ParseConfig(oldURL)
	if err != nil {
		return nil, fmt.Errorf("parsing the current database URL %s: not a valid URL", tenantstore.RedactURL(oldURL))
	}
	if hostOf(oldCfg) == hostOf(newCfg) && oldCfg.Database == newCfg.Database {
		return nil, &tenantstore.ValidationError{Field: "new_url", Message: "names the tenant's current database"}
	}
	res = &MoveResult{Tenant: t.Subdomain, OldServer: hostOf(oldCfg), OldDatabase: oldCfg.Database,
		NewServer: hostOf(newCfg), NewDatabase: newCfg.Database}

	// The operator's URL only does the work: the tenant gets its own login
	// role on the new server, owner of the new database only, and the
	// stored placement names the server without the operator's credentials.
	storedURL, err := tenantstore.WithoutCredentials(newURL)
	if err != nil {
		return nil, err
	}
	serverKey, err := o.cfg.DSN.ServerKey(newURL)
	if err != nil {
		return nil, &tenantstore.ValidationError{Field: "new_url", Message: "is not a valid postgres:// URL"}
	}
	var undo []func(context.Context) error
	switched := false
	defer func() {
		if switched {
			return
		}
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
		defer cancel()
		for i := len(undo) - 1; i >= 0; i-- {
			if uerr := undo[i](uctx); uerr != nil {
				err = fmt.Errorf("%w (undoing also failed: %v)", err, uerr)
			}
		}
	}()
	report(progress, "create database")
	target := serverDB{adminURL: newURL}
	if taken, err := target.exists(ctx, newCfg.Database); err != nil || taken {
		if err == nil {
			err = &tenantstore.ConflictError{Field: "database", Message: fmt.Sprintf(
				"%q already exists on that server; refusing to overwrite it (drop it or choose another name)", newCfg.Database)}
		}
		return nil, fmt.Errorf("on the new server %s: creating database %q: %w", res.NewServer, newCfg.Database, err)
	}
	role, rolePassword, err := target.createRole(ctx, newCfg.Database)
	if err != nil {
		return nil, fmt.Errorf("on the new server %s: %w", res.NewServer, err)
	}
	undo = append(undo, func(ctx context.Context) error {
		if err := target.dropRole(ctx, role); err != nil {
			return fmt.Errorf("%w; drop it on %s by hand", err, res.NewServer)
		}
		return nil
	})
	if err := target.create(ctx, newCfg.Database, role); err != nil {
		return nil, fmt.Errorf("on the new server %s: %w", res.NewServer, err)
	}
	undo = append(undo, func(ctx context.Context) error {
		if err := target.drop(ctx, newCfg.Database); err != nil {
			return fmt.Errorf("%w; drop it on %s by hand", err, res.NewServer)
		}
		return nil
	})

	before := t
	var maintenanceFrom time.Time
	if orig == tenantstore.StatusActive {
		report(progress, "maintenance")
		if before, err = o.switchTenant(ctx, t, func(nt *tenantstore.Tenant) { nt.Status = tenantstore.StatusMaintenance }); err != nil {
			return nil, err
		}
		maintenanceFrom = time.Now()
		undo = append(undo, func(ctx context.Context) error { return o.restoreStatus(ctx, before, orig) })
		report(progress, "drain")
		if err := sleep(ctx, drain); err != nil {
			return nil, err
		}
	}
	report(progress, "wait for open transactions")
	if err := waitQuiet(ctx, oldURL, o.cfg.QuietTimeout); err != nil {
		return nil, err
	}

	report(progress, "dump")
	tmp, err := os.MkdirTemp(o.cfg.TempDir, "tenantgate-move-")
	if err != nil {
		return nil, fmt.Errorf("creating a temporary directory for the dump: %w", err)
	}
	defer os.RemoveAll(tmp)
	dumped, err := o.dump(ctx, before, pgDump, filepath.Join(tmp, BackupName(t.Subdomain, o.cfg.Now())), nil)
	if err != nil {
		return nil, err
	}

	report(progress, "restore")
	if err := runTool(ctx, pgRestore, newURL, nil, "--exit-on-error", "--single-transaction", "--no-owner", "--no-privileges",
		"--role="+role, dumped.File); err != nil {
		return nil, fmt.Errorf("restoring on the new server %s: %w", res.NewServer, err)
	}

	report(progress, "verify")
	got, err := contentsOf(ctx, newURL)
	if err != nil {
		return nil, fmt.Errorf("verifying the copy: %w", err)
	}
	if d := dumped.Manifest.Contents.diff(got); d != "" {
		return nil, fmt.Errorf("verifying the copy on %s: it differs from the old database: %s", res.NewServer, d)
	}
	now, err := contentsOf(ctx, oldURL)
	if err != nil {
		return nil, fmt.Errorf("verifying the copy: re-reading the old database: %w", err)
	}
	if d := dumped.Manifest.Contents.diff(now); d != "" {
		return nil, fmt.Errorf("the old database was written to during the copy (%s); nothing was switched, try again", d)
	}

	report(progress, "switch")
	if _, err := o.switchTenant(ctx, before, func(nt *tenantstore.Tenant) {
		nt.Placement = tenantstore.Placement{URL: storedURL, RoleName: role, RolePassword: rolePassword}
		nt.DatabaseName = newCfg.Database
		nt.DatabaseServer = serverKey
		nt.DatabaseOwned = true
		nt.Status = orig
	}); err != nil {
		return nil, err
	}
	switched = true
	if !maintenanceFrom.IsZero() {
		res.MaintenanceMS = time.Since(maintenanceFrom).Milliseconds()
	}
	res.Contents = got
	return res, nil
}

// MoveToServer moves the tenant with subdomain sub to the registered
// database server called server, as Move does (the tenant's own login
// role and database are created there with the server's operator
// credentials, which are never stored). The database keeps its name, or
// gets a short suffix when that name is taken there. A server that is
// unknown is a *tenantstore.ValidationError naming to_server; one that is
// draining or full, or the tenant's current server, a
// *tenantstore.ConflictError naming it.
func (o *Ops) MoveToServer(ctx context.Context, sub, server string, opts MoveOptions, progress func(step string)) (*MoveResult, error) {
	newURL, err := o.serverTarget(ctx, sub, server)
	if err != nil {
		return nil, fmt.Errorf("moving tenant %q: %w", sub, err)
	}
	return o.Move(ctx, sub, newURL, opts, progress)
}

// serverTarget is the operator URL, with a free database name, of a move
// of sub to the registered server.
func (o *Ops) serverTarget(ctx context.Context, sub, server string) (string, error) {
	if o.cfg.Servers == nil {
		return "", errors.New("no registry of database servers is configured")
	}
	srv, err := o.cfg.Servers.Server(ctx, server)
	if errors.Is(err, tenantstore.ErrNotFound) {
		return "", &tenantstore.ValidationError{Field: "to_server", Message: "names no registered database server (tenantctl servers list)"}
	}
	if err != nil {
		return "", err
	}
	t, err := o.tenant(ctx, sub)
	if err != nil {
		return "", err
	}
	current, err := o.serverAdminURL(ctx, t)
	if err != nil {
		return "", err
	}
	probe, err := o.cfg.DSN.ServerURL(srv, "postgres")
	if err != nil {
		return "", err
	}
	if sameServer(current, probe) {
		return "", &tenantstore.ConflictError{Field: "to_server", Message: fmt.Sprintf("names server %q, where the tenant's database already is", srv.Name)}
	}
	if err := o.cfg.Servers.Accepts(ctx, "to_server", srv); err != nil {
		return "", err
	}
	target := serverDB{adminURL: probe}
	name := t.DatabaseName
	for attempt := 0; ; attempt++ {
		taken, err := target.exists(ctx, name)
		if err != nil {
			return "", fmt.Errorf("on server %q: %w", srv.Name, err)
		}
		if !taken {
			break
		}
		if attempt == 5 {
			return "", fmt.Errorf("on server %q: no free database name after %q", srv.Name, name)
		}
		name = tenantstore.DatabaseName("", t.DatabaseName+"_"+randomSuffix())
	}
	return o.cfg.DSN.ServerURL(srv, name)
}

// sameServer reports whether two URLs name the same host and port.
func sameServer(a, b string) bool {
	ca, err1 := pgx.ParseConfig(a)
	cb, err2 := pgx.ParseConfig(b)
	return err1 == nil && err2 == nil && strings.EqualFold(hostOf(ca), hostOf(cb))
}

// targetURL checks the URL a tenant moves to and fills in the database
// name when it has none.
func (o *Ops) targetURL(t *tenantstore.Tenant, raw string) (string, *pgx.ConnConfig, error) {
	invalid := &tenantstore.ValidationError{Field: "new_url", Message: "is not a valid postgres:// URL"}
	if !strings.HasPrefix(raw, "postgres://") && !strings.HasPrefix(raw, "postgresql://") {
		return "", nil, invalid
	}
	db, err := databaseOf(raw)
	if err != nil {
		return "", nil, invalid
	}
	if db == "" {
		if raw, err = withDatabase(raw, t.DatabaseName); err != nil {
			return "", nil, invalid
		}
	}
	cfg, err := pgx.ParseConfig(raw)
	if err != nil {
		return "", nil, invalid
	}
	return raw, cfg, nil
}

// restoreStatus puts a tenant left in maintenance by a failed move back to
// status, unless someone has changed its status since.
func (o *Ops) restoreStatus(ctx context.Context, before *tenantstore.Tenant, status tenantstore.Status) error {
	_, err := o.switchTenant(ctx, before, func(nt *tenantstore.Tenant) {
		if nt.Status == tenantstore.StatusMaintenance {
			nt.Status = status
		}
	})
	if err != nil {
		return fmt.Errorf("setting the tenant back to %s: %w; run tenantctl activate %s", status, err, before.Subdomain)
	}
	return nil
}

// waitQuiet waits until no other session has a transaction open (or a query
// running) on the database at rawURL, for at most timeout. Sessions of other
// roles are visible only to a superuser or a member of pg_read_all_stats.
func waitQuiet(ctx context.Context, rawURL string, timeout time.Duration) error {
	conn, err := connect(ctx, rawURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	deadline := time.Now().Add(timeout)
	for {
		var busy int
		err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
			AND state IN ('active', 'idle in transaction', 'idle in transaction (aborted)', 'fastpath function call')`).Scan(&busy)
		if err != nil {
			return fmt.Errorf("looking for open transactions: %w", err)
		}
		if busy == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the database still has %d session(s) in a transaction after %s in maintenance; try again later", busy, timeout)
		}
		if err := sleep(ctx, quietPoll); err != nil {
			return err
		}
	}
}

// randomSuffix is 6 random hex characters.
func randomSuffix() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
