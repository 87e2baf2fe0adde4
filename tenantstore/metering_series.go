package tenantstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// UsagePoint is a tenant's usage over one step of a series: counters
// summed, the latency histogram added bucket by bucket, ActiveUsers the
// largest count of distinct users in one minute of the step, and
// DatabaseBytes the latest sample (nil when none).
type UsagePoint struct {
	At time.Time
	UsageCounts
	ActiveUsers   int64
	DatabaseBytes *int64
}

// MaxUsagePoints bounds the points of one series.
const MaxUsagePoints = 1440

// usageSeriesSQL reads a tenant's stored rows of [$2, $3): hours from
// usage_hour before the rollup's mark ($4), minutes from usage_minute
// after it (all of them when $5, a per-minute series).
const usageSeriesSQL = `SELECT hour, requests, status_2xx, status_3xx, status_4xx, status_5xx, rate_limited,
	bytes_out, latency_buckets, invoices_created, active_users, database_bytes
FROM usage_hour WHERE NOT $5::boolean AND tenant_id = $1::uuid AND hour >= $2::timestamptz AND hour < least($3::timestamptz, $4::timestamptz)
UNION ALL
SELECT minute, requests, status_2xx, status_3xx, status_4xx, status_5xx, rate_limited,
	bytes_out, latency_buckets, invoices_created, active_users, database_bytes
FROM usage_minute WHERE tenant_id = $1::uuid AND minute >= CASE WHEN $5::boolean THEN $2::timestamptz ELSE greatest($2::timestamptz, $4::timestamptz) END AND minute < $3::timestamptz
ORDER BY 1`

// UsageSeries returns tenantID's usage from from to to (exclusive) in
// steps of step (a minute, an hour or a day; from is truncated to it),
// one point per step, zero where nothing was counted. The caller bounds
// the range: more than MaxUsagePoints points is an error.
func (s *Store) UsageSeries(ctx context.Context, tenantID string, from, to time.Time, step time.Duration) ([]UsagePoint, error) {
	if step < time.Minute || step%time.Minute != 0 {
		return nil, invalid("step", "must be whole minutes")
	}
	from, to = from.UTC().Truncate(step), to.UTC()
	n := int((to.Sub(from) + step - 1) / step)
	if n <= 0 {
		return nil, invalid("to", "must be after from")
	}
	if n > MaxUsagePoints {
		return nil, invalid("to", "the range holds %d steps; at most %d", n, MaxUsagePoints)
	}
	var rolled time.Time
	err := s.pool.QueryRow(ctx, "SELECT rolled_until FROM usage_rollup").Scan(&rolled)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("reading usage of tenant %s: %w", tenantID, translate(err))
	}
	if rolled.IsZero() {
		rolled = from // nothing rolled up yet: every row is still a minute
	}
	points := make([]UsagePoint, n)
	for i := range points {
		points[i].At = from.Add(time.Duration(i) * step)
	}
	rows, err := s.pool.Query(ctx, usageSeriesSQL, tenantID, from, to, rolled, step < time.Hour)
	if err != nil {
		return nil, fmt.Errorf("reading usage of tenant %s: %w", tenantID, translate(err))
	}
	defer rows.Close()
	for rows.Next() {
		var at time.Time
		var r UsageRow
		var active int64
		if err := rows.Scan(&at, &r.Requests, &r.Status2xx, &r.Status3xx, &r.Status4xx, &r.Status5xx, &r.RateLimited,
			&r.BytesOut, &r.Latency, &r.InvoicesCreated, &active, &r.DatabaseBytes); err != nil {
			return nil, fmt.Errorf("reading usage of tenant %s: %w", tenantID, translate(err))
		}
		i := int(at.Sub(from) / step)
		if i < 0 || i >= n {
			continue
		}
		p := &points[i]
		p.Add(&r.UsageCounts)
		p.ActiveUsers = max(p.ActiveUsers, active)
		if r.DatabaseBytes != nil { // rows come in time order: the latest wins
			p.DatabaseBytes = r.DatabaseBytes
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading usage of tenant %s: %w", tenantID, translate(err))
	}
	return points, nil
}
