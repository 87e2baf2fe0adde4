package tenantproxy

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("tenant_proxy", parseCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("tenant_proxy", httpcaddyfile.After, "reverse_proxy")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	p := new(Handler)
	if err := p.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	return p, nil
}

// UnmarshalCaddyfile reads the directive (syntax on Handler).
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // "tenant_proxy"
	h.Upstreams = append(h.Upstreams, d.RemainingArgs()...)
	for d.NextBlock(0) {
		opt := d.Val()
		if opt == "to" {
			h.Upstreams = append(h.Upstreams, d.RemainingArgs()...)
			continue
		}
		if !d.NextArg() {
			return d.ArgErr()
		}
		val := d.Val()
		var err error
		switch opt {
		case "lb_policy":
			h.LBPolicy = val
		case "lb_retries":
			h.Retries, err = strconv.Atoi(val)
		case "health_uri":
			h.HealthURI = val
		case "health_interval":
			err = parseDuration(val, &h.HealthInterval)
		case "health_timeout":
			err = parseDuration(val, &h.HealthTimeout)
		case "fail_duration":
			err = parseDuration(val, &h.FailDuration)
		case "dial_timeout":
			err = parseDuration(val, &h.DialTimeout)
		case "keepalive":
			err = parseDuration(val, &h.KeepAlive)
		case "keepalive_idle_conns_per_host":
			h.MaxIdlePerHost, err = strconv.Atoi(val)
		default:
			return d.Errf("tenant_proxy: unknown option %q", opt)
		}
		if err != nil {
			return d.Errf("tenant_proxy: %s: %v", opt, err)
		}
		if d.NextArg() {
			return d.ArgErr()
		}
	}
	return nil
}

func parseDuration(s string, d *caddy.Duration) error {
	v, err := caddy.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = caddy.Duration(v)
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Handler)(nil)
