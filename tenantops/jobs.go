package tenantops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantgate/tenantgate/internal/actor"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// Job kinds recorded by the operations of this package.
const (
	KindBackup  = "backup"
	KindRestore = "restore"
	KindMove    = "move"
)

// JobStatus is the state of a Job.
type JobStatus string

// The states of a job: queued (recorded, not started), running, and the two
// final states.
const (
	JobQueued    JobStatus = "queued"
	JobRunning   JobStatus = "running"
	JobSucceeded JobStatus = "succeeded"
	JobFailed    JobStatus = "failed"
)

// Defaults of JobsConfig.
const (
	DefaultHeartbeatInterval = 10 * time.Second
	DefaultStaleAfter        = time.Minute
)

// ErrJobRunning means the tenant already has an unfinished job; it wraps
// tenantstore.ErrConflict so the admin API answers 409.
var ErrJobRunning = fmt.Errorf("%w: the tenant already has a job running; wait for it to finish", tenantstore.ErrConflict)

// Job is one recorded operation on a tenant. Result is the JSON of what the
// job's function returned (a *BackupResult, *RestoreResult or *MoveResult);
// Error is its error message. Neither ever holds a secret.
type Job struct {
	ID         string          `json:"id"`
	Kind       string          `json:"kind"`
	Tenant     string          `json:"tenant"`
	Status     JobStatus       `json:"status"`
	Step       string          `json:"step,omitempty"`
	Result     json.RawMessage `json:"result,omitempty"`
	Error      string          `json:"error,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
	FinishedAt *time.Time      `json:"finished_at,omitempty"`
}

// Done reports whether the job has finished (succeeded or failed).
func (j Job) Done() bool { return j.Status == JobSucceeded || j.Status == JobFailed }

// RunFunc is the work of a job. It reports each step it begins through
// progress and returns a JSON-marshalable result.
type RunFunc func(ctx context.Context, progress func(step string)) (result any, err error)

// JobsConfig configures Jobs.
type JobsConfig struct {
	// DatabaseURL is the control-plane database (DATABASE_URL). Its
	// migrations, which create the jobs table, must have been applied:
	// tenantstore.Open does that.
	DatabaseURL string
	// HeartbeatInterval is how often a running job records that its process
	// is alive. Default DefaultHeartbeatInterval.
	HeartbeatInterval time.Duration
	// StaleAfter is how long without a heartbeat before an unfinished job is
	// reported failed (its process stopped). Default DefaultStaleAfter; it
	// must exceed HeartbeatInterval.
	StaleAfter time.Duration
}

// Jobs records and runs tenant operations in the control-plane database, so
// that a job started on one appserver instance can be followed from any
// other. At most one job per tenant is unfinished at a time, across every
// process (a partial unique index enforces it), so a move never races a
// backup. A job whose process dies stops heartbeating and is reported failed
// after StaleAfter.
//
// The admin API uses it like this:
//
//	job, err := jobs.Start(ctx, tenantops.KindBackup, sub, func(ctx context.Context, progress func(string)) (any, error) {
//		return ops.Backup(ctx, sub, dir, progress)
//	})
//	// 202 with job; errors.Is(err, tenantstore.ErrConflict) → 409
//	job, err = jobs.Get(ctx, id) // errors.Is(err, tenantstore.ErrNotFound) → 404
//
// Jobs is safe for concurrent use; Close cancels the jobs this process runs
// and waits for them.
type Jobs struct {
	cfg  JobsConfig
	pool *pgxpool.Pool

	ctx    context.Context // parent of every job this process runs
	cancel context.CancelFunc
	mu     sync.Mutex // guards closed and wg.Add against Close's wg.Wait
	closed bool
	wg     sync.WaitGroup
	once   sync.Once
}

// ErrJobsClosed is returned by Start and Run after Close.
var ErrJobsClosed = errors.New("jobs closed")

// track registers a job run with Close, or fails once Close has begun.
func (j *Jobs) track() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return ErrJobsClosed
	}
	j.wg.Add(1)
	return nil
}

// OpenJobs connects to the control-plane database.
func OpenJobs(ctx context.Context, cfg JobsConfig) (*Jobs, error) {
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = DefaultStaleAfter
	}
	if cfg.StaleAfter <= cfg.HeartbeatInterval {
		return nil, fmt.Errorf("opening jobs: StaleAfter (%s) must exceed HeartbeatInterval (%s)", cfg.StaleAfter, cfg.HeartbeatInterval)
	}
	pcfg, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("opening jobs: parsing DATABASE_URL %s: not a valid URL", tenantstore.RedactURL(cfg.DatabaseURL))
	}
	pcfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("opening jobs: %w", err)
	}
	jctx, cancel := context.WithCancel(context.Background())
	return &Jobs{cfg: cfg, pool: pool, ctx: jctx, cancel: cancel}, nil
}

// Close cancels the jobs this process is running, waits until they have
// recorded their end, and closes the connections. It is idempotent.
func (j *Jobs) Close() {
	j.once.Do(func() {
		j.mu.Lock()
		j.closed = true
		j.mu.Unlock()
		j.cancel()
		j.wg.Wait()
		j.pool.Close()
	})
}

// Start records a job of kind for the tenant with subdomain tenant and runs
// run in the background, detached from ctx (which bounds only the
// recording). It returns the job as recorded, status running. When the
// tenant already has an unfinished job it fails with ErrJobRunning.
func (j *Jobs) Start(ctx context.Context, kind, tenant string, run RunFunc) (Job, error) {
	if err := j.track(); err != nil {
		return Job{}, err
	}
	job, err := j.insert(ctx, kind, tenant)
	if err != nil {
		j.wg.Done()
		return Job{}, err
	}
	// The job outlives the request but keeps its actor, so the changes it
	// makes are audited as the caller's.
	jctx := actor.NewContext(j.ctx, actor.FromContext(ctx))
	go func() {
		defer j.wg.Done()
		_, _ = j.execute(jctx, job.ID, run)
	}()
	return job, nil
}

// Run records a job like Start but runs it in the caller's goroutine and
// returns when it has finished, with the job as finished and run's error
// (tenantctl uses it, so its operations are visible to and exclusive with
// the admin API's).
func (j *Jobs) Run(ctx context.Context, kind, tenant string, run RunFunc) (Job, error) {
	if err := j.track(); err != nil {
		return Job{}, err
	}
	defer j.wg.Done()
	job, err := j.insert(ctx, kind, tenant)
	if err != nil {
		return Job{}, err
	}
	// Close cancels this job too.
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(j.ctx, cancel)
	defer stop()
	runErr, recErr := j.execute(rctx, job.ID, run)
	if got, err := j.Get(context.WithoutCancel(ctx), job.ID); err == nil {
		job = got
	}
	if runErr == nil && recErr != nil {
		runErr = recErr
	}
	return job, runErr
}

func (j *Jobs) insert(ctx context.Context, kind, tenant string) (Job, error) {
	tenant = strings.ToLower(strings.TrimSpace(tenant)) // subdomains compare lower-case
	if kind == "" || tenant == "" {
		return Job{}, errors.New("starting job: kind and tenant are required")
	}
	// A job whose process died would hold the tenant forever; fail it first.
	if _, err := j.pool.Exec(ctx, `UPDATE jobs SET status = 'failed', finished_at = now(),
		error = 'abandoned: the process running this job stopped'
		WHERE tenant = $1 AND status IN ('queued', 'running') AND heartbeat_at < now() - make_interval(secs => $2)`,
		tenant, j.cfg.StaleAfter.Seconds()); err != nil {
		return Job{}, fmt.Errorf("starting %s job for tenant %q: %w", kind, tenant, err)
	}
	job := Job{ID: uuid.NewString(), Kind: kind, Tenant: tenant, Status: JobRunning}
	// The job row and its audit row commit together: a job nobody audited
	// never starts, and an audit row never names a job that was refused.
	err := pgx.BeginFunc(ctx, j.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO jobs (id, kind, tenant, status) VALUES ($1, $2, $3, 'running')
			RETURNING created_at`, job.ID, kind, tenant).Scan(&job.CreatedAt); err != nil {
			return err
		}
		// The job is the request (backup, move, restore…); its effect on
		// the tenant is audited again when it switches the tenant's database.
		return tenantstore.AuditWith(ctx, tx, "job."+kind, &tenantstore.Tenant{Subdomain: tenant}, nil, job)
	})
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" {
			return Job{}, fmt.Errorf("starting %s job for tenant %q: %w", kind, tenant, ErrJobRunning)
		}
		return Job{}, fmt.Errorf("starting %s job for tenant %q: %w", kind, tenant, err)
	}
	return job, nil
}

