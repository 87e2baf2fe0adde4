package caddymodule

// The project Caddyfiles proxy tenant sites with `tenant_proxy` and the
// admin site with `reverse_proxy` (issue 15). Registering it with the
// tenant modules means every build that can run the tenant handler can load
// it. (The lean reverse_proxy transport `tenant_h1` measured on the way was
// removed once tenant_proxy replaced it: see bench/README.md.)
import (
	_ "github.com/tenantgate/tenantgate/caddymodule/tenantproxy"
)
