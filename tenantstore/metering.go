package tenantstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantgate/tenantgate/internal/latency"
)

// Usage figures (SPEC §13): edges and appservers count in memory and add
// UsageRows to the control plane's per-minute table at most every 10 s
// (AddUsage); one process at a time rolls the minutes up into hours and
// applies retention (RollupUsage); the admin API reads a series
// (UsageSeries). Written here, next to the rest of the control plane.

// Retention of the usage figures.
const (
	UsageMinuteRetention = 7 * 24 * time.Hour
	UsageHourRetention   = 90 * 24 * time.Hour
	// usageReroll is how far back each rollup recomputes hours already
	// rolled up, for minutes whose counts arrived late (a flush on stop
	// lands up to one interval after its minute).
	usageReroll = 2 * time.Hour
	// usageRollupGrace keeps the current hour out of the rollup until its
	// last minute's flushes have landed.
	usageRollupGrace = 2 * time.Minute
	// usageBatch bounds the rows of one INSERT (14 parameters each).
	usageBatch = 1000
	// usageLockKey is the advisory lock of the rollup.
	usageLockKey = "tenantgate:usage-rollup"
)

// UsageCounts are the usage counters that add up: across processes,
// minutes and steps.
type UsageCounts struct {
	Requests        int64
	Status2xx       int64
	Status3xx       int64
	Status4xx       int64
	Status5xx       int64
	RateLimited     int64
	BytesOut        int64
	Latency         []int64 // internal/latency bucket counts, or nil
	InvoicesCreated int64
}

// Add adds o to c, the histograms bucket by bucket.
func (c *UsageCounts) Add(o *UsageCounts) {
	c.Requests += o.Requests
	c.Status2xx += o.Status2xx
	c.Status3xx += o.Status3xx
	c.Status4xx += o.Status4xx
	c.Status5xx += o.Status5xx
	c.RateLimited += o.RateLimited
	c.BytesOut += o.BytesOut
	c.InvoicesCreated += o.InvoicesCreated
	if len(o.Latency) > 0 {
		c.Latency = latency.Add(c.Latency, o.Latency)
	}
}

// UsageRow is what one process counted for one tenant in one minute.
// Counts are added to the stored row; DatabaseBytes, when set, is a
// sample (the latest one is kept); ActiveUserIDs are merged as a set.
type UsageRow struct {
	TenantID string
	// Minute is the start of the minute (UTC, truncated).
	Minute time.Time
	UsageCounts
	ActiveUserIDs []string
	DatabaseBytes *int64
}

// merge adds o to r.
func (r *UsageRow) merge(o *UsageRow) {
	r.Add(&o.UsageCounts)
	for _, id := range o.ActiveUserIDs {
		if !slices.Contains(r.ActiveUserIDs, id) {
			r.ActiveUserIDs = append(r.ActiveUserIDs, id)
		}
	}
	if o.DatabaseBytes != nil {
		r.DatabaseBytes = o.DatabaseBytes
	}
}

// MergeUsageRows folds rows of the same tenant and minute into one, as one
// INSERT … ON CONFLICT may touch a row only once. Order is kept.
func MergeUsageRows(rows []UsageRow) []UsageRow {
	type key struct {
		tenant string
		minute int64
	}
	at := make(map[key]int, len(rows))
	out := make([]UsageRow, 0, len(rows))
	for i := range rows {
		k := key{rows[i].TenantID, rows[i].Minute.Unix()}
		if j, ok := at[k]; ok {
			out[j].merge(&rows[i])
			continue
		}
		at[k] = len(out)
		r := rows[i]
		r.Latency = slices.Clone(r.Latency)
		r.ActiveUserIDs = slices.Clone(r.ActiveUserIDs)
		out = append(out, r)
	}
	return out
}

const usageInsertHead = `INSERT INTO usage_minute AS u (tenant_id, minute, requests, status_2xx, status_3xx,
	status_4xx, status_5xx, rate_limited, bytes_out, latency_buckets, invoices_created,
	active_user_ids, active_users, database_bytes) VALUES `

