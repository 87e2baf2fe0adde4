package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// migrateOutput prints what migrate does: progress while it runs (a bar on
// a terminal; with --json one line per tenant as it finishes), then the
// table or the JSON summary.
type migrateOutput struct {
	a     *app
	json  bool
	check bool
	start time.Time
	count *counter
	enc   *json.Encoder
	err   error // the first error writing JSON lines
}

// migrateLine is one tenant of 'migrate --json'.
type migrateLine struct {
	Type       string `json:"type"` // "tenant"
	Subdomain  string `json:"subdomain"`
	Status     string `json:"status"` // migrated, up_to_date, behind, failed
	From       int64  `json:"from_version"`
	To         int64  `json:"version"`
	Latest     int64  `json:"latest_version"`
	Applied    int    `json:"applied"`
	DurationMS int64  `json:"duration_ms"`
	Canary     bool   `json:"canary,omitempty"`
	Error      string `json:"error,omitempty"`
}

// migrateSummary is the last line of 'migrate --json'. Run fields are
// omitted for --check and --tenant, which record no run.
type migrateSummary struct {
	Type       string `json:"type"` // "summary"
	RunID      int64  `json:"run_id,omitempty"`
	Resumed    bool   `json:"resumed,omitempty"`
	State      string `json:"state"` // succeeded, failed, stopped (a run); ok, behind, failed (--check, --tenant)
	StopReason string `json:"stop_reason,omitempty"`
	Target     int64  `json:"target_version"`
	Tenants    int    `json:"tenants"` // attempted now
	Migrated   int    `json:"migrated"`
	UpToDate   int    `json:"up_to_date"`
	Behind     int    `json:"behind"`
	Failed     int    `json:"failed"`  // now; a run's earlier failures are in run_failed
	Pending    int    `json:"pending"` // of the run, left for --resume
	Skipped    int    `json:"skipped"`
	RunOK      int    `json:"run_ok,omitempty"`     // of the whole run, earlier attempts included
	RunFailed  int    `json:"run_failed,omitempty"` // of the whole run
	DurationMS int64  `json:"duration_ms"`
	Resume     string `json:"resume,omitempty"` // the command that continues the run
}

func (o *migrateOutput) begin(total int) {
	if o.json {
		o.enc = json.NewEncoder(o.a.stdout)
	}
	if total >= progressThreshold {
		o.count = o.a.newCounter("migrate", total)
	}
}

// status names r's outcome.
func (o *migrateOutput) status(r tenantstore.MigrateResult) string {
	switch {
	case r.Err != nil:
		return "failed"
	case o.check && r.Behind():
		return "behind"
	case r.Applied > 0:
		return "migrated"
	}
	return "up_to_date"
}

// add reports one tenant; callers serialise calls.
func (o *migrateOutput) add(r tenantstore.MigrateResult) {
	if o.count != nil {
		o.count.add(r.Err != nil)
	}
	if o.enc == nil || o.err != nil {
		return
	}
	l := migrateLine{Type: "tenant", Subdomain: r.Subdomain, Status: o.status(r), From: r.From, To: r.To, Latest: r.Latest,
		Applied: r.Applied, DurationMS: r.Duration.Milliseconds(), Canary: r.Canary}
	if r.Err != nil {
		l.Error = r.Err.Error()
	}
	o.err = o.enc.Encode(l)
}

func (o *migrateOutput) end() {
	if o.count != nil {
		o.count.finish()
		o.count = nil
	}
}

