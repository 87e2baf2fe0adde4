package appserver

import (
	"embed"
	"net/http"

	"github.com/tenantgate/tenantgate/appserver/httpapi"
)

// web holds the templates of the tenant pages and the admin dashboard, and
// the OpenAPI document.
//
//go:embed web
var web embed.FS

// Errors of the tenant routes.
var (
	errInvalidToken    = &httpapi.Error{Status: http.StatusUnauthorized, Code: "invalid_tenant_token", Message: "missing or invalid tenant token"}
	errUnauthenticated = &httpapi.Error{Status: http.StatusUnauthorized, Code: "unauthenticated", Message: "log in first"}
	errForbidden       = &httpapi.Error{Status: http.StatusForbidden, Code: "forbidden", Message: "tenant administrators only"}
	errUserLimit       = &httpapi.Error{Status: http.StatusUnprocessableEntity, Code: "user_limit_reached", Message: "the organization has reached its user limit"}
)
