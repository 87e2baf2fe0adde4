package tenantops

import (
	"context"
	"time"
)

// SameDatabase exposes sameDatabase to the external tests, which live in
// tenantops_test because they drive the real appserver (which imports this
// package).
var SameDatabase = sameDatabase

// SignManifest signs m with the Ops' current manifest key, as Backup does.
func (o *Ops) SignManifest(m *Manifest) error { return signManifest(o.cfg.ManifestKeys, m) }

// SetClock replaces the clock that names backup files and databases.
func (o *Ops) SetClock(now func() time.Time) { o.cfg.Now = now }

// SetPgDump replaces the pg_dump program.
func (o *Ops) SetPgDump(path string) { o.cfg.PgDump = path }

// Insert records a job without running it, as a process that died would
// have left it.
func (j *Jobs) Insert(ctx context.Context, kind, tenant string) (Job, error) {
	return j.insert(ctx, kind, tenant)
}