// usageInsertTail adds to the stored row: counters summed, the histogram
// added bucket by bucket, user ids merged as a set (their count kept even
// after the rollup cleared the ids), the latest database size kept.
const usageInsertTail = ` ON CONFLICT (tenant_id, minute) DO UPDATE SET
	requests = u.requests + excluded.requests,
	status_2xx = u.status_2xx + excluded.status_2xx,
	status_3xx = u.status_3xx + excluded.status_3xx,
	status_4xx = u.status_4xx + excluded.status_4xx,
	status_5xx = u.status_5xx + excluded.status_5xx,
	rate_limited = u.rate_limited + excluded.rate_limited,
	bytes_out = u.bytes_out + excluded.bytes_out,
	latency_buckets = ARRAY(SELECT coalesce(a, 0) + coalesce(b, 0)
		FROM unnest(u.latency_buckets, excluded.latency_buckets) WITH ORDINALITY AS t(a, b, i) ORDER BY i),
	invoices_created = u.invoices_created + excluded.invoices_created,
	active_user_ids = CASE WHEN excluded.active_user_ids IS NULL THEN u.active_user_ids
		ELSE ARRAY(SELECT DISTINCT x FROM unnest(coalesce(u.active_user_ids, '{}') || excluded.active_user_ids) AS x) END,
	active_users = greatest(u.active_users, excluded.active_users,
		(SELECT count(DISTINCT x) FROM unnest(coalesce(u.active_user_ids, '{}') || coalesce(excluded.active_user_ids, '{}')) AS x)::int),
	database_bytes = coalesce(excluded.database_bytes, u.database_bytes)`

