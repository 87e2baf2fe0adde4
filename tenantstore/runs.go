package tenantstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// RunState is the state of a MigrationRun.
type RunState string

// The states of a migration run (see migrations/control/00007).
const (
	RunRunning   RunState = "running"   // in progress, or its process died
	RunSucceeded RunState = "succeeded" // every tenant ok or skipped
	RunFailed    RunState = "failed"    // every tenant attempted, some failed
	RunStopped   RunState = "stopped"   // canary failure, --max-failures or interrupted: some pending
)

// RunTenantState is the state of one tenant in a migration run.
type RunTenantState string

// The states of a tenant in a run.
const (
	RunTenantPending RunTenantState = "pending" // not attempted yet (or interrupted)
	RunTenantOK      RunTenantState = "ok"
	RunTenantFailed  RunTenantState = "failed"
	RunTenantSkipped RunTenantState = "skipped" // deleted since the run started
)

// RunOptions are the options a migration run was started (or last resumed)
// with.
type RunOptions struct {
	Canary      int `json:"canary"`
	MaxFailures int `json:"max_failures"`
	Parallel    int `json:"parallel"`
}

// MigrationRun is one fleet migration recorded in the control plane.
type MigrationRun struct {
	ID            int64      `json:"id"`
	TargetVersion int64      `json:"target_version"`
	State         RunState   `json:"state"`
	StopReason    string     `json:"stop_reason,omitempty"`
	Options       RunOptions `json:"options"`
	StartedAt     time.Time  `json:"started_at"`
	ResumedAt     *time.Time `json:"resumed_at,omitempty"`
	Resumes       int        `json:"resumes"`
	FinishedAt    *time.Time `json:"finished_at,omitempty"`
}

// RunTenant is one tenant's result in a migration run. Error never holds a
// password.
type RunTenant struct {
	TenantID    string         `json:"tenant_id"`
	Subdomain   string         `json:"subdomain"`
	Position    int            `json:"position"`
	Canary      bool           `json:"canary"`
	State       RunTenantState `json:"state"`
	FromVersion *int64         `json:"from_version,omitempty"`
	ToVersion   *int64         `json:"to_version,omitempty"`
	Applied     int            `json:"applied"`
	Error       string         `json:"error,omitempty"`
	Attempts    int            `json:"attempts"`
	StartedAt   *time.Time     `json:"started_at,omitempty"`
	FinishedAt  *time.Time     `json:"finished_at,omitempty"`
}

// ErrNoRun means there is no migration run to resume.
var ErrNoRun = errors.New("no unfinished migration run to resume")

// maxRunError bounds the error text kept per tenant.
const maxRunError = 2000

// rolloutLockKey is the control-plane advisory lock held by the one rollout
// that may run at a time (an arbitrary constant no other lock uses).
const rolloutLockKey int64 = 0x2f1c_5a7e_0b9d_4e31

// lockRollout takes the control plane's rollout lock on a connection of its
// own, held until release; ErrRolloutRunning when another process holds it.
func (s *Store) lockRollout(ctx context.Context) (release func(), err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("taking the rollout lock: %w", translate(err))
	}
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", rolloutLockKey).Scan(&ok); err != nil {
		conn.Release()
		return nil, fmt.Errorf("taking the rollout lock: %w", translate(err))
	}
	if !ok {
		conn.Release()
		return nil, ErrRolloutRunning
	}
	return func() {
		// Unlock on this session; if that fails, closing the connection
		// releases the lock with it.
		if _, err := conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", rolloutLockKey); err != nil {
			_ = conn.Conn().Close(context.WithoutCancel(ctx))
		}
		conn.Release()
	}, nil
}

// runEntry is a tenant about to be recorded in a new run.
type runEntry struct {
	tenant *Tenant
	canary bool
}

// insertRun records a new run and its tenants, all pending, in position
// order.
func (s *Store) insertRun(ctx context.Context, target int64, opts RunOptions, entries []runEntry) (int64, error) {
	optJSON, err := json.Marshal(opts)
	if err != nil {
		return 0, err
	}
	var id int64
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, "INSERT INTO migration_runs (target_version, state, options) VALUES ($1, 'running', $2) RETURNING id",
			target, optJSON).Scan(&id); err != nil {
			return err
		}
		rows := make([][]any, len(entries))
		for i, e := range entries {
			rows[i] = []any{id, e.tenant.ID, e.tenant.Subdomain, i, e.canary}
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"migration_run_tenants"},
			[]string{"run_id", "tenant_id", "subdomain", "position", "canary"}, pgx.CopyFromRows(rows))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("recording the migration run: %w", translate(err))
	}
	return id, nil
}

const runColumns = "id, target_version, state, stop_reason, options, started_at, resumed_at, resumes, finished_at"

func scanRun(row pgx.Row) (*MigrationRun, error) {
	var r MigrationRun
	var opts []byte
	if err := row.Scan(&r.ID, &r.TargetVersion, &r.State, &r.StopReason, &opts, &r.StartedAt, &r.ResumedAt, &r.Resumes, &r.FinishedAt); err != nil {
		return nil, translate(err)
	}
	if err := json.Unmarshal(opts, &r.Options); err != nil {
		return nil, fmt.Errorf("reading migration run %d: options: %w", r.ID, err)
	}
	return &r, nil
}

