package tenantops_test

import (
	"context"
	"testing"

	"github.com/tenantgate/tenantgate/tenantstore"
	"github.com/tenantgate/tenantgate/tenantstore/resolver"
)

// controlPlaneDSN is the appserver's Config.DSN as cmd/appserver wires it:
// resolver answers carry no secret, so the URL is read from the control
// plane by tenant id.
func controlPlaneDSN(t testing.TB, store *tenantstore.Store, dsn tenantstore.DSNConfig) func(context.Context, *tenantstore.Tenant) (string, error) {
	t.Helper()
	urls, err := resolver.NewDatabaseURLs(resolver.DatabaseURLsConfig{Source: store, URL: dsn.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(urls.Close)
	return urls.URL
}