// AddUsage adds rows to the per-minute usage table in one statement per
// usageBatch rows (rows of the same tenant and minute are merged first).
// Rows are written in (tenant, minute) order, so processes flushing the
// same rows at once lock them in the same order and never deadlock.
func (s *Store) AddUsage(ctx context.Context, rows []UsageRow) error {
	rows = MergeUsageRows(rows)
	slices.SortFunc(rows, func(a, b UsageRow) int {
		if c := strings.Compare(a.TenantID, b.TenantID); c != 0 {
			return c
		}
		return a.Minute.Compare(b.Minute)
	})
	for len(rows) > 0 {
		n := min(len(rows), usageBatch)
		if err := s.addUsage(ctx, rows[:n]); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

func (s *Store) addUsage(ctx context.Context, rows []UsageRow) error {
	var sql strings.Builder
	sql.WriteString(usageInsertHead)
	args := make([]any, 0, 13*len(rows))
	for i, r := range rows {
		if i > 0 {
			sql.WriteString(", ")
		}
		p := len(args)
		fmt.Fprintf(&sql, "($%d::uuid, $%d::timestamptz, $%d::int8, $%d::int8, $%d::int8, $%d::int8, $%d::int8, $%d::int8, $%d::int8, $%d::int8[], $%d::int8, $%d::text[], coalesce(cardinality($%d::text[]), 0), $%d::int8)",
			p+1, p+2, p+3, p+4, p+5, p+6, p+7, p+8, p+9, p+10, p+11, p+12, p+12, p+13)
		lat := r.Latency
		if lat == nil {
			lat = []int64{}
		}
		args = append(args, r.TenantID, r.Minute.UTC().Truncate(time.Minute), r.Requests, r.Status2xx, r.Status3xx,
			r.Status4xx, r.Status5xx, r.RateLimited, r.BytesOut, lat, r.InvoicesCreated, r.ActiveUserIDs, r.DatabaseBytes)
	}
	sql.WriteString(usageInsertTail)
	if _, err := s.pool.Exec(ctx, sql.String(), args...); err != nil {
		return fmt.Errorf("adding usage of %d tenant minutes: %w", len(rows), translate(err))
	}
	return nil
}

// RollupResult says what one RollupUsage did.
type RollupResult struct {
	// Skipped is true when another process held the rollup lock.
	Skipped bool
	// From and Until bound the minutes rolled into hours.
	From, Until time.Time
	// Hours is the number of tenant-hours written.
	Hours int64
	// DeletedMinutes and DeletedHours are the rows retention removed.
	DeletedMinutes, DeletedHours int64
}

// usageRollupSQL rolls the minutes of [$1, $2) into hours, replacing the
// hours it writes (so rolling the same hour again is harmless): counters
// summed, histograms added bucket by bucket, the largest active_users, the
// latest database size.
const usageRollupSQL = `WITH m AS (
	SELECT * FROM usage_minute WHERE minute >= $1 AND minute < $2
), b AS (
	SELECT tenant_id, date_trunc('hour', minute, 'UTC') AS hour, i, sum(v)::int8 AS v
	FROM m, unnest(m.latency_buckets) WITH ORDINALITY AS x(v, i) GROUP BY 1, 2, 3
), ba AS (
	SELECT tenant_id, hour, array_agg(v ORDER BY i) AS buckets FROM b GROUP BY 1, 2
), h AS (
	SELECT tenant_id, date_trunc('hour', minute, 'UTC') AS hour,
		sum(requests)::int8 AS requests, sum(status_2xx)::int8 AS s2, sum(status_3xx)::int8 AS s3,
		sum(status_4xx)::int8 AS s4, sum(status_5xx)::int8 AS s5, sum(rate_limited)::int8 AS rl,
		sum(bytes_out)::int8 AS bo, sum(invoices_created)::int8 AS inv, max(active_users) AS au,
		(array_agg(database_bytes ORDER BY minute DESC) FILTER (WHERE database_bytes IS NOT NULL))[1] AS db
	FROM m GROUP BY 1, 2
)
INSERT INTO usage_hour (tenant_id, hour, requests, status_2xx, status_3xx, status_4xx, status_5xx,
	rate_limited, bytes_out, latency_buckets, invoices_created, active_users, database_bytes)
SELECT h.tenant_id, h.hour, h.requests, h.s2, h.s3, h.s4, h.s5, h.rl, h.bo, coalesce(ba.buckets, '{}'), h.inv, h.au, h.db
FROM h LEFT JOIN ba USING (tenant_id, hour)
ON CONFLICT (tenant_id, hour) DO UPDATE SET
	requests = excluded.requests, status_2xx = excluded.status_2xx, status_3xx = excluded.status_3xx,
	status_4xx = excluded.status_4xx, status_5xx = excluded.status_5xx, rate_limited = excluded.rate_limited,
	bytes_out = excluded.bytes_out, latency_buckets = excluded.latency_buckets,
	invoices_created = excluded.invoices_created, active_users = excluded.active_users,
	database_bytes = excluded.database_bytes`

// RollupUsage rolls the complete hours of per-minute usage up into
// usage_hour (recomputing the last usageReroll of hours already rolled,
// for late flushes), clears the user ids of minutes that will not be
// rolled again, and deletes minutes older than UsageMinuteRetention and
// hours older than UsageHourRetention, all as of now. One process does it
// at a time: the others, finding the advisory lock held, skip, and so does
// any process when one ran less than minGap ago (so of several appservers
// running it on a timer, about one does the work each round).
func (s *Store) RollupUsage(ctx context.Context, now time.Time, minGap time.Duration) (RollupResult, error) {
	var res RollupResult
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var locked bool
		if err := tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock(hashtext($1))", usageLockKey).Scan(&locked); err != nil {
			return err
		}
		if !locked {
			res.Skipped = true
			return nil
		}
		now = now.UTC()
		oldest := now.Add(-UsageMinuteRetention).Truncate(time.Hour)
		until := now.Add(-usageRollupGrace).Truncate(time.Hour)
		var rolled, ran *time.Time
		if err := tx.QueryRow(ctx, "SELECT rolled_until, ran_at FROM usage_rollup").Scan(&rolled, &ran); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if ran != nil && minGap > 0 && now.Sub(*ran) < minGap {
			res.Skipped = true
			return nil
		}
		from := oldest
		if rolled != nil && rolled.Add(-usageReroll).After(from) {
			from = rolled.Add(-usageReroll)
		}
		res.From, res.Until = from, until
		if from.Before(until) {
			tag, err := tx.Exec(ctx, usageRollupSQL, from, until)
			if err != nil {
				return err
			}
			res.Hours = tag.RowsAffected()
		}
		if rolled != nil && rolled.After(until) {
			until = *rolled
		}
		if _, err := tx.Exec(ctx, `INSERT INTO usage_rollup (rolled_until, ran_at) VALUES ($1, $2)
			ON CONFLICT (singleton) DO UPDATE SET rolled_until = excluded.rolled_until, ran_at = excluded.ran_at`, until, now); err != nil {
			return err
		}
		// Minutes before the next rollup's start are never rolled again.
		if _, err := tx.Exec(ctx, `UPDATE usage_minute SET active_user_ids = NULL
			WHERE minute < $1 AND active_user_ids IS NOT NULL`, until.Add(-usageReroll)); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, "DELETE FROM usage_minute WHERE minute < $1", now.Add(-UsageMinuteRetention))
		if err != nil {
			return err
		}
		res.DeletedMinutes = tag.RowsAffected()
		if tag, err = tx.Exec(ctx, "DELETE FROM usage_hour WHERE hour < $1", now.Add(-UsageHourRetention)); err != nil {
			return err
		}
		res.DeletedHours = tag.RowsAffected()
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("rolling usage up: %w", translate(err))
	}
	return res, nil
}
