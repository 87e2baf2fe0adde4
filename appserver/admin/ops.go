package admin

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/tenantgate/tenantgate/appserver/httpapi"
	"github.com/tenantgate/tenantgate/tenantops"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// Ops runs the long tenant operations of the admin API (backup, move)
// as jobs recorded in the control plane, so any appserver instance can
// report them (GET /api/jobs/{id}).
type Ops struct {
	Ops  *tenantops.Ops
	Jobs *tenantops.Jobs
	// BackupDir is the directory, on the appserver's disk, that backups are
	// written to. API clients cannot name another path. Empty disables
	// backups.
	BackupDir string
}

var errOpsDisabled = &httpapi.Error{Status: http.StatusNotImplemented, Code: "not_configured", Message: "tenant operations are not configured on this server"}

// The routes exist whether or not operations are configured, so the API (and
// its OpenAPI document) is the same everywhere; unconfigured, they answer
// 501 not_configured.
func (a *Server) opsRoutes(api *mux.Router) {
	api.Handle("/tenants/{subdomain}/backups", a.serve(a.startBackup)).Methods(http.MethodPost)
	api.Handle("/tenants/{subdomain}/move", a.serve(a.startMove)).Methods(http.MethodPost)
	api.Handle("/jobs", a.serve(a.listJobs)).Methods(http.MethodGet)
	api.Handle("/jobs/{id}", a.serve(a.getJob)).Methods(http.MethodGet)
}

func (a *Server) ops() (*Ops, error) {
	o := a.cfg.Ops
	if o == nil || o.Ops == nil || o.Jobs == nil {
		return nil, errOpsDisabled
	}
	return o, nil
}

// opsError maps a job that cannot start because another runs to 409
// job_running.
func opsError(err error) error {
	if errors.Is(err, tenantops.ErrJobRunning) {
		return httpapi.Conflict("job_running", "", "the tenant already has a job running; wait for it to finish")
	}
	return err
}

// accepted answers 202 with the job and where to follow it.
func accepted(w http.ResponseWriter, job tenantops.Job) {
	w.Header().Set("Location", "/api/jobs/"+job.ID)
	httpapi.WriteJSON(w, http.StatusAccepted, job)
}

// startBackup starts a backup of the tenant into the server's backup
// directory and answers 202 with its job.
func (a *Server) startBackup(w http.ResponseWriter, r *http.Request) error {
	o, err := a.ops()
	if err != nil {
		return err
	}
	if o.BackupDir == "" {
		return &httpapi.Error{Status: http.StatusNotImplemented, Code: "not_configured", Message: "no backup directory is configured on this server"}
	}
	if r.ContentLength != 0 {
		var none struct{}
		if err := httpapi.DecodeJSON(w, r, &none); err != nil {
			return err
		}
	}
	t, err := a.m.Get(r.Context(), mux.Vars(r)["subdomain"])
	if err != nil {
		return err
	}
	sub, dir := t.Subdomain, o.BackupDir
	job, err := o.Jobs.Start(r.Context(), tenantops.KindBackup, sub, func(ctx context.Context, progress func(string)) (any, error) {
		return o.Ops.Backup(ctx, sub, dir, progress)
	})
	if err != nil {
		return opsError(err)
	}
	accepted(w, job)
	return nil
}

type moveRequest struct {
	// NewURL names the target server and database; it holds a password and
	// is never logged or answered.
	NewURL string `json:"new_url"`
	// ToServer names a registered database server to move to instead.
	ToServer string `json:"to_server"`
}

