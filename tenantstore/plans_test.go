package tenantstore

import (
	"context"
	"errors"
	"maps"
	"testing"
)

func TestEffectiveFeatures(t *testing.T) {
	tests := []struct {
		name            string
		plan, overrides map[string]bool
		want            map[string]bool
	}{
		{"nothing named: every feature on", nil, nil,
			map[string]bool{"expenses": true, "locations": true, "reports": true}},
		{"plan turns one off", map[string]bool{"reports": false}, nil,
			map[string]bool{"expenses": true, "locations": true, "reports": false}},
		{"override wins over the plan", map[string]bool{"reports": false, "expenses": true}, map[string]bool{"reports": true, "expenses": false},
			map[string]bool{"expenses": false, "locations": true, "reports": true}},
		{"unknown names are dropped", map[string]bool{"teleport": true}, map[string]bool{"warp": false},
			map[string]bool{"expenses": true, "locations": true, "reports": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EffectiveFeatures(tt.plan, tt.overrides); !maps.Equal(got, tt.want) {
				t.Errorf("EffectiveFeatures(%v, %v) = %v, want %v", tt.plan, tt.overrides, got, tt.want)
			}
		})
	}
}

func TestEffectiveLimits(t *testing.T) {
	tn := &Tenant{Limits: TenantLimits{Burst: ptr(7)}, PlanLimits: TenantLimits{RatePerSecond: ptr(2.0), Burst: ptr(20)}}
	got := tn.EffectiveLimits()
	if got.RatePerSecond == nil || *got.RatePerSecond != 2 || got.Burst == nil || *got.Burst != 7 || got.MaxInFlight != nil {
		t.Errorf("EffectiveLimits() = %+v, want rate 2 (plan), burst 7 (own), in-flight nil (edge default)", got)
	}
}

func TestFeatureEnabledOfUnknownName(t *testing.T) {
	tn := &Tenant{}
	if !tn.FeatureEnabled(FeatureReports) || tn.FeatureEnabled("nonsense") {
		t.Errorf("tenant without features: reports %v, nonsense %v; want on, off", tn.FeatureEnabled(FeatureReports), tn.FeatureEnabled("nonsense"))
	}
}

func TestPlanRequestValidation(t *testing.T) {
	tests := []struct {
		name      string
		req       PlanRequest
		wantField string
	}{
		{"valid", PlanRequest{MaxUsers: ptr(10), Features: FeaturePatch{"reports": ptr(false)}}, ""},
		{"zero users", PlanRequest{MaxUsers: ptr(0)}, "max_users"},
		{"huge users", PlanRequest{MaxUsers: ptr(MaxMaxUsers + 1)}, "max_users"},
		{"negative burst", PlanRequest{Limits: &LimitsPatch{Burst: Setting[int]{Set: true, Value: ptr(-1)}}}, "limits.burst"},
		{"unknown feature", PlanRequest{Features: FeaturePatch{"teleport": ptr(true)}}, "features.teleport"},
		{"unset default", PlanRequest{Default: ptr(false)}, "default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Plan{Name: "x", MaxUsers: 5, Default: true}
			err := tt.req.apply(p)
			var ve *ValidationError
			switch {
			case tt.wantField == "" && err != nil:
				t.Errorf("apply() = %v, want nil", err)
			case tt.wantField != "" && (!errors.As(err, &ve) || ve.Field != tt.wantField):
				t.Errorf("apply() = %v, want a validation error naming %s", err, tt.wantField)
			}
		})
	}
}

