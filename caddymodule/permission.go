package caddymodule

import (
	"context"
	"fmt"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddytls"

	"github.com/tenantgate/tenantgate/tenantstore"
)

func init() {
	caddy.RegisterModule(new(Permission))
}

// Permission is the "tls.permission.tenant" on-demand TLS permission module.
// It allows a certificate for <subdomain>.<base_domain> of a known tenant
// (active, suspended or in maintenance), for a verified custom domain of
// such a tenant, and for the admin host; nothing else. A suspended tenant or
// one in maintenance gets its certificate so that the browser shows the
// handler's 403 or 503 page rather than a TLS error; an unknown name, one
// still provisioning, or any name while nothing is known about it gets none. Answers come from the tenant app's shared resolver, so a
// flood of unknown names costs one cached negative lookup each, and names
// already known keep their answer through a Redis or PostgreSQL outage.
//
// Caddyfile:
//
//	{
//		on_demand_tls {
//			permission tenant
//		}
//	}
type Permission struct {
	app      *App
	resolver hostResolver
}

// CaddyModule returns the Caddy module information.
func (*Permission) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "tls.permission.tenant",
		New: func() caddy.Module { return new(Permission) },
	}
}

// Provision connects the module to the tenant app.
func (p *Permission) Provision(ctx caddy.Context) error {
	app, err := appFromContext(ctx)
	if err != nil {
		return err
	}
	p.app = app
	p.resolver = app.resolver()
	return nil
}

// CertificateAllowed implements caddytls.OnDemandPermission. A denial wraps
// caddytls.ErrPermissionDenied.
func (p *Permission) CertificateAllowed(ctx context.Context, name string) error {
	host, ok := tenantstore.NormalizeHost(name)
	if !ok {
		return fmt.Errorf("%q: %w: not a valid host name", name, caddytls.ErrPermissionDenied)
	}
	if p.app.isAdminHost(host) {
		return nil
	}
	t, err := p.resolver.ResolveHost(ctx, host)
	if err != nil {
		return fmt.Errorf("%q: %w: %w", name, caddytls.ErrPermissionDenied, err)
	}
	switch t.Status {
	case tenantstore.StatusActive, tenantstore.StatusSuspended, tenantstore.StatusMaintenance:
		// The handler answers the latter two with their error page, which
		// needs a completed handshake to be seen.
		return nil
	}
	return fmt.Errorf("%q: %w: tenant %s is %s", name, caddytls.ErrPermissionDenied, t.Subdomain, t.Status)
}

// UnmarshalCaddyfile sets up the module from `permission tenant`; it takes
// no arguments.
func (p *Permission) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the module name
	if d.NextArg() {
		return d.ArgErr()
	}
	if d.NextBlock(0) {
		return d.Errf("unrecognized tenant permission option %q", d.Val())
	}
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Permission)(nil)
	_ caddytls.OnDemandPermission = (*Permission)(nil)
	_ caddyfile.Unmarshaler       = (*Permission)(nil)
)