// startMove starts moving the tenant's database to new_url (maintenance →
// copy → verify → switch → active) and answers 202 with its job.
func (a *Server) startMove(w http.ResponseWriter, r *http.Request) error {
	o, err := a.ops()
	if err != nil {
		return err
	}
	var in moveRequest
	if err := httpapi.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	in.NewURL = strings.TrimSpace(in.NewURL)
	if in.ToServer != "" {
		if in.NewURL != "" {
			return httpapi.InvalidField("to_server", "give to_server or new_url, not both")
		}
		return a.startMoveToServer(w, r, o, in.ToServer)
	}
	if in.NewURL == "" {
		return httpapi.InvalidField("new_url", "is required (or to_server)")
	}
	if u, err := url.Parse(in.NewURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return httpapi.InvalidField("new_url", "must be a postgres:// URL naming the target server")
	}
	t, err := a.m.Get(r.Context(), mux.Vars(r)["subdomain"])
	if err != nil {
		return err
	}
	// Before any connection: an allowed host, and no other tenant's
	// database (400 / 409 database_in_use naming new_url).
	if err := a.m.CheckMoveTarget(r.Context(), "new_url", t.Subdomain, in.NewURL); err != nil {
		return err
	}
	sub, target := t.Subdomain, in.NewURL
	job, err := o.Jobs.Start(r.Context(), tenantops.KindMove, sub, func(ctx context.Context, progress func(string)) (any, error) {
		return o.Ops.Move(ctx, sub, target, tenantops.MoveOptions{}, progress)
	})
	if err != nil {
		return opsError(err)
	}
	accepted(w, job)
	return nil
}

// startMoveToServer starts moving the tenant to the registered server
// called server; an unknown server is 400 and a draining or full one 409,
// both naming to_server, before any job starts.
func (a *Server) startMoveToServer(w http.ResponseWriter, r *http.Request, o *Ops, server string) error {
	t, err := a.m.Get(r.Context(), mux.Vars(r)["subdomain"])
	if err != nil {
		return err
	}
	s, err := a.checkMoveToServer(r.Context(), t, server)
	if err != nil {
		return err
	}
	sub, name := t.Subdomain, s.Name
	job, err := o.Jobs.Start(r.Context(), tenantops.KindMove, sub, func(ctx context.Context, progress func(string)) (any, error) {
		return o.Ops.MoveToServer(ctx, sub, name, tenantops.MoveOptions{}, progress)
	})
	if err != nil {
		return opsError(err)
	}
	accepted(w, job)
	return nil
}

// checkMoveToServer refuses, naming to_server, a move of t to a server
// that is unknown (400), t's current one, draining or full (409), before
// any job starts.
func (a *Server) checkMoveToServer(ctx context.Context, t *tenantstore.Tenant, server string) (*tenantstore.Server, error) {
	if err := tenantstore.ValidateServerName("to_server", server); err != nil {
		return nil, err
	}
	s, err := a.m.Server(ctx, server)
	if errors.Is(err, tenantstore.ErrNotFound) {
		return nil, httpapi.InvalidField("to_server", "names no registered database server (GET /api/servers)")
	}
	if err != nil {
		return nil, err
	}
	if cur, err := a.m.ServerOf(ctx, t); err == nil && cur.Name == s.Name {
		return nil, httpapi.Conflict("conflict", "to_server", "to_server names server "+s.Name+", where the tenant's database already is")
	}
	if err := a.m.Store().Accepts(ctx, "to_server", s); err != nil {
		return nil, err
	}
	return s, nil
}

// getJob answers a job of any appserver instance.
func (a *Server) getJob(w http.ResponseWriter, r *http.Request) error {
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
		if errors.Is(err, tenantstore.ErrNotFound) {
			return httpapi.ErrNotFound
		}
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, job)
	return nil
}

// listJobs answers a page of jobs of every appserver instance, newest
// first, filtered by ?tenant=.
func (a *Server) listJobs(w http.ResponseWriter, r *http.Request) error {
	o, err := a.ops()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	opts := tenantops.JobListOptions{Tenant: q.Get("tenant"), Cursor: q.Get("cursor")}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > httpapi.MaxPageLimit {
			return httpapi.InvalidField("limit", "must be a whole number from 1 to "+strconv.Itoa(httpapi.MaxPageLimit))
		}
		opts.Limit = n
	}
	jobs, next, err := o.Jobs.List(r.Context(), opts)
	if err != nil {
		return err
	}
	if jobs == nil {
		jobs = []tenantops.Job{}
	}
	httpapi.WriteJSON(w, http.StatusOK, httpapi.Page[tenantops.Job]{Items: jobs, NextCursor: next})
	return nil
}