// execute runs the job, heartbeating, and records its end. It returns run's
// error and the error of recording the end.
func (j *Jobs) execute(ctx context.Context, id string, run RunFunc) (runErr, recErr error) {
	hbCtx, stopHB := context.WithCancel(context.WithoutCancel(ctx))
	hbDone := make(chan struct{})
	go func() {
		defer close(hbDone)
		t := time.NewTicker(j.cfg.HeartbeatInterval)
		defer t.Stop()
		for {
			select {
			case <-hbCtx.Done():
				return
			case <-t.C:
				j.exec(hbCtx, "UPDATE jobs SET heartbeat_at = now() WHERE id = $1", id)
			}
		}
	}()
	progress := func(step string) {
		j.exec(ctx, "UPDATE jobs SET step = $2, heartbeat_at = now() WHERE id = $1", id, step)
	}
	result, runErr := safeRun(ctx, run, progress)
	stopHB()
	<-hbDone

	var res []byte
	if runErr == nil && result != nil {
		var err error
		if res, err = json.Marshal(result); err != nil {
			runErr = fmt.Errorf("encoding the job result: %w", err)
		}
	}
	status, msg := JobSucceeded, ""
	if runErr != nil {
		status, msg = JobFailed, runErr.Error()
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_, recErr = j.pool.Exec(rctx, `UPDATE jobs SET status = $2, result = $3, error = $4, finished_at = now(), heartbeat_at = now()
		WHERE id = $1`, id, status, res, msg)
	if recErr != nil {
		recErr = fmt.Errorf("recording the end of job %s: %w", id, recErr)
	}
	return runErr, recErr
}

// safeRun turns a panic in run into the job's error, so a bug fails one job
// instead of the process.
func safeRun(ctx context.Context, run RunFunc, progress func(string)) (result any, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("job panicked: %v", v)
		}
	}()
	return run(ctx, progress)
}

