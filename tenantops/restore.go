package tenantops

import (
	"context"
	"fmt"
	"regexp"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// RestoreOptions modifies Restore.
type RestoreOptions struct {
	// DropOld drops the tenant's previous database once the tenant has been
	// switched to the restored one; by default it is kept.
	DropOld bool
}

// RestoreResult is the outcome of a restore.
type RestoreResult struct {
	Tenant      string `json:"tenant"`
	File        string `json:"file"`
	OldDatabase string `json:"old_database"`
	NewDatabase string `json:"new_database"`
	OldDropped  bool   `json:"old_dropped"`
	// Warning reports a failure after the switch (dropping the old
	// database) that left the restore itself in place.
	Warning string `json:"warning,omitempty"`
	Contents
}

// restoreSuffix matches the suffix an earlier restore appended, so names do
// not grow with every restore.
var restoreSuffix = regexp.MustCompile(`_r[0-9]{14}(_[0-9]+)?$`)

// restoreName is the name of the database a restore of current creates:
// current (without an earlier restore's suffix) + "_r<UTC yyyymmddhhmmss>",
// and "_<n>" for the n-th attempt (n > 0) when that name is taken, cut to
// PostgreSQL's 63 bytes.
func (o *Ops) restoreName(current string, n int) string {
	suffix := "_r" + o.cfg.Now().UTC().Format("20060102150405")
	if n > 0 {
		suffix += fmt.Sprintf("_%d", n)
	}
	base := restoreSuffix.ReplaceAllString(current, "")
	if len(base)+len(suffix) > 63 {
		base = base[:63-len(suffix)]
	}
	return base + suffix
}

// freeName returns the first restoreName of current not taken on server.
func (o *Ops) freeName(ctx context.Context, server serverDB, current string) (string, error) {
	for n := 0; n < 10; n++ {
		name := o.restoreName(current, n)
		taken, err := server.exists(ctx, name)
		if err != nil {
			return "", err
		}
		if !taken {
			return name, nil
		}
	}
	return "", fmt.Errorf("no free name for the restored database after %s", o.restoreName(current, 9))
}

// Restore restores the backup at file into a new database for the tenant
// with subdomain sub and switches the tenant to it:
//
//  1. verify the backup (signed manifest, checksum, readable archive) and that it
//     is this tenant's — a bad file changes nothing;
//  2. create a new database beside the current one, named by restoreName,
//     owned by and connectable only by the tenant's login role (made now,
//     with a fresh password, for a tenant that was placed with explicit
//     credentials: afterwards it connects as that role);
//  3. pg_restore into it in one transaction, objects owned by that role;
//  4. verify the migration version and the row count of every table equal
//     the manifest;
//  5. switch the tenant to the new database (the Store's Notifier makes
//     appservers reopen their pools), then drop the previous database only
//     with DropOld, and only when tenantgate created it.
//
// Any failure before the switch drops the new database and leaves the
// tenant as it was. A tenant whose URL comes from TENANT_<SUB>_DATABASE_URL
// cannot be switched and is refused.
func (o *Ops) Restore(ctx context.Context, sub, file string, opts RestoreOptions, progress func(step string)) (*RestoreResult, error) {
	res, err := o.restore(ctx, sub, file, opts, progress)
	if err != nil {
		return nil, fmt.Errorf("restoring tenant %q from %s: %w", sub, file, err)
	}
	return res, nil
}

func (o *Ops) restore(ctx context.Context, sub, file string, opts RestoreOptions, progress func(string)) (res *RestoreResult, err error) {
	pgRestore, err := lookTool(o.cfg.PgRestore)
	if err != nil {
		return nil, err
	}
	report(progress, "check backup")
	m, err := verifyBackup(ctx, pgRestore, file, o.cfg.ManifestKeys)
	if err != nil {
		return nil, err
	}
	t, err := o.tenant(ctx, sub)
	if err != nil {
		return nil, err
	}
	if m.Subdomain != t.Subdomain {
		return nil, fmt.Errorf("%w %s: it is a backup of tenant %q, not %q; nothing was changed", ErrBadBackup, file, m.Subdomain, t.Subdomain)
	}
	if o.overridden(t) {
		return nil, &tenantstore.ConflictError{Field: "database", Message: fmt.Sprintf(
			"URL comes from %s, which a restore cannot switch; restore with pg_restore by hand or unset it", tenantstore.OverrideVar(t.Subdomain))}
	}

	// The new database goes beside the current one. It is always given to
	// the tenant's own login role: the one it has, or (for a tenant placed
	// with explicit credentials) a new one made here, so that no restore
	// leaves a tenant on borrowed credentials.
	serverURL, err := o.serverAdminURL(ctx, t)
	if err != nil {
		return nil, err
	}
	server := serverDB{adminURL: serverURL}
	newName, err := o.freeName(ctx, server, t.DatabaseName)
	if err != nil {
		return nil, err
	}
	target, err := withDatabase(serverURL, newName)
	if err != nil {
		return nil, err
	}
	var placement tenantstore.Placement
	role, rolePassword := t.Placement.RoleName, t.Placement.RolePassword
	if !o.templatePlaced(t) {
		// The stored placement becomes the server's URL without
		// credentials, naming the new database, reached as the role.
		cur, err := o.cfg.DSN.URL(t)
		if err != nil {
			return nil, err
		}
		if cur, err = withDatabase(cur, newName); err != nil {
			return nil, err
		}
		stored, err := tenantstore.WithoutCredentials(cur)
		if err != nil {
			return nil, err
		}
		placement = tenantstore.Placement{URL: stored}
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
	if !o.ownRole(t) {
		report(progress, "create role")
		if role, rolePassword, err = server.createRole(ctx, restoreSuffix.ReplaceAllString(t.DatabaseName, "")); err != nil {
			return nil, err
		}
		undo = append(undo, func(ctx context.Context) error {
			if err := server.dropRole(ctx, role); err != nil {
				return fmt.Errorf("%w; drop it by hand", err)
			}
			return nil
		})
	}
	placement.RoleName, placement.RolePassword = role, rolePassword

	report(progress, "create database")
	if err := server.create(ctx, newName, role); err != nil {
		return nil, err
	}
	undo = append(undo, func(ctx context.Context) error {
		if err := server.drop(ctx, newName); err != nil {
			return fmt.Errorf("%w; drop %q by hand", err, newName)
		}
		return nil
	})

	report(progress, "restore")
	args := []string{"--exit-on-error", "--single-transaction", "--no-owner", "--no-privileges", "--role=" + role}
	if err := runTool(ctx, pgRestore, target, nil, append(args, file)...); err != nil {
		return nil, fmt.Errorf("restoring into database %q: %w", newName, err)
	}

	report(progress, "verify")
	got, err := contentsOf(ctx, target)
	if err != nil {
		return nil, fmt.Errorf("verifying database %q: %w", newName, err)
	}
	if d := m.Contents.diff(got); d != "" {
		return nil, fmt.Errorf("verifying database %q: it does not match the backup: %s", newName, d)
	}

	report(progress, "switch")
	if _, err := o.switchTenant(ctx, t, func(nt *tenantstore.Tenant) {
		nt.DatabaseName = newName
		nt.Placement = placement
		nt.DatabaseOwned = true
	}); err != nil {
		return nil, err
	}
	switched = true
	res = &RestoreResult{Tenant: t.Subdomain, File: file, OldDatabase: t.DatabaseName, NewDatabase: newName, Contents: got}

	if opts.DropOld && !t.DatabaseOwned {
		res.Warning = fmt.Sprintf("restored and switched; the old database %q was not created by tenantgate for this tenant, so it was kept", t.DatabaseName)
	} else if opts.DropOld {
		report(progress, "drop old database")
		// Appservers close their pools on the old database as the
		// invalidation reaches them; give them the drain to do it.
		derr := sleep(ctx, o.cfg.Drain)
		if derr == nil {
			derr = server.drop(ctx, t.DatabaseName)
		}
		if derr != nil {
			res.Warning = fmt.Sprintf("restored and switched, but the old database %q was not dropped: %v; drop it by hand", t.DatabaseName, derr)
		} else {
			res.OldDropped = true
		}
	}
	return res, nil
}
