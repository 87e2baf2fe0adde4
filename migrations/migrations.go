// Package migrations embeds the SQL migrations of the control plane and of
// every tenant database. They are applied with goose (see tenantstore).
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed control/*.sql tenant/*.sql
var files embed.FS

// Control returns the control-plane migrations (the tenants, their domains
// and locations).
func Control() fs.FS { return sub("control") }

// Tenant returns the migrations every tenant database receives.
func Tenant() fs.FS { return sub("tenant") }

func sub(dir string) fs.FS {
	f, err := fs.Sub(files, dir)
	if err != nil {
		panic("migrations: " + err.Error()) // the directory is embedded; this cannot fail
	}
	return f
}
