package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/dustin/go-humanize"
	"github.com/gorilla/mux"

	"github.com/tenantgate/tenantgate/appserver/httpapi"
	"github.com/tenantgate/tenantgate/appserver/webpage"
	"github.com/tenantgate/tenantgate/tenantops"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// The dashboard's tenant page: every operation of the admin API on one
// tenant, each a same-origin form with the session's CSRF token, going
// through the same Manager and jobs as the API. Successful actions redirect
// (post/redirect/get) with a flash notice; refused ones render the page
// again with the error beside its field.

var statusVerb = map[tenantstore.Status]string{
	tenantstore.StatusActive:      "Activate",
	tenantstore.StatusSuspended:   "Suspend",
	tenantstore.StatusMaintenance: "Start maintenance for",
}

var statusEffect = map[tenantstore.Status]string{
	tenantstore.StatusActive:      "Its users can sign in and work again, on every edge within a second.",
	tenantstore.StatusSuspended:   "Every request to the tenant is answered 403 (suspended) until it is activated again; its data is kept.",
	tenantstore.StatusMaintenance: "Every request to the tenant is answered 503 (maintenance) until it is activated again; its data is kept.",
}

// confirmData is the confirmation page of a status change.
type confirmData struct {
	Tenant               *tenantstore.Tenant
	Status, Verb, Effect string
}

// tenantPageData is the tenant page.
type tenantPageData struct {
	T        *tenantstore.Tenant
	DBStatus string
	Latency  string
	// Usage is the database's server, size and connections (nil while
	// provisioning).
	Usage *tenantstore.Usage
	// Size is the database's size for people ("8.1 MB").
	Size string
	// Servers are the registered database servers a move may go to.
	Servers        []string
	Domains        []adminDomain
	Locations      []tenantstore.Location
	Jobs           []tenantops.Job
	Backups        []string
	OpsEnabled     bool
	BackupsEnabled bool
	StatusChoices  []tenantstore.Status
	RunningJob     bool
	// Branding is the branding section (tenant_branding.html).
	Branding brandingView
	// Audit is the tenant's newest audit entries (tenant_audit.html).
	Audit []tenantstore.AuditEntry
	// Plan is the plan section (plansection.go).
	Plan *planSection
	// UsageChart is the usage section (tenant_usage.html).
	UsageChart *usageChart
}

func (a *Server) tenantPageRoutes(r *mux.Router) {
	get := []string{http.MethodGet, http.MethodHead}
	post := http.MethodPost
	r.Handle("/tenants/{subdomain}", a.dashboard(a.tenantPage)).Methods(get...)
	r.Handle("/tenants/{subdomain}", a.form(a.editSubmit)).Methods(post)
	r.Handle("/tenants/{subdomain}/rename", a.form(a.renameSubmit)).Methods(post)
	r.Handle("/tenants/{subdomain}/delete", a.dashboard(a.deletePage)).Methods(get...)
	r.Handle("/tenants/{subdomain}/delete", a.form(a.deleteSubmit)).Methods(post)
	r.Handle("/tenants/{subdomain}/domains", a.form(a.domainAddSubmit)).Methods(post)
	r.Handle("/tenants/{subdomain}/domains/{hostname}/verify", a.form(a.domainVerifySubmit)).Methods(post)
	r.Handle("/tenants/{subdomain}/domains/{hostname}/remove", a.form(a.domainRemoveSubmit)).Methods(post)
	r.Handle("/tenants/{subdomain}/locations", a.form(a.locationAddSubmit)).Methods(post)
	r.Handle("/tenants/{subdomain}/locations/{code}", a.form(a.locationEditSubmit)).Methods(post)
	r.Handle("/tenants/{subdomain}/locations/{code}/delete", a.form(a.locationDeleteSubmit)).Methods(post)
	r.Handle("/tenants/{subdomain}/backups", a.form(a.backupSubmit)).Methods(post)
	r.Handle("/tenants/{subdomain}/restore", a.form(a.restoreSubmit)).Methods(post)
	r.Handle("/tenants/{subdomain}/move", a.form(a.moveSubmit)).Methods(post)
	a.planSectionRoutes(r)
	r.Handle("/jobs", a.dashboard(a.jobsPage)).Methods(get...)
	r.Handle("/jobs/{id}", a.dashboard(a.jobPage)).Methods(get...)
}