// LatestRun returns the most recently started migration run, or ErrNotFound
// when there is none.
func (s *Store) LatestRun(ctx context.Context) (*MigrationRun, error) {
	return scanRun(s.pool.QueryRow(ctx, "SELECT "+runColumns+" FROM migration_runs ORDER BY started_at DESC, id DESC LIMIT 1"))
}

// RunTenants returns the tenants of run id in position order, only those
// in one of states when any are given.
func (s *Store) RunTenants(ctx context.Context, id int64, states ...RunTenantState) ([]RunTenant, error) {
	filter := make([]string, len(states))
	for i, st := range states {
		filter[i] = string(st)
	}
	rows, err := s.pool.Query(ctx, `SELECT tenant_id, subdomain, position, canary, state, from_version, to_version,
		applied, error, attempts, started_at, finished_at
		FROM migration_run_tenants WHERE run_id = $1 AND (cardinality($2::text[]) = 0 OR state = ANY($2))
		ORDER BY position`, id, filter)
	if err != nil {
		return nil, fmt.Errorf("reading migration run %d: %w", id, translate(err))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (RunTenant, error) {
		var t RunTenant
		err := row.Scan(&t.TenantID, &t.Subdomain, &t.Position, &t.Canary, &t.State, &t.FromVersion, &t.ToVersion,
			&t.Applied, &t.Error, &t.Attempts, &t.StartedAt, &t.FinishedAt)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading migration run %d: %w", id, translate(err))
	}
	return out, nil
}

// recordRunTenant stores one attempt's outcome.
func (s *Store) recordRunTenant(ctx context.Context, id int64, tenantID string, state RunTenantState, r MigrateResult, started time.Time) error {
	msg := redactText(errString(r.Err))
	if len(msg) > maxRunError {
		msg = msg[:maxRunError] + "…"
	}
	_, err := s.pool.Exec(ctx, `UPDATE migration_run_tenants
		SET state = $3, from_version = $4, to_version = $5, applied = $6, error = $7,
			attempts = attempts + 1, started_at = $8, finished_at = now()
		WHERE run_id = $1 AND tenant_id = $2`, id, tenantID, state, r.From, r.To, r.Applied, msg, started)
	if err != nil {
		return fmt.Errorf("recording tenant %q in migration run %d: %w", r.Subdomain, id, translate(err))
	}
	return nil
}

// skipRunTenant marks a tenant that no longer exists skipped.
func (s *Store) skipRunTenant(ctx context.Context, id int64, tenantID, reason string) error {
	_, err := s.pool.Exec(ctx, `UPDATE migration_run_tenants SET state = 'skipped', error = $3, finished_at = now()
		WHERE run_id = $1 AND tenant_id = $2`, id, tenantID, reason)
	if err != nil {
		return fmt.Errorf("recording migration run %d: %w", id, translate(err))
	}
	return nil
}

// resumeRun marks run id running again with opts.
func (s *Store) resumeRun(ctx context.Context, id int64, opts RunOptions) error {
	optJSON, err := json.Marshal(opts)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `UPDATE migration_runs SET state = 'running', stop_reason = '', options = $2,
		resumed_at = now(), resumes = resumes + 1, finished_at = NULL WHERE id = $1`, id, optJSON)
	if err != nil {
		return fmt.Errorf("resuming migration run %d: %w", id, translate(err))
	}
	return nil
}

// RunCounts is how many tenants of a run are in each state.
type RunCounts struct {
	OK      int `json:"ok"`
	Failed  int `json:"failed"`
	Pending int `json:"pending"`
	Skipped int `json:"skipped"`
}

// finishRun sets the final state of run id from its tenants' states
// (stopped, for reason, when some are pending) and returns it with the
// reason kept and the counts.
func (s *Store) finishRun(ctx context.Context, id int64, reason string) (RunState, string, RunCounts, error) {
	var c RunCounts
	err := s.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state = 'ok'), count(*) FILTER (WHERE state = 'failed'),
		count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'skipped')
		FROM migration_run_tenants WHERE run_id = $1`, id).Scan(&c.OK, &c.Failed, &c.Pending, &c.Skipped)
	if err != nil {
		return "", "", c, fmt.Errorf("finishing migration run %d: %w", id, translate(err))
	}
	state := RunSucceeded
	switch {
	case c.Pending > 0:
		state = RunStopped
		if reason == "" {
			reason = "interrupted"
		}
	case c.Failed > 0:
		state, reason = RunFailed, ""
	default:
		reason = ""
	}
	if _, err := s.pool.Exec(ctx, "UPDATE migration_runs SET state = $2, stop_reason = $3, finished_at = now() WHERE id = $1",
		id, state, reason); err != nil {
		return "", "", c, fmt.Errorf("finishing migration run %d: %w", id, translate(err))
	}
	return state, reason, c, nil
}
