package tenantstore

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// ErrRolloutRunning means another process is running a fleet migration (it
// holds the control plane's rollout lock).
var ErrRolloutRunning = fmt.Errorf("%w: another 'tenantctl migrate' is rolling out migrations; wait for it to finish", ErrConflict)

// ErrRunTarget means the run to resume was started for other migrations
// than this binary's.
var ErrRunTarget = errors.New("the run to resume targets another migration version")

// RolloutOptions shapes Manager.Rollout.
type RolloutOptions struct {
	// Parallel is how many tenants are migrated at once; 0 means
	// DefaultParallel.
	Parallel int
	// Canary migrates this many tenants first (see CanaryOrder) and stops
	// the rollout, leaving the rest pending, when any of them fails.
	// Ignored when resuming: a run's canaries are fixed when it starts,
	// and those not yet ok go first again.
	Canary int
	// MaxFailures stops starting tenants once this many failed in this
	// invocation (those in flight finish); 0 means no limit.
	MaxFailures int
	// Resume continues the latest run instead of starting one: only its
	// failed and pending tenants are attempted.
	Resume bool
	// Planned, when set, is called once before the first tenant starts.
	Planned func(RolloutPlan)
	// Progress, when set, is called (one call at a time) as each tenant
	// finishes.
	Progress func(MigrateResult)
}

// RolloutPlan is what a rollout is about to do.
type RolloutPlan struct {
	RunID    int64
	Target   int64 // the version every tenant is brought to
	Resumed  bool
	Tenants  int      // tenants to attempt now
	Canaries []string // their subdomains, attempted first
	Done     int      // tenants of a resumed run that are already ok or skipped
}

// RolloutReport is the outcome of Manager.Rollout.
type RolloutReport struct {
	RunID      int64
	Target     int64
	Resumed    bool
	State      RunState
	StopReason string          // why a stopped run stopped
	Results    []MigrateResult // the tenants attempted now, in the order they finished
	Counts     RunCounts       // over the whole run, earlier attempts included
	Duration   time.Duration
}

// CanaryOrder sorts tenants into the order canaries are chosen in: by the
// SHA-256 of their id. The choice is deterministic (the same tenants lead
// every run while they exist) and spread over the fleet rather than the
// first letters of the alphabet.
func CanaryOrder(tenants []*Tenant) {
	slices.SortStableFunc(tenants, func(a, b *Tenant) int {
		ha, hb := sha256.Sum256([]byte(a.ID)), sha256.Sum256([]byte(b.ID))
		return slices.Compare(ha[:], hb[:])
	})
}