// tenantURL is the dashboard page of the tenant sub.
func tenantURL(sub string) string { return "/tenants/" + url.PathEscape(sub) }

func (a *Server) tenantPage(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	t, err := a.m.Get(r.Context(), mux.Vars(r)["subdomain"])
	if err != nil {
		return err
	}
	return a.renderTenant(w, r, d, t, http.StatusOK)
}

// renderTenant renders t's page with status; forms not refilled by d.Form
// show t's current values.
func (a *Server) renderTenant(w http.ResponseWriter, r *http.Request, d *webpage.Data, t *tenantstore.Tenant, status int) error {
	ctx := r.Context()
	data := tenantPageData{T: t, StatusChoices: []tenantstore.Status{tenantstore.StatusActive, tenantstore.StatusMaintenance, tenantstore.StatusSuspended}}
	if t.Status != tenantstore.StatusProvisioning {
		st, lat := a.databaseStatus(ctx, t)
		data.DBStatus = st
		if lat != nil {
			data.Latency = fmt.Sprintf("%.1f ms", *lat)
		}
		uctx, cancel := context.WithTimeout(ctx, databaseStatusTimeout)
		u := a.m.DatabaseUsage(uctx, t)
		cancel()
		data.Usage = &u
		if list, err := a.m.ListServers(ctx); err == nil {
			for _, srv := range list {
				if srv.Name != u.Server {
					data.Servers = append(data.Servers, srv.Name)
				}
			}
		}
		if u.SizeBytes != nil && *u.SizeBytes >= 0 {
			data.Size = humanize.Bytes(uint64(*u.SizeBytes))
		}
	} else {
		data.DBStatus = "provisioning"
	}
	data.Domains = a.viewDomains(ctx, t)
	locs, err := a.m.ListLocations(ctx, t.Subdomain)
	if err != nil {
		return err
	}
	data.Locations = locs
	if data.Plan, err = a.loadPlanSection(ctx, t); err != nil {
		return err
	}
	if o, err := a.ops(); err == nil {
		data.OpsEnabled = true
		data.BackupsEnabled = o.BackupDir != ""
		jobs, _, err := o.Jobs.List(ctx, tenantops.JobListOptions{Tenant: t.Subdomain, Limit: 10})
		if err != nil {
			return err
		}
		data.Jobs = jobs
		for _, j := range jobs {
			data.RunningJob = data.RunningJob || !j.Done()
		}
		data.Backups = backupFiles(o.BackupDir, t.Subdomain)
	}
	if d.Form == nil {
		d.Form = map[string]string{}
	}
	defaults := map[string]string{
		"name": t.Name, "admin_email": t.AdminEmail, "max_users": ownMaxUsersField(t),
		"subdomain": t.Subdomain, "version": strconv.FormatInt(t.Version, 10),
	}
	if t.MultiLocation {
		defaults["multi_location"] = "true"
	}
	for k, v := range defaults {
		if _, ok := d.Form[k]; !ok {
			d.Form[k] = v
		}
	}
	data.Branding = brandingSection(d, t)
	data.Audit = a.recentAudit(ctx, t)
	data.UsageChart = a.tenantUsageChart(ctx, t)
	d.Title, d.Data = t.Name, data
	webpage.Render(w, r, a.log, adminPages, status, "tenant", d)
	return nil
}

