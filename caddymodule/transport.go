package caddymodule

// The project Caddyfiles proxy with `transport tenant_h1` (issue 15: a third
// of net/http's CPU per request); registering it with the tenant modules
// means every build that can run the tenant handler can load them.
import _ "github.com/tenantgate/tenantgate/caddymodule/h1transport"