// finish prints the table (or the JSON summary) of results and, for a run,
// rep; it returns silentFailure when any tenant failed, is behind, or was
// left pending.
func (o *migrateOutput) finish(results []tenantstore.MigrateResult, rep *tenantstore.RolloutReport) error {
	if o.err != nil {
		return o.err
	}
	results = slices.SortedStableFunc(slices.Values(results), func(a, b tenantstore.MigrateResult) int {
		return cmp.Compare(a.Subdomain, b.Subdomain)
	})
	s := migrateSummary{Type: "summary", Tenants: len(results), DurationMS: time.Since(o.start).Milliseconds()}
	for _, r := range results {
		s.Target = r.Latest
		switch o.status(r) {
		case "failed":
			s.Failed++
		case "behind":
			s.Behind++
		case "migrated":
			s.Migrated++
		default:
			s.UpToDate++
		}
	}
	s.State = "ok"
	if s.Behind > 0 {
		s.State = "behind"
	}
	if s.Failed > 0 {
		s.State = "failed"
	}
	if rep != nil {
		s.RunID, s.Resumed, s.State, s.StopReason, s.Target = rep.RunID, rep.Resumed, string(rep.State), rep.StopReason, rep.Target
		s.Pending, s.Skipped, s.RunOK, s.RunFailed = rep.Counts.Pending, rep.Counts.Skipped, rep.Counts.OK, rep.Counts.Failed
		if rep.State != tenantstore.RunSucceeded {
			s.Resume = "tenantctl migrate --resume"
		}
	}
	if o.json {
		if err := json.NewEncoder(o.a.stdout).Encode(s); err != nil {
			return err
		}
	} else {
		o.table(results, s, rep)
	}
	if s.Failed > 0 || s.Behind > 0 || s.Pending > 0 || s.RunFailed > 0 {
		return silentFailure
	}
	return nil
}

// table prints one line per tenant, a summary line, and on stderr what to
// do about failures.
func (o *migrateOutput) table(results []tenantstore.MigrateResult, s migrateSummary, rep *tenantstore.RolloutReport) {
	a := o.a
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	for _, r := range results {
		switch o.status(r) {
		case "failed":
			fmt.Fprintf(tw, "%s\tFAILED\tversion %d\t%v\n", r.Subdomain, r.To, r.Err)
		case "behind":
			fmt.Fprintf(tw, "%s\tbehind\tversion %d of %d\n", r.Subdomain, r.To, r.Latest)
		case "migrated":
			fmt.Fprintf(tw, "%s\tmigrated\tversion %d → %d\t%d applied in %s\n", r.Subdomain, r.From, r.To, r.Applied, r.Duration.Round(time.Millisecond))
		default:
			fmt.Fprintf(tw, "%s\tup to date\tversion %d\n", r.Subdomain, r.To)
		}
	}
	tw.Flush()
	took := time.Duration(s.DurationMS) * time.Millisecond
	switch {
	case o.check:
		fmt.Fprintf(a.stdout, "checked %d tenants in %s: latest version %d, %d behind, %d unreachable\n",
			s.Tenants, took, s.Target, s.Behind, s.Failed)
		if s.Failed > 0 {
			fmt.Fprintf(a.stderr, "tenantctl: %d tenant(s) unreachable (listed above); 'tenantctl check' tests every tenant database\n", s.Failed)
		}
		if s.Behind > 0 {
			fmt.Fprintf(a.stderr, "tenantctl: %d tenant(s) behind; run 'tenantctl migrate'\n", s.Behind)
		}
		return
	case rep == nil:
		fmt.Fprintf(a.stdout, "migrated %d tenants in %s: %d changed, %d up to date, %d failed\n",
			s.Tenants, took, s.Migrated, s.UpToDate, s.Failed)
		if s.Failed > 0 {
			fmt.Fprintf(a.stderr, "tenantctl: %d tenant(s) failed (listed above); fix each and run 'tenantctl migrate --tenant <subdomain>'\n", s.Failed)
		}
		return
	}
	fmt.Fprintf(a.stdout, "run %d (%s): migrated %d tenants in %s: %d changed, %d up to date, %d failed, %d pending\n",
		rep.RunID, rep.State, s.Tenants, took, s.Migrated, s.UpToDate, s.Failed, s.Pending)
	switch rep.State {
	case tenantstore.RunStopped:
		fmt.Fprintf(a.stderr, "tenantctl: migration run %d stopped: %s; %d tenant(s) left pending, %d failed\n"+
			"  fix the failed tenants (listed above), then run 'tenantctl migrate --resume' to migrate only the failed and pending ones\n",
			rep.RunID, rep.StopReason, s.Pending, s.RunFailed)
	case tenantstore.RunFailed:
		fmt.Fprintf(a.stderr, "tenantctl: migration run %d: %d tenant(s) failed (listed above)\n"+
			"  fix each, then run 'tenantctl migrate --resume' to retry only those\n", rep.RunID, s.RunFailed)
	}
}
