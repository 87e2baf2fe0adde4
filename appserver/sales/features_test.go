package sales

import "testing"

func TestFeatureOfPath(t *testing.T) {
	for path, want := range map[string]string{
		"/api/expenses": "expenses", "/api/expenses/1": "expenses", "/expenses/1/edit": "expenses",
		"/reports": "reports", "/reports.csv": "reports", "/api/reports/sales": "reports",
		"/locations": "locations", "/api/locations": "locations",
		"/": "", "/invoices": "", "/api/invoices/1": "", "/reportsx": "", "/api/expensesx": "",
	} {
		if got := featureOf(path); got != want {
			t.Errorf("featureOf(%q) = %q, want %q", path, got, want)
		}
	}
}
