package httpapi

import (
	"net/http/httptest"
	"net/url"
	"testing"
)

// FuzzParsePage feeds untrusted ?cursor= and ?limit= values: never a panic,
// and a cursor we issue always parses back.
func FuzzParsePage(f *testing.F) {
	f.Add("", "")
	f.Add("MTcwMDAwMDAwMDAwMDAwMDAwMHw1ZjBjN2EzNC0zYzU5LTRhNDMtOWQ1My0zZjFjMmI5ZjdhMTA", "50")
	f.Add("%%%", "-1")
	f.Fuzz(func(t *testing.T, cursor, limit string) {
		r := httptest.NewRequest("GET", "/api/customers?cursor="+url.QueryEscape(cursor)+"&limit="+url.QueryEscape(limit), nil)
		p, err := ParsePage(r)
		if err != nil {
			return
		}
		if p.Limit < 1 || p.Limit > MaxPageLimit {
			t.Errorf("ParsePage(limit %q) = limit %d, want 1..%d", limit, p.Limit, MaxPageLimit)
		}
	})
}

// FuzzDecimal checks that whatever Decimal.check accepts is a plain decimal
// PostgreSQL's numeric parses: digits, at most one point, bounded scale.
func FuzzDecimal(f *testing.F) {
	for _, s := range []string{"19.99", "0", "1.", ".5", "1e3", "-1", "0x10", "１２", "99999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if Decimal(s).Check("price", 2, false) != nil {
			return
		}
		dots := 0
		for i, c := range s {
			switch {
			case c == '.':
				dots++
				if i == 0 || i == len(s)-1 || len(s)-i-1 > 2 {
					t.Errorf("Decimal(%q).check accepted a misplaced point", s)
				}
			case c < '0' || c > '9':
				t.Errorf("Decimal(%q).check accepted %q", s, c)
			}
		}
		if dots > 1 {
			t.Errorf("Decimal(%q).check accepted %d points", s, dots)
		}
	})
}
