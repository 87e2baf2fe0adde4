// Command caddy is the tenantgate edge: Caddy v2 with its standard modules
// plus the tenant app, the tenant HTTP handler and the tls.permission.tenant
// on-demand TLS permission (package caddymodule), and the
// caddy.storage.postgres certificate storage (package caddymodule/pgstorage).
//
// It is used exactly like caddy: `caddy run --config Caddyfile`,
// `caddy list-modules`, `caddy version`, `caddy adapt`.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	// The standard modules, as in the official build.
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/tenantgate/tenantgate/caddymodule"
)

func main() {
	caddycmd.Main()
}