// TestPlansAndTenants: the seeded plans, a new tenant on the default plan
// following its user limit and features, overrides, a plan change notified
// for every tenant on it, and refusals naming the field.
func TestPlansAndTenants(t *testing.T) {
	m := newTestManager(t, nil)
	ctx := context.Background()
	plans, err := m.ListPlans(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	def := ""
	for _, p := range plans {
		names = append(names, p.Name)
		if p.Default {
			def = p.Name
		}
	}
	if len(names) != 3 || def != "standard" {
		t.Fatalf("seeded plans = %v (default %q), want enterprise, free, standard (default)", names, def)
	}

	// A tenant inserted without a user limit follows its plan's.
	tn := &Tenant{Name: "Org a", Subdomain: "a", AdminEmail: "a@example.com", Status: StatusActive, DatabaseName: "db_a"}
	if err := m.Store().Insert(ctx, tn); err != nil {
		t.Fatal(err)
	}
	if tn.Plan != "standard" || tn.MaxUsers != 50 || tn.OwnMaxUsers != nil || !tn.FeatureEnabled(FeatureReports) {
		t.Fatalf("new tenant: plan %q, max users %d (own %v), reports %v; want standard, 50 from the plan, on", tn.Plan, tn.MaxUsers, tn.OwnMaxUsers, tn.FeatureEnabled(FeatureReports))
	}
	other := insertTenant(t, m.Store(), "b") // max users 5 of its own
	rec := &recorder{}
	m.Store().SetNotifier(rec)

	// Moving to free: its features and limits, but b keeps its own user limit.
	got, err := m.Update(ctx, "b", Patch{Plan: ptr("free"), Features: FeaturePatch{"reports": ptr(true)}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Plan != "free" || got.MaxUsers != 5 || !got.FeatureEnabled(FeatureReports) || got.FeatureEnabled(FeatureExpenses) ||
		got.EffectiveLimits().RatePerSecond == nil {
		t.Errorf("b on free with reports on: %+v, want free, 5 users (own), reports on (override), expenses off, the plan's rate", got)
	}
	// null returns the feature to the plan's.
	got, err = m.Update(ctx, "b", Patch{Features: FeaturePatch{"reports": nil}})
	if err != nil || got.FeatureEnabled(FeatureReports) || len(got.FeatureOverrides) != 0 {
		t.Errorf("reports back to the plan = %v, %+v; want off, no overrides", err, got)
	}

	// A plan change: every tenant on it is notified, and reads the new values.
	rec.changes = nil
	p, err := m.UpdatePlan(ctx, "standard", PlanRequest{MaxUsers: ptr(12), Features: FeaturePatch{"locations": ptr(false)}})
	if err != nil || p.Tenants != 1 {
		t.Fatalf("UpdatePlan(standard) = %+v, %v; want 1 tenant", p, err)
	}
	if c := rec.last(); c.TenantID != tn.ID {
		t.Errorf("notified %+v, want tenant a (on standard)", rec.changes)
	}
	a, err := m.Get(ctx, "a")
	if err != nil || a.MaxUsers != 12 || a.FeatureEnabled(FeatureLocations) {
		t.Errorf("a after the plan change = %+v, %v; want 12 users, locations off", a, err)
	}

	// Refusals name the field.
	for _, tc := range []struct {
		name  string
		patch Patch
		field string
	}{
		{"unknown plan", Patch{Plan: ptr("platinum")}, "plan"},
		{"bad plan name", Patch{Plan: ptr("DROP TABLE")}, "plan"},
		{"unknown feature", Patch{Features: FeaturePatch{"warp": ptr(true)}}, "features.warp"},
	} {
		_, err := m.Update(ctx, other.Subdomain, tc.patch)
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != tc.field {
			t.Errorf("%s: Update = %v, want a validation error naming %s", tc.name, err, tc.field)
		}
	}
	if _, err := m.CreatePlan(ctx, "standard", PlanRequest{}); !errors.Is(err, ErrConflict) {
		t.Errorf("CreatePlan(standard) = %v, want a conflict", err)
	}
	// A new default takes the role from the old.
	if _, err := m.CreatePlan(ctx, "team", PlanRequest{Default: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if p, _ := m.GetPlan(ctx, "standard"); p == nil || p.Default {
		t.Errorf("standard after team became the default = %+v, want not default", p)
	}
	if _, err := m.Update(ctx, "a", Patch{PlanMaxUsers: true, Plan: ptr("team")}); err != nil {
		t.Fatal(err)
	}
}