// backupFiles lists the backups of sub in dir, newest first (their names
// sort by time).
func backupFiles(dir, sub string) []string {
	if dir == "" {
		return nil
	}
	matches, _ := filepath.Glob(filepath.Join(dir, sub+"-*.dump"))
	var out []string
	for _, m := range matches {
		name := filepath.Base(m)
		// Another tenant's subdomain may extend this one ("acme-eu").
		if rest := strings.TrimSuffix(strings.TrimPrefix(name, sub+"-"), ".dump"); len(rest) == len("20060102T150405Z") {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	slices.Reverse(out)
	return out
}

// actionError shows err on t's page: beside its field (renamed through
// fields, the form's own names) when it names one and is the client's
// fault, as the error page otherwise.
func (a *Server) actionError(w http.ResponseWriter, r *http.Request, d *webpage.Data, sub string, err error, fields map[string]string) error {
	status, err := d.FieldError(adminError(err))
	if err != nil {
		return err
	}
	for from, to := range fields {
		if msg, ok := d.Errors[from]; ok {
			delete(d.Errors, from)
			d.Errors[to] = msg
		}
	}
	t, gerr := a.m.Get(r.Context(), sub)
	if gerr != nil {
		return gerr
	}
	return a.renderTenant(w, r, d, t, status)
}

// ownMaxUsersField is the edit form's max users: the tenant's own, or
// empty when it follows its plan's (so saving the form does not pin the
// plan's value as its own).
func ownMaxUsersField(t *tenantstore.Tenant) string {
	if t.OwnMaxUsers == nil {
		return ""
	}
	return strconv.Itoa(*t.OwnMaxUsers)
}

// editSubmit changes the tenant's name, admin e-mail, max users and
// multi-location flag, refused when someone changed it since the form was
// shown (the version it carries).
func (a *Server) editSubmit(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	sub := mux.Vars(r)["subdomain"]
	d.Form = webpage.FormValues(r, "name", "admin_email", "max_users", "multi_location", "version")
	name, email, multi := d.Form["name"], d.Form["admin_email"], d.Form["multi_location"] != ""
	p := tenantstore.Patch{Name: &name, AdminEmail: &email, MultiLocation: &multi}
	if d.Form["max_users"] == "" {
		p.PlanMaxUsers = true // empty: follow the plan's (issue 17)
	} else {
		n, err := strconv.Atoi(d.Form["max_users"])
		if err != nil {
			return a.actionError(w, r, d, sub, httpapi.InvalidField("max_users", "must be a whole number, or empty for the plan's"), nil)
		}
		p.MaxUsers = &n
	}
	if v, err := strconv.ParseInt(d.Form["version"], 10, 64); err == nil {
		p.Version = &v
	}
	t, err := a.m.Update(r.Context(), sub, p)
	if err != nil {
		if errors.Is(err, tenantstore.ErrNotFound) {
			return err
		}
		delete(d.Form, "version") // a retry applies over the current version
		return a.actionError(w, r, d, sub, err, nil)
	}
	a.redirectWith(w, r, tenantURL(t.Subdomain), "Saved "+t.Name+".", false)
	return nil
}

// renameSubmit changes the tenant's subdomain: the old host stops being
// served and the new one is, everywhere, within a second.
func (a *Server) renameSubmit(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	sub := mux.Vars(r)["subdomain"]
	d.Form = webpage.FormValues(r, "subdomain")
	to := d.Form["subdomain"]
	t, err := a.m.Update(r.Context(), sub, tenantstore.Patch{Subdomain: &to})
	if err != nil {
		if errors.Is(err, tenantstore.ErrNotFound) {
			return err
		}
		return a.actionError(w, r, d, sub, err, nil)
	}
	a.redirectWith(w, r, tenantURL(t.Subdomain), fmt.Sprintf("Renamed: %s is now served at %s (the old subdomain %s no longer is).", t.Name, t.Subdomain, sub), false)
	return nil
}

func (a *Server) deletePage(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	t, err := a.m.Get(r.Context(), mux.Vars(r)["subdomain"])
	if err != nil {
		return err
	}
	return a.renderDelete(w, r, d, t, http.StatusOK)
}

func (a *Server) renderDelete(w http.ResponseWriter, r *http.Request, d *webpage.Data, t *tenantstore.Tenant, status int) error {
	d.Title, d.Data = "Delete "+t.Name, t
	webpage.Render(w, r, a.log, adminPages, status, "delete", d)
	return nil
}

// deleteSubmit deletes a suspended tenant once its subdomain has been typed
// to confirm; a database kept instead of dropped is said in the notice.
func (a *Server) deleteSubmit(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	t, err := a.m.Get(r.Context(), mux.Vars(r)["subdomain"])
	if err != nil {
		return err
	}
	d.Form = webpage.FormValues(r, "confirm_subdomain", "drop_database")
	if d.Form["confirm_subdomain"] != t.Subdomain {
		d.Errors = map[string]string{"confirm_subdomain": "type the subdomain " + t.Subdomain + " to confirm"}
		return a.renderDelete(w, r, d, t, http.StatusBadRequest)
	}
	res, err := a.m.Delete(r.Context(), t.Subdomain, tenantstore.DeleteOptions{DropDatabase: d.Form["drop_database"] != ""})
	if err != nil {
		status, err := d.FieldError(adminError(err))
		if err != nil {
			return err
		}
		// The delete form has no input for what the refusal names (the
		// tenant's status): it is the form's error.
		for field, msg := range d.Errors {
			if field != "confirm_subdomain" {
				delete(d.Errors, field)
				d.Error = "Not deleted: " + msg + "."
			}
		}
		return a.renderDelete(w, r, d, t, status)
	}
	msg := "Deleted " + t.Name + " (" + t.Subdomain + ")."
	switch {
	case res.DatabaseDropped:
		msg += " Its database " + t.DatabaseName + " was dropped."
	case res.Warning != "":
		msg += " Warning: " + res.Warning
	default:
		msg += " Its database " + t.DatabaseName + " was kept, detached."
	}
	a.redirectWith(w, r, "/", msg, false)
	return nil
}

func (a *Server) domainAddSubmit(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	sub := mux.Vars(r)["subdomain"]
	d.Form = webpage.FormValues(r, "hostname")
	dm, err := a.m.AddDomain(r.Context(), sub, d.Form["hostname"])
	if err != nil {
		if errors.Is(err, tenantstore.ErrNotFound) {
			return err
		}
		return a.actionError(w, r, d, sub, err, nil)
	}
	a.redirectWith(w, r, tenantURL(sub), fmt.Sprintf("Added %s. Publish the TXT record %s with the value %s, then verify it.",
		dm.Hostname, tenantstore.VerificationRecord(dm.Hostname), dm.VerificationToken), false)
	return nil
}

func (a *Server) domainVerifySubmit(w http.ResponseWriter, r *http.Request, _ *webpage.Data) error {
	v := mux.Vars(r)
	dm, err := a.m.VerifyDomain(r.Context(), v["subdomain"], v["hostname"])
	if err != nil {
		var ve *tenantstore.ValidationError
		if errors.As(err, &ve) {
			a.redirectWith(w, r, tenantURL(v["subdomain"]), v["hostname"]+" is not verified yet: "+ve.Message, true)
			return nil
		}
		return err
	}
	a.redirectWith(w, r, tenantURL(v["subdomain"]), dm.Hostname+" is verified: it is served and gets certificates now.", false)
	return nil
}

func (a *Server) domainRemoveSubmit(w http.ResponseWriter, r *http.Request, _ *webpage.Data) error {
	v := mux.Vars(r)
	if err := a.m.RemoveDomain(r.Context(), v["subdomain"], v["hostname"]); err != nil {
		return err
	}
	a.redirectWith(w, r, tenantURL(v["subdomain"]), "Removed "+v["hostname"]+".", false)
	return nil
}

// locationFields maps the Manager's location fields to the add form's.
var locationFields = map[string]string{"name": "loc_name", "code": "loc_code", "address": "loc_address"}

func (a *Server) locationAddSubmit(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	sub := mux.Vars(r)["subdomain"]
	d.Form = webpage.FormValues(r, "loc_name", "loc_code", "loc_address")
	l, err := a.m.AddLocation(r.Context(), sub, tenantstore.LocationInput{
		Name: d.Form["loc_name"], Code: d.Form["loc_code"], Address: d.Form["loc_address"]})
	if err != nil {
		if errors.Is(err, tenantstore.ErrNotFound) {
			return err
		}
		return a.actionError(w, r, d, sub, err, locationFields)
	}
	a.redirectWith(w, r, tenantURL(sub), fmt.Sprintf("Added the location %s (%s).", l.Name, l.Code), false)
	return nil
}

// locationEditSubmit changes a location's name, address and active flag;
// a refusal is the page's error (the row's inputs have no error slot).
func (a *Server) locationEditSubmit(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	v := mux.Vars(r)
	f := webpage.FormValues(r, "name", "address", "active")
	active := f["active"] != ""
	l, err := a.m.UpdateLocation(r.Context(), v["subdomain"], v["code"], tenantstore.LocationPatch{
		Name: ptr(f["name"]), Address: ptr(f["address"]), Active: &active})
	if err != nil {
		if errors.Is(err, tenantstore.ErrNotFound) {
			return err
		}
		var ve *tenantstore.ValidationError
		if errors.As(err, &ve) {
			a.redirectWith(w, r, tenantURL(v["subdomain"]), "Location "+v["code"]+" not saved: "+ve.Field+" "+ve.Message, true)
			return nil
		}
		return err
	}
	state := "active"
	if !l.Active {
		state = "inactive"
	}
	a.redirectWith(w, r, tenantURL(v["subdomain"]), fmt.Sprintf("Saved the location %s (%s), %s.", l.Name, l.Code, state), false)
	return nil
}

func ptr[T any](v T) *T { return &v }

func (a *Server) locationDeleteSubmit(w http.ResponseWriter, r *http.Request, _ *webpage.Data) error {
	v := mux.Vars(r)
	if err := a.m.DeleteLocation(r.Context(), v["subdomain"], v["code"]); err != nil {
		if errors.Is(err, tenantstore.ErrNotFound) {
			return err
		}
		ae, internal := httpapi.ErrorFor(adminError(err))
		if internal {
			return err
		}
		a.redirectWith(w, r, tenantURL(v["subdomain"]), "Location "+v["code"]+" not deleted: "+ae.Message, true)
		return nil
	}
	a.redirectWith(w, r, tenantURL(v["subdomain"]), "Deleted the location "+v["code"]+".", false)
	return nil
}

// startJob starts run as a job of kind for t and redirects to its page; a
// job already running is the tenant page's error.
func (a *Server) startJob(w http.ResponseWriter, r *http.Request, o *Ops, kind string, t *tenantstore.Tenant, run tenantops.RunFunc) error {
	job, err := o.Jobs.Start(r.Context(), kind, t.Subdomain, run)
	if err != nil {
		if errors.Is(err, tenantops.ErrJobRunning) {
			a.redirectWith(w, r, tenantURL(t.Subdomain), "Not started: "+t.Name+" already has a job running; wait for it to finish.", true)
			return nil
		}
		return err
	}
	a.redirectWith(w, r, "/jobs/"+job.ID, "Started the "+kind+" of "+t.Name+".", false)
	return nil
}

func (a *Server) backupSubmit(w http.ResponseWriter, r *http.Request, _ *webpage.Data) error {
	o, err := a.ops()
	if err != nil {
		return err
	}
	if o.BackupDir == "" {
		return &httpapi.Error{Status: http.StatusNotImplemented, Code: "not_configured", Message: "no backup directory is configured on this server"}
	}
	t, err := a.m.Get(r.Context(), mux.Vars(r)["subdomain"])
	if err != nil {
		return err
	}
	sub, dir := t.Subdomain, o.BackupDir
	return a.startJob(w, r, o, tenantops.KindBackup, t, func(ctx context.Context, progress func(string)) (any, error) {
		return o.Ops.Backup(ctx, sub, dir, progress)
	})
}

// restoreSubmit restores one of the tenant's backups in the server's
// backup directory (chosen from the list, never a path the form names).
func (a *Server) restoreSubmit(w http.ResponseWriter, r *http.Request, _ *webpage.Data) error {
	o, err := a.ops()
	if err != nil {
		return err
	}
	t, err := a.m.Get(r.Context(), mux.Vars(r)["subdomain"])
	if err != nil {
		return err
	}
	name := r.PostForm.Get("file")
	if !slices.Contains(backupFiles(o.BackupDir, t.Subdomain), name) {
		a.redirectWith(w, r, tenantURL(t.Subdomain), "Not restored: choose one of the tenant's backups.", true)
		return nil
	}
	sub, file := t.Subdomain, filepath.Join(o.BackupDir, name)
	if _, err := os.Stat(file); err != nil {
		return err
	}
	opts := tenantops.RestoreOptions{DropOld: r.PostForm.Get("drop_old") != ""}
	return a.startJob(w, r, o, tenantops.KindRestore, t, func(ctx context.Context, progress func(string)) (any, error) {
		return o.Ops.Restore(ctx, sub, file, opts, progress)
	})
}

func (a *Server) moveSubmit(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	o, err := a.ops()
	if err != nil {
		return err
	}
	sub := mux.Vars(r)["subdomain"]
	t, err := a.m.Get(r.Context(), sub)
	if err != nil {
		return err
	}
	if server := strings.TrimSpace(r.PostForm.Get("to_server")); server != "" {
		s, err := a.checkMoveToServer(r.Context(), t, server)
		if err != nil {
			return a.actionError(w, r, d, sub, err, nil)
		}
		sub, name := t.Subdomain, s.Name
		return a.startJob(w, r, o, tenantops.KindMove, t, func(ctx context.Context, progress func(string)) (any, error) {
			return o.Ops.MoveToServer(ctx, sub, name, tenantops.MoveOptions{}, progress)
		})
	}
	target := strings.TrimSpace(r.PostForm.Get("new_url"))
	// The URL holds a password: it is never put back into the form.
	if u, err := url.Parse(target); target == "" || err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return a.actionError(w, r, d, sub, httpapi.InvalidField("new_url", "must be a postgres:// URL naming the target server"), nil)
	}
	if err := a.m.CheckMoveTarget(r.Context(), "new_url", t.Subdomain, target); err != nil {
		return a.actionError(w, r, d, sub, err, nil)
	}
	sub = t.Subdomain
	return a.startJob(w, r, o, tenantops.KindMove, t, func(ctx context.Context, progress func(string)) (any, error) {
		return o.Ops.Move(ctx, sub, target, tenantops.MoveOptions{}, progress)
	})
}

// jobsPageData is the job list.
type jobsPageData struct {
	Tenant, Next string
	Jobs         []tenantops.Job
	Disabled     bool // operations are not configured on this server
}

func (a *Server) jobsPage(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	q := r.URL.Query()
	data := jobsPageData{Tenant: q.Get("tenant")}
	d.Title = "Jobs"
	o, err := a.ops()
	if err != nil {
		data.Disabled = true
		d.Data = data
		webpage.Render(w, r, a.log, adminPages, http.StatusOK, "jobs", d)
		return nil
	}
	data.Jobs, data.Next, err = o.Jobs.List(r.Context(), tenantops.JobListOptions{Tenant: data.Tenant, Cursor: q.Get("cursor"), Limit: dashboardPageSize})
	if err != nil {
		return err
	}
	d.Data = data
	webpage.Render(w, r, a.log, adminPages, http.StatusOK, "jobs", d)
	return nil
}

// jobPageData is one job's page; Result is its result, indented.
type jobPageData struct {
	Job    tenantops.Job
	Result string
}

// jobPage shows a job; while it runs, the page refreshes itself every two
// seconds (<meta http-equiv=refresh>, no script).
func (a *Server) jobPage(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	o, err := a.ops()
	if err != nil {
		return err
	}
	id, ok := httpapi.ParseID(mux.Vars(r)["id"])
	if !ok {
		return httpapi.ErrNotFound
	}
	job, err := o.Jobs.Get(r.Context(), id.String())
	if err != nil {
		return err
	}
	data := jobPageData{Job: job, Result: indentJSON(job.Result)}
	d.Title, d.Data = job.Kind+" of "+job.Tenant, data
	webpage.Render(w, r, a.log, adminPages, http.StatusOK, "job", d)
	return nil
}
