package caddymodule

// The project Caddyfiles proxy tenant sites with `tenant_proxy` and the
// admin site with `reverse_proxy`; `transport tenant_h1` stays available
// for reverse_proxy (issue 15). Registering them with the tenant modules
// means every build that can run the tenant handler can load them.
import (
	_ "github.com/tenantgate/tenantgate/caddymodule/h1transport"
	_ "github.com/tenantgate/tenantgate/caddymodule/tenantproxy"
)
