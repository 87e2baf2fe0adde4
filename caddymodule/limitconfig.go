package caddymodule

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// Defaults of ShedConfig.
const (
	// DefaultQueueTimeout is how long a request waits for a free slot of
	// the whole edge before it is answered 503 overloaded: long enough to
	// ride out a short burst, short enough that a refusal is quick and the
	// client's retry (Retry-After: 1) is not much later than a success.
	DefaultQueueTimeout = 100 * time.Millisecond
)

// LimitsConfig holds the per-tenant defaults of the global `limits` block:
// what a tenant gets whose own limits (tenantstore.TenantLimits, set with
// PATCH /api/tenants/{subdomain} or `tenantctl limits set`) are null. Zero
// means unlimited.
type LimitsConfig struct {
	// RatePerSecond is a tenant's sustained request rate (fractions
	// allowed: 0.5 is one request every two seconds). 0: no rate limit.
	RatePerSecond float64 `json:"rate_per_second,omitempty"`
	// Burst is how many requests a tenant may send at once above its rate.
	// 0: one second's worth of the rate (at least 1).
	Burst int `json:"burst,omitempty"`
	// MaxInFlight caps a tenant's requests being served (or queued for
	// the edge) at once. 0: no cap.
	MaxInFlight int `json:"max_in_flight,omitempty"`
}

// ShedConfig is the global `shed` block: a bound on the requests the whole
// edge serves at once, with a bounded queue served fairly across tenants.
type ShedConfig struct {
	// MaxInFlight bounds the requests (of all tenants) passed upstream at
	// once. 0: off, nothing is queued or shed.
	MaxInFlight int `json:"max_in_flight,omitempty"`
	// QueueTimeout is the longest a request waits for a slot before it is
	// answered 503 overloaded. Default 100ms.
	QueueTimeout caddy.Duration `json:"queue_timeout,omitempty"`
	// QueueLength bounds the requests waiting at once, all tenants
	// together. Default: MaxInFlight.
	QueueLength int `json:"queue_length,omitempty"`
}

// unmarshalLimits parses the body of a `limits { … }` block.
func (c *LimitsConfig) unmarshalLimits(d *caddyfile.Dispenser) error {
	return unmarshalOptions(d, "limits", map[string]func(string) error{
		"rate_per_second": func(val string) (err error) { c.RatePerSecond, err = parseRate(val); return err },
		"burst":           func(val string) (err error) { c.Burst, err = parseCount(val); return err },
		"max_in_flight":   func(val string) (err error) { c.MaxInFlight, err = parseCount(val); return err },
	})
}

// unmarshalShed parses the body of a `shed { … }` block.
func (c *ShedConfig) unmarshalShed(d *caddyfile.Dispenser) error {
	return unmarshalOptions(d, "shed", map[string]func(string) error{
		"max_in_flight": func(val string) (err error) { c.MaxInFlight, err = parseCount(val); return err },
		"queue_length":  func(val string) (err error) { c.QueueLength, err = parseCount(val); return err },
		"queue_timeout": func(val string) error {
			if err := parseDuration(val, &c.QueueTimeout); err != nil {
				return err
			}
			if c.QueueTimeout < 0 {
				return fmt.Errorf("must not be negative")
			}
			return nil
		},
	})
}

// unmarshalOptions parses the body of the block named block, each line an
// option of one argument handed to its setter in set; an option not in set
// or a setter's error is an error naming the block and the option.
func unmarshalOptions(d *caddyfile.Dispenser, block string, set map[string]func(string) error) error {
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		val, err := oneArg(d)
		if err != nil {
			return err
		}
		setter, ok := set[opt]
		if !ok {
			return d.Errf("unrecognized tenant %s option %q", block, opt)
		}
		if err := setter(val); err != nil {
			return d.Errf("tenant %s %s: %v", block, opt, err)
		}
	}
	return nil
}

// oneArg reads the single argument of the option the dispenser is on.
func oneArg(d *caddyfile.Dispenser) (string, error) {
	if !d.NextArg() {
		return "", d.ArgErr()
	}
	val := d.Val()
	if d.NextArg() {
		return "", d.ArgErr()
	}
	return val, nil
}

// parseRate parses a rate in requests per second: 0 (unlimited) or within
// the range a tenant's own rate may take.
func parseRate(s string) (float64, error) {
	r, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(r) || math.IsInf(r, 0) {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if r != 0 && (r < tenantstore.MinRatePerSecond || r > tenantstore.MaxLimit) {
		return 0, fmt.Errorf("must be 0 (unlimited) or from %g to %d", tenantstore.MinRatePerSecond, tenantstore.MaxLimit)
	}
	return r, nil
}

// parseCount parses a whole number from 0 to tenantstore.MaxLimit.
func parseCount(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a whole number", s)
	}
	if n < 0 || n > tenantstore.MaxLimit {
		return 0, fmt.Errorf("must be from 0 to %d", tenantstore.MaxLimit)
	}
	return n, nil
}

// validate checks values that did not come through the Caddyfile (JSON).
func (c *LimitsConfig) validate() error {
	if c == nil {
		return nil
	}
	if _, err := parseRate(strconv.FormatFloat(c.RatePerSecond, 'g', -1, 64)); err != nil {
		return fmt.Errorf("limits.rate_per_second: %w", err)
	}
	if c.Burst < 0 || c.Burst > tenantstore.MaxLimit {
		return fmt.Errorf("limits.burst: must be from 0 to %d", tenantstore.MaxLimit)
	}
	if c.MaxInFlight < 0 || c.MaxInFlight > tenantstore.MaxLimit {
		return fmt.Errorf("limits.max_in_flight: must be from 0 to %d", tenantstore.MaxLimit)
	}
	return nil
}

// validate checks values that did not come through the Caddyfile (JSON).
func (c *ShedConfig) validate() error {
	if c == nil {
		return nil
	}
	if c.MaxInFlight < 0 || c.MaxInFlight > tenantstore.MaxLimit {
		return fmt.Errorf("shed.max_in_flight: must be from 0 to %d", tenantstore.MaxLimit)
	}
	if c.QueueLength < 0 || c.QueueLength > tenantstore.MaxLimit {
		return fmt.Errorf("shed.queue_length: must be from 0 to %d", tenantstore.MaxLimit)
	}
	if c.QueueTimeout < 0 {
		return fmt.Errorf("shed.queue_timeout: must not be negative")
	}
	return nil
}
