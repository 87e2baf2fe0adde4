package tenantops

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// JobListOptions filters and pages Jobs.List.
type JobListOptions struct {
	Tenant string // only this tenant's jobs; "" for all
	Cursor string // the next cursor of the previous page; "" for the first
	Limit  int    // page size; 0 means tenantstore.DefaultListLimit, capped at tenantstore.MaxListLimit
}

// List returns a page of jobs, newest first, and the cursor of the next
// page ("" on the last). Unfinished jobs whose process stopped are reported
// failed, as by Get.
func (j *Jobs) List(ctx context.Context, opts JobListOptions) ([]Job, string, error) {
	limit := opts.Limit
	if limit <= 0 {
		limit = tenantstore.DefaultListLimit
	}
	limit = min(limit, tenantstore.MaxListLimit)
	var (
		before   time.Time
		beforeID string
	)
	if opts.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(opts.Cursor)
		ts, id, ok := strings.Cut(string(b), "|")
		var perr error
		if err == nil && ok {
			before, perr = time.Parse(time.RFC3339Nano, ts)
		}
		if err != nil || !ok || perr != nil {
			return nil, "", &tenantstore.ValidationError{Field: "cursor", Message: "is not a cursor returned by a previous page"}
		}
		beforeID = id
	}
	rows, err := j.pool.Query(ctx, `SELECT id, kind, tenant, status, step, result, error, created_at, finished_at,
		heartbeat_at < now() - make_interval(secs => $1)
		FROM jobs WHERE ($2 = '' OR tenant = $2) AND ($3 = '' OR (created_at, id::text) < ($4, $3))
		ORDER BY created_at DESC, id::text DESC LIMIT $5`,
		j.cfg.StaleAfter.Seconds(), strings.ToLower(strings.TrimSpace(opts.Tenant)), beforeID, before, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("listing jobs: %w", err)
	}
	defer rows.Close()
	var out []Job
	for rows.Next() {
		var job Job
		var stale bool
		var result []byte
		if err := rows.Scan(&job.ID, &job.Kind, &job.Tenant, &job.Status, &job.Step, &result, &job.Error,
			&job.CreatedAt, &job.FinishedAt, &stale); err != nil {
			return nil, "", fmt.Errorf("listing jobs: %w", err)
		}
		if result != nil {
			job.Result = result
		}
		if !job.Done() && stale {
			job.Status = JobFailed
			job.Error = "abandoned: the process running this job stopped"
		}
		out = append(out, job)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("listing jobs: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = base64.RawURLEncoding.EncodeToString([]byte(last.CreatedAt.UTC().Format(time.RFC3339Nano) + "|" + last.ID))
	}
	return out, next, nil
}
