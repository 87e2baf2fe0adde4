package tenantstore

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/tenantgate/tenantgate/internal/testenv"
)

func ptr[T any](v T) *T { return &v }

func TestTenantLimitsValidate(t *testing.T) {
	tests := []struct {
		name      string
		in        TenantLimits
		wantField string // "" for valid
	}{
		{"all default", TenantLimits{}, ""},
		{"fractional rate", TenantLimits{RatePerSecond: ptr(0.5)}, ""},
		{"largest values", TenantLimits{RatePerSecond: ptr(1e6), Burst: ptr(MaxLimit), MaxInFlight: ptr(MaxLimit)}, ""},
		{"zero rate", TenantLimits{RatePerSecond: ptr(0.0)}, "limits.rate_per_second"},
		{"negative rate", TenantLimits{RatePerSecond: ptr(-5.0)}, "limits.rate_per_second"},
		{"rate below a request per 100 s", TenantLimits{RatePerSecond: ptr(0.001)}, "limits.rate_per_second"},
		{"huge rate", TenantLimits{RatePerSecond: ptr(1e300)}, "limits.rate_per_second"},
		{"NaN rate", TenantLimits{RatePerSecond: ptr(math.NaN())}, "limits.rate_per_second"},
		{"infinite rate", TenantLimits{RatePerSecond: ptr(math.Inf(1))}, "limits.rate_per_second"},
		{"zero burst", TenantLimits{Burst: ptr(0)}, "limits.burst"},
		{"burst too large", TenantLimits{Burst: ptr(MaxLimit + 1)}, "limits.burst"},
		{"negative in-flight", TenantLimits{MaxInFlight: ptr(-1)}, "limits.max_in_flight"},
		{"in-flight overflow", TenantLimits{MaxInFlight: ptr(math.MaxInt)}, "limits.max_in_flight"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.in.Validate()
			var ve *ValidationError
			switch {
			case tt.wantField == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.wantField != "" && (!errors.As(err, &ve) || ve.Field != tt.wantField):
				t.Errorf("Validate() = %v, want a validation error naming %s", err, tt.wantField)
			}
		})
	}
}

// TestManagerUpdateLimits: a limits patch changes only the fields it
// sets, null returns one to the default, and the stored tenant carries
// them (what the resolver caches for the edge).
func TestManagerUpdateLimits(t *testing.T) {
	testenv.Integration(t)
	m := newTestManager(t, nil)
	ctx := context.Background()
	insertTenant(t, m.Store(), "acme")
	rec := &recorder{}
	m.Store().SetNotifier(rec)

	got, err := m.Update(ctx, "acme", Patch{Limits: &LimitsPatch{
		RatePerSecond: Setting[float64]{Set: true, Value: ptr(2.5)},
		Burst:         Setting[int]{Set: true, Value: ptr(10)},
	}})
	if err != nil {
		t.Fatalf("Update(rate, burst) = %v", err)
	}
	if got.Limits.RatePerSecond == nil || *got.Limits.RatePerSecond != 2.5 || got.Limits.Burst == nil || *got.Limits.Burst != 10 || got.Limits.MaxInFlight != nil {
		t.Fatalf("limits = %+v, want rate 2.5, burst 10, in-flight default", got.Limits)
	}
	if rec.last().TenantID != got.ID {
		t.Errorf("no change notified: edges would not hear of the new limits")
	}
	// Only max_in_flight set, burst back to default; rate untouched.
	if _, err := m.Update(ctx, "acme", Patch{Limits: &LimitsPatch{
		MaxInFlight: Setting[int]{Set: true, Value: ptr(3)},
		Burst:       Setting[int]{Set: true},
	}}); err != nil {
		t.Fatal(err)
	}
	stored, err := m.Get(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if l := stored.Limits; l.RatePerSecond == nil || *l.RatePerSecond != 2.5 || l.Burst != nil || l.MaxInFlight == nil || *l.MaxInFlight != 3 {
		t.Errorf("stored limits = %+v, want rate 2.5, burst default, in-flight 3", l)
	}
	_, err = m.Update(ctx, "acme", Patch{Limits: &LimitsPatch{Burst: Setting[int]{Set: true, Value: ptr(-1)}}})
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Field != "limits.burst" {
		t.Errorf("Update(burst -1) = %v, want a validation error naming limits.burst", err)
	}
	if _, err := m.Update(ctx, "acme", Patch{Limits: ResetLimits()}); err != nil {
		t.Fatal(err)
	}
	if stored, _ = m.Get(ctx, "acme"); !stored.Limits.IsDefault() {
		t.Errorf("limits after reset = %+v, want all default", stored.Limits)
	}
}