// exec runs a best-effort bookkeeping statement (progress, heartbeat): a
// failure to record progress must not fail the job itself.
func (j *Jobs) exec(ctx context.Context, sql string, args ...any) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, _ = j.pool.Exec(ctx, sql, args...)
}

// Get returns the job with id, from any process; tenantstore.ErrNotFound
// when there is none. An unfinished job whose process stopped heartbeating
// is reported failed.
func (j *Jobs) Get(ctx context.Context, id string) (Job, error) {
	if _, err := uuid.Parse(id); err != nil {
		return Job{}, fmt.Errorf("getting job %q: %w", id, tenantstore.ErrNotFound)
	}
	var job Job
	var stale bool
	var result []byte
	err := j.pool.QueryRow(ctx, `SELECT id, kind, tenant, status, step, result, error, created_at, finished_at,
		heartbeat_at < now() - make_interval(secs => $2)
		FROM jobs WHERE id = $1`, id, j.cfg.StaleAfter.Seconds()).Scan(
		&job.ID, &job.Kind, &job.Tenant, &job.Status, &job.Step, &result, &job.Error, &job.CreatedAt, &job.FinishedAt, &stale)
	if errors.Is(err, pgx.ErrNoRows) {
		return Job{}, fmt.Errorf("getting job %q: %w", id, tenantstore.ErrNotFound)
	}
	if err != nil {
		return Job{}, fmt.Errorf("getting job %q: %w", id, err)
	}
	if result != nil {
		job.Result = result
	}
	if !job.Done() && stale {
		job.Status = JobFailed
		job.Error = "abandoned: the process running this job stopped"
	}
	return job, nil
}
