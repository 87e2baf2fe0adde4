package admin

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// The usage chart of the tenant page: the last day's requests per hour as
// bars (errors and refusals stacked on top), p99 latency as a line, drawn
// on the server as inline SVG — no script, no CDN, nothing the page's CSP
// would have to allow (presentation attributes only, no style).
const (
	chartWidth   = 720
	chartHeight  = 200
	chartPadL    = 48
	chartPadR    = 48
	chartPadT    = 10
	chartPadB    = 24
	chartSpan    = 24 * time.Hour
	chartStep    = time.Hour
	chartTimeout = 2 * time.Second
)

// usageBar is one step of the chart.
type usageBar struct {
	X, W          float64
	OKY, OKH      float64 // 2xx and 3xx
	ErrY, ErrH    float64 // 4xx and 5xx (rate_limited included)
	Title, XLabel string
}

// usageChart is what tenant_usage.html draws.
type usageChart struct {
	Width, Height         int
	Left, Right, Top, Bot float64
	Bars                  []usageBar
	P99Line               string // polyline points, "" without requests
	MaxRequests, MaxP99   string
	Total                 string
	Error                 string
}

// tenantUsageChart reads t's last day of usage by hour and lays it out.
func (a *Server) tenantUsageChart(ctx context.Context, t *tenantstore.Tenant) *usageChart {
	c := &usageChart{Width: chartWidth, Height: chartHeight, Left: chartPadL, Right: chartWidth - chartPadR,
		Top: chartPadT, Bot: chartHeight - chartPadB}
	ctx, cancel := context.WithTimeout(ctx, chartTimeout)
	defer cancel()
	now := a.now().UTC()
	pts, err := a.m.Store().UsageSeries(ctx, t.ID, now.Add(-chartSpan+chartStep), now, chartStep)
	if err != nil {
		c.Error = "usage unavailable: " + err.Error()
		return c
	}
	items := make([]usageItem, len(pts))
	var maxReq int64
	var maxP99 float64
	var total int64
	for i, p := range pts {
		items[i] = newUsageItem(p)
		maxReq = max(maxReq, p.Requests)
		total += p.Requests
		if v := items[i].P99ms; v != nil {
			maxP99 = max(maxP99, *v)
		}
	}
	c.Total = humanize.Comma(total)
	c.MaxRequests = humanize.Comma(maxReq)
	c.MaxP99 = fmt.Sprintf("%.1f ms", maxP99)
	plotH := c.Bot - c.Top
	slot := (c.Right - c.Left) / float64(len(items))
	var line []string
	for i, it := range items {
		x := c.Left + float64(i)*slot
		b := usageBar{X: x + 1, W: max(slot-2, 1), XLabel: ""}
		if maxReq > 0 {
			errs := it.Status4xx + it.Status5xx
			b.ErrH = float64(errs) / float64(maxReq) * plotH
			b.OKH = float64(it.Requests-errs) / float64(maxReq) * plotH
			b.OKY = c.Bot - b.OKH
			b.ErrY = b.OKY - b.ErrH
		}
		if at := it.At; at.Hour()%6 == 0 {
			b.XLabel = at.Format("15:04")
		}
		p99 := "–"
		if it.P99ms != nil {
			p99 = fmt.Sprintf("%.1f ms", *it.P99ms)
			if maxP99 > 0 {
				line = append(line, fmt.Sprintf("%.1f,%.1f", x+slot/2, c.Bot-*it.P99ms/maxP99*plotH))
			}
		}
		b.Title = fmt.Sprintf("%s: %d requests (%d 4xx, %d 5xx, %d rate-limited), p99 %s",
			it.At.Format("2006-01-02 15:04 UTC"), it.Requests, it.Status4xx, it.Status5xx, it.RateLimited, p99)
		c.Bars = append(c.Bars, b)
	}
	c.P99Line = strings.Join(line, " ")
	return c
}
