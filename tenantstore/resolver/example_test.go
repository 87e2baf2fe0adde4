package resolver_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/tenantgate/tenantgate/internal/tenanttoken"
	"github.com/tenantgate/tenantgate/tenantstore"
	"github.com/tenantgate/tenantgate/tenantstore/resolver"
)

// A process that serves tenants: the store, Redis and one resolver, which is
// also the store's notifier so that its own writes invalidate every cache.
func Example() {
	ctx := context.Background()
	store, err := tenantstore.Open(ctx, "postgres://postgres@127.0.0.1:5432/tenantgate?sslmode=disable")
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	rdb, err := resolver.NewRedisClient("redis://127.0.0.1:6379/0")
	if err != nil {
		log.Fatal(err)
	}
	defer rdb.Close()
	// Redis entries are authenticated with keys derived from the signing
	// keys, or from CACHE_KEY when set.
	signing, err := tenanttoken.ParseKeys(os.Getenv("TENANT_SIGNING_KEYS"))
	if err != nil {
		log.Fatal(err)
	}
	macKeys, err := resolver.EntryKeys(os.Getenv("CACHE_KEY"), signing)
	if err != nil {
		log.Fatal(err)
	}
	res, err := resolver.New(resolver.Config{
		BaseDomain: "example.com",
		MACKeys:    macKeys,
		OnBadEntry: func(key string) { log.Printf("cache entry failed verification: %s", key) },
	}, store, rdb)
	if err != nil {
		log.Fatal(err)
	}
	defer res.Close()
	store.SetNotifier(res)
	res.OnChange(func(c tenantstore.Change) { /* e.g. close the tenant's pool */ })
	res.Start(ctx)

	t, err := res.ResolveHost(ctx, "acme.example.com")
	switch {
	case errors.Is(err, tenantstore.ErrNotFound):
		fmt.Println("404: no such organization")
	case errors.Is(err, tenantstore.ErrUnavailable):
		fmt.Println("503: try again later")
	case err != nil:
		fmt.Println("500:", err)
	default:
		fmt.Println("tenant", t.Subdomain, t.Status)
	}
}
