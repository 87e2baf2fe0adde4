package tenantstore

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestAddUsageAdds: two processes' rows of the same tenant and minute add
// up — counters, histogram bucket by bucket, users as a set — and the
// latest database size wins.
func TestAddUsageAdds(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	id := uuid.NewString()
	m := time.Date(2026, 3, 4, 10, 7, 0, 0, time.UTC)
	edge := func(n int64, bucket int) UsageRow {
		lat := make([]int64, 42)
		lat[bucket] = n
		return UsageRow{TenantID: id, Minute: m, UsageCounts: UsageCounts{Requests: n, Status2xx: n - 1, Status4xx: 1, RateLimited: 1, BytesOut: 10 * n, Latency: lat}}
	}
	if err := s.AddUsage(ctx, []UsageRow{edge(5, 3), {TenantID: id, Minute: m, ActiveUserIDs: []string{"u1", "u2"}, UsageCounts: UsageCounts{InvoicesCreated: 2}, DatabaseBytes: ptr[int64](100)}}); err != nil {
		t.Fatalf("AddUsage: %v", err)
	}
	// A second edge and a second appserver, in one flush with a duplicate
	// key (merged before the upsert).
	if err := s.AddUsage(ctx, []UsageRow{edge(7, 3), edge(1, 9), {TenantID: id, Minute: m, ActiveUserIDs: []string{"u2", "u3"}, UsageCounts: UsageCounts{InvoicesCreated: 1}, DatabaseBytes: ptr[int64](120)}}); err != nil {
		t.Fatalf("AddUsage: %v", err)
	}
	pts, err := s.UsageSeries(ctx, id, m, m.Add(time.Minute), time.Minute)
	if err != nil {
		t.Fatalf("UsageSeries: %v", err)
	}
	if len(pts) != 1 {
		t.Fatalf("UsageSeries = %d points, want 1", len(pts))
	}
	p := pts[0]
	if p.Requests != 13 || p.Status2xx != 10 || p.Status4xx != 3 || p.RateLimited != 3 || p.BytesOut != 130 ||
		p.InvoicesCreated != 3 || p.ActiveUsers != 3 || p.DatabaseBytes == nil || *p.DatabaseBytes != 120 {
		t.Errorf("point = %+v (db %v), want 13 requests, 10 2xx, 3 4xx, 3 rate_limited, 130 bytes, 3 invoices, 3 users, db 120", p, p.DatabaseBytes)
	}
	if len(p.Latency) != 42 || p.Latency[3] != 12 || p.Latency[9] != 1 {
		t.Errorf("latency = %v, want 12 in bucket 3 and 1 in bucket 9", p.Latency)
	}
}

