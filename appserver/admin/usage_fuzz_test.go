package admin

import (
	"errors"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/appserver/httpapi"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// FuzzUsageQuery feeds arbitrary from, to and step to the usage API's
// parser: it either names the bad field or returns a range of at most
// MaxUsagePoints steps, from before to.
func FuzzUsageQuery(f *testing.F) {
	for _, s := range [][3]string{{"", "", ""}, {"2026-01-01", "2026-01-02", "1h"}, {"0001-01-01", "9999-12-31", "1d"},
		{"2026-01-01T00:00:00+14:00", "2026-01-01T00:00:00-12:00", "1m"}, {"x", "y", "1s"}} {
		f.Add(s[0], s[1], s[2])
	}
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, from, to, step string) {
		q := url.Values{"from": {from}, "to": {to}, "step": {step}}
		r := httptest.NewRequest("GET", "/api/tenants/acme/usage?"+q.Encode(), nil)
		uq, err := parseUsageQuery(r, now)
		if err != nil {
			var ae *httpapi.Error
			if !errors.As(err, &ae) || ae.Status != 400 || (ae.Field != "from" && ae.Field != "to" && ae.Field != "step") {
				t.Fatalf("parseUsageQuery(%q, %q, %q) = %v, want a 400 naming from, to or step", from, to, step, err)
			}
			return
		}
		st := usageSteps[uq.step].step
		if !uq.from.Before(uq.to) || uq.to.Sub(uq.from.Truncate(st)) > time.Duration(tenantstore.MaxUsagePoints)*st {
			t.Fatalf("parseUsageQuery(%q, %q, %q) = %v…%v step %s: not a bounded range", from, to, step, uq.from, uq.to, uq.step)
		}
	})
}
