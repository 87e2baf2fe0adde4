package main

import (
	"testing"
	"time"
)

// TestHistory checks that the demo data gives the reports something to
// show: invoices over several months in every state, and expenses per
// location every month, none in the future.
func TestHistory(t *testing.T) {
	for _, sub := range []string{"acme", "globex", "other"} {
		d := withHistory(catalog(sub))
		states := map[string]int{}
		oldest := 0
		for _, inv := range d.Invoices {
			st := inv.Status
			if inv.Void {
				st = "void"
			}
			states[st]++
			oldest = max(oldest, inv.DaysAgo)
			if len(inv.Lines) == 0 {
				t.Errorf("%s: a demo invoice without lines", sub)
			}
		}
		if oldest < 120 || states["paid"] == 0 || states["issued"] == 0 || states["void"] == 0 {
			t.Errorf("%s: invoices reach back %d days with states %v, want several months of paid, issued and void", sub, oldest, states)
		}
		now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
		locs := []Location{{ID: "a"}, {ID: "b"}}
		ex := expenses(d, locs, now)
		months, perLoc := map[string]bool{}, map[string]int{}
		for _, e := range ex {
			on, err := time.Parse(time.DateOnly, e.SpentOn)
			if err != nil || on.After(now) {
				t.Errorf("%s: expense %+v dated %q", sub, e, e.SpentOn)
			}
			months[e.SpentOn[:7]] = true
			perLoc[e.LocationID]++
		}
		if len(months) < historyMonths || perLoc["a"] == 0 || perLoc["b"] == 0 {
			t.Errorf("%s: expenses in %d months, per location %v; want every month at each location", sub, len(months), perLoc)
		}
		if ex := expenses(d, nil, now); len(ex) == 0 || ex[0].LocationID != "" {
			t.Errorf("%s: without locations, expenses = %v, want some without a location", sub, ex)
		}
	}
}
