package tenantops_test

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/tenantgate/tenantgate/tenantops"
	"strings"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/tenantstore"
)

func openJobs(t *testing.T, e *env, cfg tenantops.JobsConfig) *tenantops.Jobs {
	t.Helper()
	cfg.DatabaseURL = e.controlURL
	j, err := tenantops.OpenJobs(context.Background(), cfg)
	if err != nil {
		t.Fatalf("OpenJobs: %v", err)
	}
	t.Cleanup(j.Close)
	return j
}

// waitDone polls the job from jobs (possibly another instance) until it
// has finished.
func waitDone(t *testing.T, jobs *tenantops.Jobs, id string) tenantops.Job {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		job, err := jobs.Get(context.Background(), id)
		if err != nil {
			t.Fatalf("Get(%s): %v", id, err)
		}
		if job.Done() {
			return job
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s after 30s (step %q)", id, job.Status, job.Step)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestJobsBackupVisibleFromAnotherInstance(t *testing.T) {
	e := newEnv(t)
	e.createTenant(t, "acme", 4)
	ctx := context.Background()
	runner := openJobs(t, e, tenantops.JobsConfig{})
	observer := openJobs(t, e, tenantops.JobsConfig{}) // another appserver instance
	dir := t.TempDir()

	release := make(chan struct{})
	job, err := runner.Start(ctx, tenantops.KindBackup, "acme", func(ctx context.Context, progress func(string)) (any, error) {
		progress("waiting")
		<-release
		return e.ops.Backup(ctx, "acme", dir, progress)
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if job.Status != tenantops.JobRunning || job.Kind != tenantops.KindBackup || job.Tenant != "acme" {
		t.Errorf("Start = %+v, want a running backup job of acme", job)
	}

	// While it runs, a second job for the tenant is refused, from any instance.
	_, err = observer.Start(ctx, tenantops.KindMove, "acme", func(context.Context, func(string)) (any, error) { return nil, nil })
	if !errors.Is(err, tenantops.ErrJobRunning) || !errors.Is(err, tenantstore.ErrConflict) {
		t.Errorf("second Start while running = %v, want tenantops.ErrJobRunning (a conflict)", err)
	}
	if got, err := observer.Get(ctx, job.ID); err != nil || got.Status != tenantops.JobRunning {
		t.Errorf("Get from another instance while running = %+v, %v; want running", got, err)
	}
	close(release)

	done := waitDone(t, observer, job.ID)
	if done.Status != tenantops.JobSucceeded || done.FinishedAt == nil || done.Error != "" {
		t.Fatalf("finished job = %+v, want succeeded", done)
	}
	var res tenantops.BackupResult
	if err := json.Unmarshal(done.Result, &res); err != nil || res.SHA256 == "" || res.Manifest.Tables["public.customers"] != 4 {
		t.Errorf("job result = %s (%v), want a backup result with 4 customers", done.Result, err)
	}
}

func TestJobsRecordFailures(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	jobs := openJobs(t, e, tenantops.JobsConfig{})

	tests := []struct {
		name    string
		run     tenantops.RunFunc
		wantErr string
	}{
		{"error", func(context.Context, func(string)) (any, error) { return nil, errors.New("disk full") }, "disk full"},
		{"panic", func(context.Context, func(string)) (any, error) { panic("boom") }, "job panicked: boom"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			job, err := jobs.Start(ctx, tenantops.KindBackup, "t-"+tc.name, tc.run)
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			done := waitDone(t, jobs, job.ID)
			if done.Status != tenantops.JobFailed || !strings.Contains(done.Error, tc.wantErr) {
				t.Errorf("job = %s %q, want failed with %q", done.Status, done.Error, tc.wantErr)
			}
		})
	}

	// Run is synchronous and returns the job's error.
	job, err := jobs.Run(ctx, tenantops.KindRestore, "sync", func(_ context.Context, progress func(string)) (any, error) {
		progress("one")
		return map[string]int{"n": 1}, nil
	})
	if err != nil || job.Status != tenantops.JobSucceeded || string(job.Result) != `{"n": 1}` {
		t.Errorf("Run = %+v, %v; want succeeded with result {\"n\": 1}", job, err)
	}

	for _, id := range []string{"not-a-uuid", "6f1d1f63-3c8a-4b59-9a55-2f5e77a0d1c1"} {
		if _, err := jobs.Get(ctx, id); !errors.Is(err, tenantstore.ErrNotFound) {
			t.Errorf("Get(%q) = %v, want ErrNotFound", id, err)
		}
	}
}

func TestJobsAbandonedByADeadProcessAreFailed(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cfg := tenantops.JobsConfig{HeartbeatInterval: 50 * time.Millisecond, StaleAfter: 500 * time.Millisecond}
	jobs := openJobs(t, e, cfg)
	// A job recorded by a process that died: running, never heartbeating.
	dead, err := jobs.Insert(ctx, tenantops.KindMove, "acme")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := jobs.Get(ctx, dead.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status == tenantops.JobFailed && strings.Contains(got.Error, "abandoned") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dead job = %s %q after 10s, want failed as abandoned", got.Status, got.Error)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// … and no longer blocks the tenant.
	job, err := jobs.Run(ctx, tenantops.KindBackup, "acme", func(context.Context, func(string)) (any, error) { return nil, nil })
	if err != nil || job.Status != tenantops.JobSucceeded {
		t.Errorf("Run after an abandoned job = %+v, %v; want succeeded", job, err)
	}
}
