package sales

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"

	"github.com/tenantgate/tenantgate/appserver/httpapi"
	"github.com/tenantgate/tenantgate/appserver/webpage"
)

// summaryAnswer is GET /api/reports/summary's answer.
type summaryAnswer struct {
	From, To string
	Items    []LocationSummary
	Total    LocationSummary
}

// salesAnswer is GET /api/reports/sales's answer.
type salesAnswer struct {
	From, To, Total string
	Items           []SalesRow
}

// reportSummaryRow is one row of the per-location table.
type reportSummaryRow struct {
	LocationSummary
	Name     string
	Negative bool // the margin is below zero
}

// reportDayRow is one row of the per-day table.
type reportDayRow struct {
	Day, Location string
	Invoices      int64
	Total         string
}

type reportsData struct {
	From, To     string
	Locations    []reportSummaryRow
	Total        reportSummaryRow
	Days         []reportDayRow
	DaysTotal    string
	CSVLocations string // the CSV download of the per-location table
	CSVDays      string // and of the per-day table
	MaxDays      int
	Loaded       bool // the reports ran (not a refused range)
}

// loadReports runs both reports of the API over the page's ?from= and ?to=.
func (s *Server) loadReports(r *http.Request) (*reportsData, error) {
	q := url.Values{}
	for _, k := range []string{"from", "to"} {
		if v := r.URL.Query().Get(k); v != "" {
			q.Set(k, v)
		}
	}
	var sum summaryAnswer
	if _, err := s.callAPI(r, s.summaryReport, http.MethodGet, q, nil, &sum); err != nil {
		return nil, err
	}
	var sales salesAnswer
	if _, err := s.callAPI(r, s.salesReport, http.MethodGet, q, nil, &sales); err != nil {
		return nil, err
	}
	data := &reportsData{From: sum.From, To: sum.To, DaysTotal: sales.Total, MaxDays: MaxReportDays, Loaded: true}
	name := func(n string, id bool) string {
		switch {
		case !id:
			return "No location"
		case n == "":
			return "(removed location)"
		}
		return n
	}
	for _, it := range sum.Items {
		data.Locations = append(data.Locations, reportSummaryRow{LocationSummary: it,
			Name: name(it.LocationName, it.LocationID != nil), Negative: isNegative(it.Margin)})
	}
	data.Total = reportSummaryRow{LocationSummary: sum.Total, Name: "All locations", Negative: isNegative(sum.Total.Margin)}
	for _, it := range sales.Items {
		data.Days = append(data.Days, reportDayRow{Day: it.Day, Location: name(it.LocationName, it.LocationID != nil), Invoices: it.Invoices, Total: it.Total})
	}
	rng := url.Values{"from": {data.From}, "to": {data.To}}
	rng.Set("table", "locations")
	data.CSVLocations = "/reports.csv?" + rng.Encode()
	rng.Set("table", "days")
	data.CSVDays = "/reports.csv?" + rng.Encode()
	return data, nil
}

func isNegative(v string) bool { return len(v) > 0 && v[0] == '-' }

// reportsPage shows sales per location and per day over a chosen range
// (default: the last 30 days), paid against outstanding, and expenses
// against sales with the margin per location; a refused range is shown
// beside its field.
func (s *Server) reportsPage(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	d.Title, d.Active = "Reports", "reports"
	d.Form = map[string]string{"from": r.URL.Query().Get("from"), "to": r.URL.Query().Get("to")}
	data, err := s.loadReports(r)
	if err != nil {
		status, err := d.FieldError(err)
		if err != nil {
			return err
		}
		d.Data = &reportsData{From: d.Form["from"], To: d.Form["to"], MaxDays: MaxReportDays}
		webpage.Render(w, r, s.log, tenantPages, status, "reports", d)
		return nil
	}
	d.Form["from"], d.Form["to"] = data.From, data.To
	d.Data = data
	webpage.Render(w, r, s.log, tenantPages, http.StatusOK, "reports", d)
	return nil
}

// reportsCSV downloads one table of the reports page (?table=locations or
// days) over the same range, as CSV.
func (s *Server) reportsCSV(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	data, err := s.loadReports(r)
	if err != nil {
		return err
	}
	var rows [][]string
	table := r.URL.Query().Get("table")
	switch table {
	case "", "locations":
		table = "locations"
		rows = append(rows, []string{"location", "invoices", "sales", "paid", "outstanding", "expenses", "margin"})
		for _, l := range append(data.Locations, data.Total) {
			rows = append(rows, []string{l.Name, strconv.FormatInt(l.Invoices, 10), l.Sales, l.Paid, l.Outstanding, l.Expenses, l.Margin})
		}
	case "days":
		rows = append(rows, []string{"day", "location", "invoices", "sales"})
		for _, x := range data.Days {
			rows = append(rows, []string{x.Day, x.Location, strconv.FormatInt(x.Invoices, 10), x.Total})
		}
	default:
		return httpapi.InvalidField("table", "must be locations or days")
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="sales-%s-%s-to-%s.csv"`, table, data.From, data.To))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	cw := csv.NewWriter(w)
	for _, row := range rows {
		for i := range row {
			row[i] = csvCell(row[i])
		}
		if err := cw.Write(row); err != nil {
			return nil // the client went away; the status is sent
		}
	}
	cw.Flush()
	return nil
}

// plainNumber is a cell a spreadsheet reads as a number, never a formula.
var plainNumber = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// csvCell defuses CSV injection: a cell that a spreadsheet would run as a
// formula (starting with = + - @, a tab or a carriage return) gets a leading
// '. Plain numbers, negative margins among them, stay numbers.
func csvCell(v string) string {
	if v == "" || plainNumber.MatchString(v) {
		return v
	}
	switch v[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + v
	}
	return v
}
