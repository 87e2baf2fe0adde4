package appserver

import (
	"context"
	"testing"

	"github.com/tenantgate/tenantgate/tenantstore"
	"github.com/tenantgate/tenantgate/tenantstore/resolver"
)

// controlPlaneDSN is Config.DSN as cmd/appserver wires it: resolver answers
// carry no secret, so the URL is read from the control plane by tenant id.
func controlPlaneDSN(t testing.TB, store *tenantstore.Store, url func(*tenantstore.Tenant) (string, error)) func(context.Context, *tenantstore.Tenant) (string, error) {
	t.Helper()
	urls, err := resolver.NewDatabaseURLs(resolver.DatabaseURLsConfig{Source: store, URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(urls.Close)
	return urls.URL
}