// TestRollupAndRetention: complete hours are rolled up (the current one
// is not), a second rollup changes nothing, hour and day series read the
// hours, minutes beyond 7 days and hours beyond 90 days are deleted, and
// only one process rolls up at a time.
func TestRollupAndRetention(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	id := uuid.NewString()
	now := time.Date(2026, 3, 10, 12, 30, 0, 0, time.UTC)
	row := func(at time.Time, n int64, users ...string) UsageRow {
		return UsageRow{TenantID: id, Minute: at, UsageCounts: UsageCounts{Requests: n, Status2xx: n, Latency: []int64{n, 0, 1}}, ActiveUserIDs: users}
	}
	h10 := time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC)
	rows := []UsageRow{
		row(h10.Add(5*time.Minute), 3, "a", "b"), row(h10.Add(59*time.Minute), 4, "c"), // hour 10: 7 requests, peak 2 users
		row(h10.Add(65*time.Minute), 5),  // hour 11
		row(now.Add(-time.Minute), 6),    // the current hour: not rolled yet
		row(now.Add(-6*24*time.Hour), 9), // rolled up, kept
		row(now.Add(-8*24*time.Hour), 2), // beyond the minutes' 7 days: deleted
	}
	if err := s.AddUsage(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO usage_hour (tenant_id, hour, requests) VALUES ($1, $2, 1)`, id, now.Add(-91*24*time.Hour).Truncate(time.Hour)); err != nil {
		t.Fatal(err)
	}

	// Another process holds the lock: this one skips.
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext($1))", usageLockKey); err != nil {
		t.Fatal(err)
	}
	if res, err := s.RollupUsage(ctx, now, 0); err != nil || !res.Skipped {
		t.Errorf("RollupUsage while locked = %+v, %v; want skipped", res, err)
	}
	_ = tx.Rollback(ctx)
	conn.Release()

	for i := range 2 { // the second run recomputes the same hours
		res, err := s.RollupUsage(ctx, now, 0)
		if err != nil || res.Skipped {
			t.Fatalf("RollupUsage #%d = %+v, %v", i+1, res, err)
		}
		if i == 0 && (res.DeletedMinutes != 1 || res.DeletedHours != 1) {
			t.Errorf("RollupUsage deleted %d minutes and %d hours, want 1 and 1", res.DeletedMinutes, res.DeletedHours)
		}
	}
	if res, err := s.RollupUsage(ctx, now.Add(time.Minute), 5*time.Minute); err != nil || !res.Skipped {
		t.Errorf("RollupUsage a minute after the last = %+v, %v; want skipped (minGap 5m)", res, err)
	}
	var hours []int64
	rowsH, err := s.pool.Query(ctx, "SELECT requests FROM usage_hour WHERE tenant_id = $1 ORDER BY hour", id)
	if err != nil {
		t.Fatal(err)
	}
	for rowsH.Next() {
		var n int64
		_ = rowsH.Scan(&n)
		hours = append(hours, n)
	}
	rowsH.Close()
	if len(hours) != 3 || hours[0] != 9 || hours[1] != 7 || hours[2] != 5 {
		t.Errorf("usage_hour requests = %v, want [9 7 5]", hours)
	}

	pts, err := s.UsageSeries(ctx, id, h10, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	want := []int64{7, 5, 6} // hours 10 and 11 from usage_hour, 12 from the minutes
	if len(pts) != 3 {
		t.Fatalf("hourly series = %d points, want 3", len(pts))
	}
	for i, p := range pts {
		if p.Requests != want[i] {
			t.Errorf("hour %v: %d requests, want %d", p.At, p.Requests, want[i])
		}
	}
	if pts[0].ActiveUsers != 2 || pts[0].Latency[0] != 7 || pts[0].Latency[2] != 2 {
		t.Errorf("hour 10 = %+v, want 2 active users (the peak minute) and latency [7 0 2]", pts[0])
	}
	day, err := s.UsageSeries(ctx, id, now.Add(-24*time.Hour), now, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, p := range day {
		total += p.Requests
	}
	if total != 18 {
		t.Errorf("daily series total = %d requests, want 18 (7+5+6)", total)
	}
}

// TestUsageSeriesBounds: a range past MaxUsagePoints or backwards is
// refused naming the field.
func TestUsageSeriesBounds(t *testing.T) {
	s := newTestStore(t)
	now := time.Now()
	for _, tc := range []struct {
		name     string
		from, to time.Time
		step     time.Duration
	}{
		{"too many minutes", now.Add(-25 * time.Hour), now, time.Minute},
		{"backwards", now, now.Add(-time.Hour), time.Hour},
		{"empty", now.Truncate(time.Minute), now.Truncate(time.Minute), time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.UsageSeries(context.Background(), uuid.NewString(), tc.from, tc.to, tc.step)
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != "to" {
				t.Errorf("UsageSeries = %v, want a validation error on to", err)
			}
		})
	}
}

// TestAddUsageConcurrentFlushes: several processes flushing the same
// tenant-minutes at once, each in its own order, all succeed (no
// deadlock between their upserts) and add up exactly.
func TestAddUsageConcurrentFlushes(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	m := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	var ids []string
	for range 50 {
		ids = append(ids, uuid.NewString())
	}
	const writers, rounds = 4, 5
	errs := make(chan error, writers*rounds)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for r := range rounds {
				var rows []UsageRow
				for i := range ids {
					id := ids[(i*(w+1)+r)%len(ids)] // a different order per writer and round
					for k := range 2 {
						rows = append(rows, UsageRow{TenantID: id, Minute: m.Add(time.Duration(k) * time.Minute), UsageCounts: UsageCounts{Requests: 1}})
					}
				}
				errs <- s.AddUsage(ctx, rows)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("AddUsage: %v", err)
		}
	}
	var total int64
	if err := s.pool.QueryRow(ctx, "SELECT sum(requests)::int8 FROM usage_minute").Scan(&total); err != nil {
		t.Fatal(err)
	}
	if want := int64(writers * rounds * len(ids) * 2); total != want {
		t.Errorf("stored requests = %d, want %d", total, want)
	}
}
