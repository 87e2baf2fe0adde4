package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"

	"github.com/tenantgate/tenantgate/appserver/httpapi"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// decodeLimitsPatch reads the "limits" member of PATCH /api/tenants/{sub}
// as a JSON merge patch: absent (nil raw) changes nothing, null returns
// every limit to the edge default, and an object sets the limits it names
// (null: that one to its default) and leaves the others. Errors name the
// field (limits.burst); range checks are the Manager's.
func decodeLimitsPatch(raw json.RawMessage) (*tenantstore.LimitsPatch, error) {
	if raw == nil {
		return nil, nil
	}
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return tenantstore.ResetLimits(), nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return nil, httpapi.InvalidField("limits", `must be an object such as {"rate_per_second": 10, "burst": 20, "max_in_flight": 8}, or null for the edge defaults`)
	}
	p := &tenantstore.LimitsPatch{}
	for name, v := range fields {
		field := "limits." + name
		null := bytes.Equal(bytes.TrimSpace(v), []byte("null"))
		switch name {
		case "rate_per_second":
			p.RatePerSecond.Set = true
			if null {
				continue
			}
			var f float64
			if err := json.Unmarshal(v, &f); err != nil {
				return nil, httpapi.InvalidField(field, "must be a number of requests per second, or null for the edge default")
			}
			p.RatePerSecond.Value = &f
		case "burst", "max_in_flight":
			s := &p.Burst
			if name == "max_in_flight" {
				s = &p.MaxInFlight
			}
			s.Set = true
			if null {
				continue
			}
			n, err := wholeNumber(v)
			if err != nil {
				return nil, httpapi.InvalidField(field, "must be a whole number, or null for the edge default")
			}
			s.Value = &n
		default:
			return nil, httpapi.InvalidField(field, "unknown field; the limits are rate_per_second, burst and max_in_flight")
		}
	}
	return p, nil
}

// wholeNumber decodes a JSON number that is a whole number within int
// range (10 and 1e3 are; 2.5 and 1e300 are not).
func wholeNumber(v json.RawMessage) (int, error) {
	var f float64
	if err := json.Unmarshal(v, &f); err != nil {
		return 0, err
	}
	if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, errNotWhole
	}
	return int(f), nil
}

var errNotWhole = errors.New("not a whole number")
