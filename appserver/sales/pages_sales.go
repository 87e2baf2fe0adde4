package sales

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/shopspring/decimal"

	"github.com/tenantgate/tenantgate/appserver/webpage"
)

// Sales chart geometry (SVG user units).
const (
	chartWidth  = 640
	chartLabelW = 180 // room for the location names
	chartBarMax = 340 // the longest bar
	chartRowH   = 30
	chartBarH   = 18
)

// pageListQuery passes the page's ?cursor= on to an API list.
func pageListQuery(r *http.Request, limit int) url.Values {
	q := url.Values{}
	if c := r.URL.Query().Get("cursor"); c != "" {
		q.Set("cursor", c)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	return q
}

// locationSales is one row of the dashboard.
type locationSales struct {
	Name, Code string
	Invoices   int64
	Total      string
	amount     decimal.Decimal
}

// chartBar is one bar of the dashboard's SVG chart.
type chartBar struct {
	Label, Value   string
	Y, TextY, W, H int
	ValueX         int
}

type salesChart struct {
	Width, Height, BarX int
	Bars                []chartBar
}

type dashboardData struct {
	From, To, Total string
	Rows            []locationSales
	Chart           salesChart
}

// dashboardPage shows the sales of the last 30 days per location, from the
// API's sales report, as a table and a bar chart.
func (s *Server) dashboardPage(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	var rep struct {
		From, To, Total string
		Items           []SalesRow
	}
	if _, err := s.callAPI(r, s.salesReport, http.MethodGet, nil, nil, &rep); err != nil {
		return err
	}
	locs, err := s.tenantLocations(r)
	if err != nil {
		return err
	}
	byLoc := map[string]*locationSales{}
	var rows []*locationSales
	for _, l := range locs {
		ls := &locationSales{Name: l.Name, Code: l.Code}
		byLoc[l.ID] = ls
		rows = append(rows, ls)
	}
	for _, it := range rep.Items {
		key := ""
		if it.LocationID != nil {
			key = it.LocationID.String()
		}
		ls := byLoc[key]
		if ls == nil {
			name := "Unassigned"
			if len(locs) == 0 {
				name = "All sales"
			}
			ls = &locationSales{Name: name}
			byLoc[key] = ls
			rows = append(rows, ls)
		}
		amount, err := decimal.NewFromString(it.Total)
		if err != nil {
			return fmt.Errorf("sales report total %q: %w", it.Total, err)
		}
		ls.amount = ls.amount.Add(amount)
		ls.Invoices += it.Invoices
	}
	data := dashboardData{From: rep.From, To: rep.To, Total: rep.Total}
	maxAmount := decimal.Zero
	for _, ls := range rows {
		ls.Total = ls.amount.StringFixed(2)
		if ls.amount.GreaterThan(maxAmount) {
			maxAmount = ls.amount
		}
		data.Rows = append(data.Rows, *ls)
	}
	data.Chart = salesChart{Width: chartWidth, Height: len(rows)*chartRowH + 6, BarX: chartLabelW}
	for i, ls := range rows {
		w := 0
		if maxAmount.IsPositive() {
			w = int(ls.amount.Mul(decimal.NewFromInt(chartBarMax)).Div(maxAmount).IntPart())
			if w == 0 && ls.amount.IsPositive() {
				w = 1
			}
		}
		y := i*chartRowH + 6
		label := ls.Name
		if len(label) > 24 {
			label = label[:23] + "…"
		}
		data.Chart.Bars = append(data.Chart.Bars, chartBar{
			Label: label, Value: ls.Total, Y: y, H: chartBarH, W: w,
			TextY: y + chartBarH - 4, ValueX: chartLabelW + w + 8,
		})
	}
	d.Title, d.Active, d.Data = "Dashboard", "dashboard", data
	webpage.Render(w, r, s.log, tenantPages, http.StatusOK, "dashboard", d)
	return nil
}