// Rollout migrates every served tenant to the latest version as a recorded
// run (see RolloutOptions), or with opts.Resume continues the latest run.
// Only one rollout runs at a time (ErrRolloutRunning). A tenant's outcome is
// stored in the control plane as it finishes, so a run cut short by a
// crash loses at most the tenants in flight, which stay pending. The error
// is for what prevents the run (no control plane, nothing to resume);
// failing tenants are in the report.
func (m *Manager) Rollout(ctx context.Context, opts RolloutOptions) (*RolloutReport, error) {
	start := time.Now()
	latest, err := latestVersion(m.prov.migrations)
	if err != nil {
		return nil, err
	}
	release, err := m.store.lockRollout(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	ropts := RunOptions{Canary: max(opts.Canary, 0), MaxFailures: max(opts.MaxFailures, 0), Parallel: opts.Parallel}
	if ropts.Parallel <= 0 {
		ropts.Parallel = DefaultParallel
	}
	var plan RolloutPlan
	var entries []runEntry
	if opts.Resume {
		plan, entries, err = m.resumePlan(ctx, latest, ropts)
	} else {
		plan, entries, err = m.newPlan(ctx, latest, ropts)
	}
	if err != nil {
		return nil, err
	}
	if opts.Planned != nil {
		opts.Planned(plan)
	}
	rep := &RolloutReport{RunID: plan.RunID, Target: latest, Resumed: opts.Resume}
	reason, recErr := m.runEntries(ctx, plan.RunID, latest, ropts, entries, func(r MigrateResult) {
		rep.Results = append(rep.Results, r)
		if opts.Progress != nil {
			opts.Progress(r)
		}
	})
	rep.State, rep.StopReason, rep.Counts, err = m.store.finishRun(context.WithoutCancel(ctx), plan.RunID, reason)
	rep.Duration = time.Since(start)
	if err = errors.Join(recErr, err); err != nil {
		return rep, err
	}
	return rep, nil
}

// newPlan records a new run over every served tenant: the canaries first
// (in CanaryOrder), then the others by subdomain.
func (m *Manager) newPlan(ctx context.Context, latest int64, opts RunOptions) (RolloutPlan, []runEntry, error) {
	tenants, err := m.servedTenants(ctx, "")
	if err != nil {
		return RolloutPlan{}, nil, err
	}
	canaries := slices.Clone(tenants)
	CanaryOrder(canaries)
	canaries = canaries[:min(opts.Canary, len(canaries))]
	entries := make([]runEntry, 0, len(tenants))
	plan := RolloutPlan{Target: latest, Tenants: len(tenants)}
	for _, t := range canaries {
		entries = append(entries, runEntry{tenant: t, canary: true})
		plan.Canaries = append(plan.Canaries, t.Subdomain)
	}
	for _, t := range tenants { // ordered by subdomain
		if !slices.Contains(canaries, t) {
			entries = append(entries, runEntry{tenant: t})
		}
	}
	if plan.RunID, err = m.store.insertRun(ctx, latest, opts, entries); err != nil {
		return RolloutPlan{}, nil, err
	}
	return plan, entries, nil
}

// resumePlan reopens the latest run, unless it succeeded, for its failed and
// pending tenants. Tenants deleted since are marked skipped; tenants created
// since are not added (provisioning brought them to the latest version).
func (m *Manager) resumePlan(ctx context.Context, latest int64, opts RunOptions) (RolloutPlan, []runEntry, error) {
	run, err := m.store.LatestRun(ctx)
	if errors.Is(err, ErrNotFound) {
		return RolloutPlan{}, nil, ErrNoRun
	}
	if err != nil {
		return RolloutPlan{}, nil, err
	}
	if run.State == RunSucceeded {
		return RolloutPlan{}, nil, fmt.Errorf("%w: the latest run (%d) succeeded", ErrNoRun, run.ID)
	}
	if run.TargetVersion != latest {
		return RolloutPlan{}, nil, fmt.Errorf("%w: run %d brings tenants to version %d, these migrations to %d; start a new run",
			ErrRunTarget, run.ID, run.TargetVersion, latest)
	}
	left, err := m.store.RunTenants(ctx, run.ID, RunTenantPending, RunTenantFailed)
	if err != nil {
		return RolloutPlan{}, nil, err
	}
	all, err := m.servedTenants(ctx, "")
	if err != nil {
		return RolloutPlan{}, nil, err
	}
	byID := make(map[string]*Tenant, len(all))
	for _, t := range all {
		byID[t.ID] = t
	}
	if err := m.store.resumeRun(ctx, run.ID, opts); err != nil {
		return RolloutPlan{}, nil, err
	}
	plan := RolloutPlan{RunID: run.ID, Target: latest, Resumed: true}
	var entries []runEntry
	for _, rt := range left {
		t := byID[rt.TenantID]
		if t == nil {
			if err := m.store.skipRunTenant(ctx, run.ID, rt.TenantID, "the tenant no longer exists"); err != nil {
				return RolloutPlan{}, nil, err
			}
			continue
		}
		entries = append(entries, runEntry{tenant: t, canary: rt.Canary})
		if rt.Canary {
			plan.Canaries = append(plan.Canaries, t.Subdomain)
		}
	}
	// Canaries were recorded first; a stable sort keeps them there even if
	// positions were ever written otherwise.
	slices.SortStableFunc(entries, func(a, b runEntry) int { return -cmp.Compare(boolInt(a.canary), boolInt(b.canary)) })
	total, err := m.store.RunTenants(ctx, run.ID)
	if err != nil {
		return RolloutPlan{}, nil, err
	}
	plan.Tenants, plan.Done = len(entries), len(total)-len(entries)
	return plan, entries, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// runEntries migrates entries: the canaries first (no more are started
// once one failed), then, only if none failed, the others until
// opts.MaxFailures of them failed. It
// returns why it stopped early ("" when it did not) and the first error
// recording an outcome, which also stops it.
func (m *Manager) runEntries(ctx context.Context, runID, latest int64, opts RunOptions, entries []runEntry, done func(MigrateResult)) (string, error) {
	cfgs := &tenantConfigs{m: m}
	var mu sync.Mutex // guards failed, recErr and calls of done
	failed := 0
	var recErr error
	phase := func(list []runEntry, stop func() bool) {
		forEachUntil(len(list), opts.Parallel, stop, func(i int) {
			e := list[i]
			started := time.Now()
			r := m.migrateOne(ctx, cfgs, e.tenant, latest, false)
			r.Canary = e.canary
			if r.Err != nil && ctx.Err() != nil {
				return // interrupted: stays pending, is not a failure
			}
			state := RunTenantOK
			if r.Err != nil || r.Behind() {
				state = RunTenantFailed
				if r.Err == nil {
					r.Err = fmt.Errorf("tenant %q is at version %d after migrating, not %d", e.tenant.Subdomain, r.To, latest)
				}
			}
			err := m.store.recordRunTenant(context.WithoutCancel(ctx), runID, e.tenant.ID, state, r, started)
			mu.Lock()
			defer mu.Unlock()
			if state == RunTenantFailed {
				failed++
			}
			if err != nil && recErr == nil {
				recErr = err
			}
			done(r)
		})
	}
	// failures(k) stops a phase once k tenants failed (never for k = 0),
	// on a recording error, or when ctx is done.
	failures := func(k int) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			return recErr != nil || ctx.Err() != nil || k > 0 && failed >= k
		}
	}
	split := 0
	for split < len(entries) && entries[split].canary {
		split++
	}
	phase(entries[:split], failures(1)) // a failed canary stops the next ones too
	switch {
	case recErr != nil:
		return "recording a tenant's outcome failed", recErr
	case ctx.Err() != nil:
		return "interrupted", nil
	case failed > 0:
		return fmt.Sprintf("%d of %d canary tenant(s) failed", failed, split), nil
	}
	phase(entries[split:], failures(opts.MaxFailures))
	switch {
	case recErr != nil:
		return "recording a tenant's outcome failed", recErr
	case ctx.Err() != nil:
		return "interrupted", nil
	case opts.MaxFailures > 0 && failed >= opts.MaxFailures:
		return fmt.Sprintf("%d tenant(s) failed (--max-failures %d)", failed, opts.MaxFailures), nil
	}
	return "", nil
}

// forEachUntil calls fn(0) … fn(n-1), at most parallel at once, and starts
// no more once stop returns true (calls already started finish).
func forEachUntil(n, parallel int, stop func() bool, fn func(i int)) {
	if parallel <= 0 {
		parallel = DefaultParallel
	}
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		if stop() {
			<-sem
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			fn(i)
		})
	}
	wg.Wait()
}
