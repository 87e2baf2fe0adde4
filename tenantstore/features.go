package tenantstore

import (
	"maps"
	"slices"
	"strings"
)

// The features a plan or a tenant can turn on and off (SPEC §13). Each
// gates pages of the sales app and their API routes.
const (
	FeatureExpenses  = "expenses"
	FeatureReports   = "reports"
	FeatureLocations = "locations"
)

// KnownFeatures is the registry of feature names, sorted. A name not in it
// is refused wherever features are set.
var KnownFeatures = []string{FeatureExpenses, FeatureLocations, FeatureReports}

// IsFeature reports whether name is a known feature.
func IsFeature(name string) bool {
	_, found := slices.BinarySearch(KnownFeatures, name)
	return found
}

// validateFeatureNames refuses, as a *ValidationError naming
// "<field>.<name>", the first unknown feature of names.
func validateFeatureNames[V any](field string, m map[string]V) error {
	for _, name := range slices.Sorted(maps.Keys(m)) {
		if !IsFeature(name) {
			return invalid(field+"."+name, "is not a known feature (known: %s)", strings.Join(KnownFeatures, ", "))
		}
	}
	return nil
}

// EffectiveFeatures merges a plan's features with a tenant's overrides:
// every known feature, from the override when the tenant has one, else
// from the plan, else on.
func EffectiveFeatures(plan, overrides map[string]bool) map[string]bool {
	out := make(map[string]bool, len(KnownFeatures))
	for _, f := range KnownFeatures {
		on, ok := overrides[f]
		if !ok {
			on, ok = plan[f]
		}
		out[f] = on || !ok
	}
	return out
}

// FeatureEnabled reports whether the tenant may use feature name: its
// effective value, on for a known feature the tenant carries no value for
// (an entry cached before plans existed), off for an unknown name.
func (t *Tenant) FeatureEnabled(name string) bool {
	if on, ok := t.Features[name]; ok {
		return on
	}
	return IsFeature(name)
}

// EffectiveLimits are the limits the edge applies to the tenant: each its
// own when set, else its plan's; a nil field is left to the edge default.
func (t *Tenant) EffectiveLimits() TenantLimits {
	l := t.Limits
	if l.RatePerSecond == nil {
		l.RatePerSecond = t.PlanLimits.RatePerSecond
	}
	if l.Burst == nil {
		l.Burst = t.PlanLimits.Burst
	}
	if l.MaxInFlight == nil {
		l.MaxInFlight = t.PlanLimits.MaxInFlight
	}
	return l
}

// FeaturePatch changes features as a JSON merge patch: true or false sets
// one, nil removes the setting (a tenant's feature goes back to its plan's,
// a plan's to on).
type FeaturePatch map[string]*bool

// apply returns a copy of m changed by p.
func (p FeaturePatch) apply(m map[string]bool) map[string]bool {
	out := maps.Clone(m)
	if out == nil {
		out = map[string]bool{}
	}
	for k, v := range p {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = *v
		}
	}
	return out
}
