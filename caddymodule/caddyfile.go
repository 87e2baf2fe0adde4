package caddymodule

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("tenant", parseGlobalOption)
	httpcaddyfile.RegisterHandlerDirective("tenant", parseHandler)
	httpcaddyfile.RegisterDirectiveOrder("tenant", httpcaddyfile.Before, "reverse_proxy")
	httpcaddyfile.RegisterHandlerDirective("tenant_error", parseErrorPage)
	httpcaddyfile.RegisterDirectiveOrder("tenant_error", httpcaddyfile.Before, "respond")
}

// parseGlobalOption parses the global `tenant { … }` block (syntax on App)
// into the "tenant" app.
func parseGlobalOption(d *caddyfile.Dispenser, _ any) (any, error) {
	app := new(App)
	if err := app.UnmarshalCaddyfile(d); err != nil {
		return nil, err
	}
	return httpcaddyfile.App{Name: "tenant", Value: caddyconfig.JSON(app, nil)}, nil
}

// UnmarshalCaddyfile sets up the app from the global `tenant` block.
func (a *App) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // "tenant"
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		opt := d.Val()
		switch opt {
		case "limits":
			if d.NextArg() {
				return d.ArgErr()
			}
			if a.Limits == nil {
				a.Limits = new(LimitsConfig)
			}
			if err := a.Limits.unmarshalLimits(d); err != nil {
				return err
			}
			continue
		case "shed":
			if d.NextArg() {
				return d.ArgErr()
			}
			if a.Shed == nil {
				a.Shed = new(ShedConfig)
			}
			if err := a.Shed.unmarshalShed(d); err != nil {
				return err
			}
			continue
		}
		val, err := oneArg(d)
		if err != nil {
			return err
		}
		switch opt {
		case "database_url":
			a.DatabaseURL = val
		case "redis_url":
			a.RedisURL = val
		case "base_domain":
			a.BaseDomain = val
		case "admin_host":
			a.AdminHost = val
		case "signing_keys":
			a.SigningKeys = val
		case "cache_key":
			a.CacheKey = val
		case "key_prefix":
			a.KeyPrefix = val
		case "channel":
			a.Channel = val
		case "cache_size":
			a.CacheSize, err = strconv.Atoi(val)
			if err == nil && a.CacheSize < 0 {
				return d.Errf("cache_size must not be negative")
			}
		case "ttl":
			err = parseDuration(val, &a.TTL)
		case "negative_ttl":
			err = parseDuration(val, &a.NegativeTTL)
		case "redis_timeout":
			err = parseDuration(val, &a.RedisTimeout)
		case "source_timeout":
			err = parseDuration(val, &a.SourceTimeout)
		default:
			return d.Errf("unrecognized tenant option %q", opt)
		}
		if err != nil {
			return d.Errf("tenant option %s: %v", opt, err)
		}
	}
	return nil
}

func parseDuration(s string, dst *caddy.Duration) error {
	d, err := caddy.ParseDuration(s)
	if err != nil {
		return err
	}
	*dst = caddy.Duration(d)
	return nil
}

// parseHandler parses the `tenant` directive (syntax on Handler).
func parseHandler(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(Handler)
	err := m.UnmarshalCaddyfile(h.Dispenser)
	return m, err
}

// UnmarshalCaddyfile sets up the handler from the `tenant` directive.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // "tenant"
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "retry_after":
			if !d.NextArg() {
				return d.ArgErr()
			}
			if err := parseDuration(d.Val(), &h.RetryAfter); err != nil {
				return d.Errf("retry_after: %v", err)
			}
			if d.NextArg() {
				return d.ArgErr()
			}
		default:
			return d.Errf("unrecognized tenant handler option %q", d.Val())
		}
	}
	return nil
}

// parseErrorPage parses the `tenant_error` directive, which takes no
// arguments.
func parseErrorPage(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	h.Next()
	if h.NextArg() || h.NextBlock(0) {
		return nil, h.ArgErr()
	}
	return new(ErrorPage), nil
}

// Interface guards
var (
	_ caddyfile.Unmarshaler = (*App)(nil)
	_ caddyfile.Unmarshaler = (*Handler)(nil)
)
