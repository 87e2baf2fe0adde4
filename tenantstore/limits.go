package tenantstore

import (
	"math"
)

// Bounds of a tenant's limits (SPEC §11).
const (
	// MaxLimit bounds every limit: a rate in requests per second, a burst,
	// requests in flight. Far above what one edge serves; far below where
	// the edge's arithmetic (nanoseconds in an int64) would overflow.
	MaxLimit = 1_000_000
	// MinRatePerSecond is the lowest rate a tenant may be given, one
	// request every 100 seconds: rates are fractional, but a smaller one
	// would be a suspension, which has its own status.
	MinRatePerSecond = 0.01
)

// TenantLimits are a tenant's own limits at the edge. A nil field means
// the edge's default (the global tenant block's `limits`). Marshalled as
// {"rate_per_second": …, "burst": …, "max_in_flight": …} with null for a
// default.
type TenantLimits struct {
	// RatePerSecond is the sustained request rate, fractions allowed
	// (MinRatePerSecond to MaxLimit).
	RatePerSecond *float64 `json:"rate_per_second"`
	// Burst is how many requests may come at once above the rate (1 to
	// MaxLimit).
	Burst *int `json:"burst"`
	// MaxInFlight caps the requests being served at once (1 to MaxLimit).
	MaxInFlight *int `json:"max_in_flight"`
}

// IsDefault reports whether every limit is the edge's default.
func (l TenantLimits) IsDefault() bool {
	return l.RatePerSecond == nil && l.Burst == nil && l.MaxInFlight == nil
}

// Validate returns a *ValidationError naming the first field out of range
// (limits.rate_per_second, limits.burst, limits.max_in_flight).
func (l TenantLimits) Validate() error {
	if r := l.RatePerSecond; r != nil && (math.IsNaN(*r) || *r < MinRatePerSecond || *r > MaxLimit) {
		return invalid("limits.rate_per_second", "must be from %g to %d requests per second, or null for the edge default", MinRatePerSecond, MaxLimit)
	}
	if b := l.Burst; b != nil && (*b < 1 || *b > MaxLimit) {
		return invalid("limits.burst", "must be a whole number from 1 to %d, or null for the edge default", MaxLimit)
	}
	if n := l.MaxInFlight; n != nil && (*n < 1 || *n > MaxLimit) {
		return invalid("limits.max_in_flight", "must be a whole number from 1 to %d, or null for the edge default", MaxLimit)
	}
	return nil
}

// LimitsPatch changes some of a tenant's limits, as a JSON merge patch
// does: a field whose Set is false is left as it is; Set with a nil value
// returns the limit to the edge default.
type LimitsPatch struct {
	RatePerSecond Setting[float64]
	Burst         Setting[int]
	MaxInFlight   Setting[int]
}

// Setting is one field of a LimitsPatch.
type Setting[T any] struct {
	Set   bool
	Value *T // nil: the edge default
}

// ResetLimits is the patch that returns every limit to the edge default.
func ResetLimits() *LimitsPatch {
	return &LimitsPatch{
		RatePerSecond: Setting[float64]{Set: true},
		Burst:         Setting[int]{Set: true},
		MaxInFlight:   Setting[int]{Set: true},
	}
}

// apply returns l changed by p.
func (p *LimitsPatch) apply(l TenantLimits) TenantLimits {
	if p.RatePerSecond.Set {
		l.RatePerSecond = p.RatePerSecond.Value
	}
	if p.Burst.Set {
		l.Burst = p.Burst.Value
	}
	if p.MaxInFlight.Set {
		l.MaxInFlight = p.MaxInFlight.Value
	}
	return l
}
