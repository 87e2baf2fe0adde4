package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// backupBeforeDelete writes a backup of t into dir and returns the file
// name. The operations code may replace it with its verified backup.
var backupBeforeDelete = pgDumpBackup

// pgDumpBackup runs pg_dump -Fc into dir/<sub>-<UTC time>.dump, with the
// password in PGPASSWORD rather than on the command line.
func pgDumpBackup(ctx context.Context, a *app, t *tenantstore.Tenant, dir string) (string, error) {
	u, err := a.mgr.DatabaseURL(t)
	if err != nil {
		return "", err
	}
	cfg, err := pgx.ParseConfig(u)
	if err != nil {
		return "", fmt.Errorf("parsing the database URL of tenant %q: %s", t.Subdomain, tenantstore.RedactURL(u))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	file := filepath.Join(dir, t.Subdomain+"-"+time.Now().UTC().Format("20060102T150405Z")+".dump")
	cmd := exec.CommandContext(ctx, "pg_dump", "-Fc", "--no-password", "-f", file,
		"-h", cfg.Host, "-p", strconv.Itoa(int(cfg.Port)), "-U", cfg.User, "-d", cfg.Database)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+cfg.Password)
	if out, err := cmd.CombinedOutput(); err != nil {
		os.Remove(file)
		return "", fmt.Errorf("pg_dump: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return file, nil
}
