package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/appserver/httpapi"
)

// TestAdminTenantLimits: PATCH "limits" is a merge patch, GET shows the
// limits (null for a default), bad values are 400s naming the field, and
// another process's resolver (an edge) sees a change within a second.
func TestAdminTenantLimits(t *testing.T) {
	e := newAdminEnv(t)
	ctx := context.Background()
	e.insertAcme(5)
	if _, err := e.resB.ResolveHost(ctx, "acme.localhost"); err != nil { // warm the other edge's cache
		t.Fatal(err)
	}
	limits := func(r response) map[string]any {
		t.Helper()
		var v struct {
			Limits map[string]any `json:"limits"`
		}
		if err := json.Unmarshal(r.Raw, &v); err != nil || v.Limits == nil {
			t.Fatalf("body %s: no limits object (%v)", r.Raw, err)
		}
		return v.Limits
	}
	want := func(what string, got map[string]any, rate, burst, inflight any) {
		t.Helper()
		if got["rate_per_second"] != rate || got["burst"] != burst || got["max_in_flight"] != inflight {
			t.Errorf("%s: limits = %v, want rate %v, burst %v, in flight %v", what, got, rate, burst, inflight)
		}
	}
	want("new tenant", limits(e.must(200, e.api("GET", "/api/tenants/acme", nil), "show")), nil, nil, nil)

	r := e.must(200, e.api("PATCH", "/api/tenants/acme", `{"limits": {"rate_per_second": 2.5, "burst": 10}}`), "set rate and burst")
	want("after setting rate and burst", limits(r), 2.5, 10.0, nil)
	if !eventually(time.Second, func() bool {
		got, err := e.resB.ResolveHost(ctx, "acme.localhost")
		return err == nil && got.Limits.Burst != nil && *got.Limits.Burst == 10
	}) {
		t.Errorf("another resolver did not see burst 10 within 1 s")
	}
	r = e.must(200, e.api("PATCH", "/api/tenants/acme", `{"limits": {"max_in_flight": 4, "burst": null}}`), "merge")
	want("after a merge patch", limits(r), 2.5, nil, 4.0)
	want("shown", limits(e.must(200, e.api("GET", "/api/tenants/acme", nil), "show")), 2.5, nil, 4.0)
	r = e.must(200, e.api("PATCH", "/api/tenants/acme", `{"name": "Acme Two"}`), "patch without limits")
	want("after a patch without limits", limits(r), 2.5, nil, 4.0)
	r = e.must(200, e.api("PATCH", "/api/tenants/acme", `{"limits": null}`), "reset")
	want("after limits null", limits(r), nil, nil, nil)

	for _, tc := range []struct{ body, field string }{
		{`{"limits": {"rate_per_second": 0}}`, "limits.rate_per_second"},
		{`{"limits": {"rate_per_second": -1}}`, "limits.rate_per_second"},
		{`{"limits": {"rate_per_second": 1e300}}`, "limits.rate_per_second"},
		{`{"limits": {"rate_per_second": "fast"}}`, "limits.rate_per_second"},
		{`{"limits": {"burst": 2.5}}`, "limits.burst"},
		{`{"limits": {"burst": 0}}`, "limits.burst"},
		{`{"limits": {"burst": 1e20}}`, "limits.burst"},
		{`{"limits": {"max_in_flight": -3}}`, "limits.max_in_flight"},
		{`{"limits": {"max_in_flight": 1000001}}`, "limits.max_in_flight"},
		{`{"limits": {"rate": 5}}`, "limits.rate"},
		{`{"limits": 5}`, "limits"},
		{`{"limits": [1]}`, "limits"},
	} {
		r := e.api("PATCH", "/api/tenants/acme", tc.body)
		var body struct {
			Error struct{ Code, Field string } `json:"error"`
		}
		_ = json.Unmarshal(r.Raw, &body)
		if r.Status != http.StatusBadRequest || body.Error.Field != tc.field {
			t.Errorf("PATCH %s = %d %s, want 400 naming %s", tc.body, r.Status, r.Raw, tc.field)
		}
	}
	want("after refused patches", limits(e.must(200, e.api("GET", "/api/tenants/acme", nil), "show")), nil, nil, nil)
}

// FuzzDecodeLimitsPatch: any "limits" member decodes to a patch or a 400
// naming a limits field, never a panic.
func FuzzDecodeLimitsPatch(f *testing.F) {
	for _, s := range []string{`null`, `{}`, `{"rate_per_second": 2.5}`, `{"burst": null, "max_in_flight": 3}`, `[1]`, `"x"`, `{"burst": 1e400}`, `{"rate": 1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := decodeLimitsPatch(raw)
		if err != nil {
			var he *httpapi.Error
			if !errors.As(err, &he) || !strings.HasPrefix(he.Field, "limits") {
				t.Fatalf("decodeLimitsPatch(%q) = %v, want an error naming a limits field", raw, err)
			}
			return
		}
		if p == nil && raw != nil {
			t.Fatalf("decodeLimitsPatch(%q) = nil patch and no error", raw)
		}
	})
}
