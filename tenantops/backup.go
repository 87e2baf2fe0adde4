package tenantops

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// ManifestFormat is the version of the manifest written beside each dump.
// Format 2 added MAC; format 1 manifests (unsigned) are refused.
const ManifestFormat = 2

// Suffixes of the files written beside a dump.
const (
	ChecksumSuffix = ".sha256" // "<hex>  <dump name>\n", as sha256sum writes
	ManifestSuffix = ".json"   // the Manifest
)

// ErrBadBackup means a backup file is missing, corrupt, truncated or does
// not belong to the tenant; nothing was changed.
var ErrBadBackup = errors.New("bad backup")

// Manifest describes a dump: whose it is, its checksum, and the schema
// version and row counts taken in the same snapshot as the dump, so a
// restore can prove it restored everything. MAC authenticates all of it
// (see Config.ManifestKeys), so that whoever can write to the backup
// directory cannot make a restore believe an edited manifest.
type Manifest struct {
	Format       int       `json:"format"`
	Subdomain    string    `json:"subdomain"`
	TenantID     string    `json:"tenant_id"`
	DatabaseName string    `json:"database_name"`
	CreatedAt    time.Time `json:"created_at"`
	Dump         string    `json:"dump"` // base name of the dump file
	Size         int64     `json:"size"`
	SHA256       string    `json:"sha256"`
	Contents
	// MAC is the HMAC-SHA256 (hex) of every other field, made with the
	// first of Config.ManifestKeys.
	MAC string `json:"mac"`
}

// BackupResult is what Backup wrote.
type BackupResult struct {
	File         string   `json:"file"`
	ChecksumFile string   `json:"checksum_file"`
	ManifestFile string   `json:"manifest_file"`
	SHA256       string   `json:"sha256"`
	Size         int64    `json:"size"`
	Manifest     Manifest `json:"manifest"`
}

// BackupName is the file name of a backup of sub taken at t:
// "<sub>-<UTC yyyymmddThhmmssZ>.dump".
func BackupName(sub string, t time.Time) string {
	return sub + "-" + t.UTC().Format("20060102T150405Z") + ".dump"
}

// Backup dumps the database of the tenant with subdomain sub into dir
// (created when missing) with pg_dump's custom format, as
// BackupName(sub, now), and writes its SHA-256 (ChecksumSuffix) and its
// Manifest (ManifestSuffix) beside it. Row counts and the dump come from one
// exported snapshot, so they agree even under concurrent writes. It never
// overwrites a file: when any of the three exists it fails, and on any
// failure it removes what it wrote.
func (o *Ops) Backup(ctx context.Context, sub, dir string, progress func(step string)) (*BackupResult, error) {
	if len(o.cfg.ManifestKeys) == 0 {
		return nil, fmt.Errorf("backing up tenant %q: %w", sub, ErrNoManifestKey)
	}
	pgDump, err := lookTool(o.cfg.PgDump)
	if err != nil {
		return nil, fmt.Errorf("backing up tenant %q: %w", sub, err)
	}
	t, err := o.tenant(ctx, sub)
	if err != nil {
		return nil, fmt.Errorf("backing up: %w", err)
	}
	if dir == "" {
		return nil, &tenantstore.ValidationError{Field: "output", Message: "name a directory for the backup"}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("backing up tenant %q: %w", sub, err)
	}
	path := filepath.Join(dir, BackupName(t.Subdomain, o.cfg.Now()))
	res, err := o.dump(ctx, t, pgDump, path, progress)
	if err != nil {
		return nil, fmt.Errorf("backing up tenant %q: %w", t.Subdomain, err)
	}
	return res, nil
}

// dump writes the backup of t to path (+ checksum and manifest files).
func (o *Ops) dump(ctx context.Context, t *tenantstore.Tenant, pgDump, path string, progress func(string)) (res *BackupResult, err error) {
	paths := []string{path, path + ChecksumSuffix, path + ManifestSuffix}
	files := make([]*os.File, 0, len(paths))
	defer func() {
		for i, f := range files {
			f.Close()
			if err != nil {
				os.Remove(paths[i])
			}
		}
	}()
	for _, p := range paths {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("%s already exists; refusing to overwrite it", p)
		}
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}

	report(progress, "snapshot")
	u, err := o.adminURL(t)
	if err != nil {
		return nil, err
	}
	conn, err := connect(ctx, u)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// The transaction holds the snapshot pg_dump imports; it stays open
	// until the dump is done.
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("starting the snapshot: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var snapshot string
	if err := tx.QueryRow(ctx, "SELECT pg_export_snapshot()").Scan(&snapshot); err != nil {
		return nil, fmt.Errorf("exporting the snapshot: %w", err)
	}
	contents, err := readContents(ctx, tx)
	if err != nil {
		return nil, err
	}

	report(progress, "dump")
	h := sha256.New()
	cw := &countWriter{}
	w := bufio.NewWriterSize(io.MultiWriter(files[0], h, cw), 1<<20)
	if err := runTool(ctx, pgDump, u, w, "--format=custom", "--snapshot="+snapshot); err != nil {
		return nil, fmt.Errorf("dumping database %q: %w", t.DatabaseName, err)
	}
	if err := w.Flush(); err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	if err := files[0].Sync(); err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	base := filepath.Base(path)
	if _, err := fmt.Fprintf(files[1], "%s  %s\n", sum, base); err != nil {
		return nil, fmt.Errorf("writing %s: %w", paths[1], err)
	}
	m := Manifest{Format: ManifestFormat, Subdomain: t.Subdomain, TenantID: t.ID, DatabaseName: t.DatabaseName,
		CreatedAt: o.cfg.Now().UTC(), Dump: base, Size: cw.n, SHA256: sum, Contents: contents}
	// A move's temporary dump is never verified and may go unsigned.
	if len(o.cfg.ManifestKeys) > 0 {
		if err := signManifest(o.cfg.ManifestKeys, &m); err != nil {
			return nil, err
		}
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if _, err := files[2].Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("writing %s: %w", paths[2], err)
	}
	for i, f := range files[1:] {
		if err := f.Sync(); err != nil {
			return nil, fmt.Errorf("writing %s: %w", paths[i+1], err)
		}
	}
	return &BackupResult{File: path, ChecksumFile: paths[1], ManifestFile: paths[2], SHA256: sum, Size: cw.n, Manifest: m}, nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// VerifyBackup checks the backup at file before anything is changed: its
// checksum file and manifest exist, the manifest is signed with one of
// Config.ManifestKeys, the file's SHA-256 and size match both, and
// pg_restore can read its table of contents. Any fault is an ErrBadBackup
// error saying what is wrong; without keys it is ErrNoManifestKey.
func (o *Ops) VerifyBackup(ctx context.Context, file string) (Manifest, error) {
	pgRestore, err := lookTool(o.cfg.PgRestore)
	if err != nil {
		return Manifest{}, err
	}
	return verifyBackup(ctx, pgRestore, file, o.cfg.ManifestKeys)
}

func verifyBackup(ctx context.Context, pgRestore, file string, keys [][]byte) (Manifest, error) {
	if len(keys) == 0 {
		return Manifest{}, fmt.Errorf("checking backup %s: %w", file, ErrNoManifestKey)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %s: %s; nothing was changed", ErrBadBackup, file, fmt.Sprintf(format, args...))
	}
	st, err := os.Stat(file)
	if err != nil {
		return Manifest{}, bad("%v", err)
	}
	if !st.Mode().IsRegular() {
		return Manifest{}, bad("not a regular file")
	}
	line, err := os.ReadFile(file + ChecksumSuffix)
	if err != nil {
		return Manifest{}, bad("its checksum file is unreadable (%v); a backup is the dump with its %s and %s files beside it", err, ChecksumSuffix, ManifestSuffix)
	}
	fields := strings.Fields(string(line))
	if len(fields) == 0 || len(fields[0]) != sha256.Size*2 {
		return Manifest{}, bad("its checksum file %s is not in sha256sum format", file+ChecksumSuffix)
	}
	want := strings.ToLower(fields[0])
	mb, err := os.ReadFile(file + ManifestSuffix)
	if err != nil {
		return Manifest{}, bad("its manifest is unreadable (%v)", err)
	}
	var m Manifest
	if err := json.Unmarshal(mb, &m); err != nil {
		return Manifest{}, bad("its manifest %s is not valid JSON (%v)", file+ManifestSuffix, err)
	}
	if m.Format == 1 {
		return Manifest{}, bad("its manifest %s is of format 1, written before backups were signed, so it cannot be authenticated; "+
			"restore it by hand with pg_restore if you trust it, and take a new backup", file+ManifestSuffix)
	}
	if m.Format != ManifestFormat || m.Subdomain == "" || m.Tables == nil {
		return Manifest{}, bad("its manifest %s is not a tenantgate manifest of format %d", file+ManifestSuffix, ManifestFormat)
	}
	if m.MAC == "" {
		return Manifest{}, bad("its manifest %s is not signed", file+ManifestSuffix)
	}
	if !manifestSigned(keys, m) {
		return Manifest{}, bad("the signature of its manifest %s does not verify: the manifest was edited, "+
			"or signed with a key that is no longer listed in TENANT_SIGNING_KEYS or BACKUP_KEY", file+ManifestSuffix)
	}
	if !strings.EqualFold(m.SHA256, want) {
		return Manifest{}, bad("the checksum file and the manifest disagree")
	}
	f, err := os.Open(file)
	if err != nil {
		return Manifest{}, bad("%v", err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return Manifest{}, bad("reading: %v", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want || n != m.Size {
		return Manifest{}, bad("the file is corrupt or truncated (%d bytes with SHA-256 %s; the backup had %d bytes with SHA-256 %s)", n, got, m.Size, want)
	}
	if err := runTool(ctx, pgRestore, "", nil, "--list", file); err != nil {
		return Manifest{}, bad("pg_restore cannot read it: %v", err)
	}
	return m, nil
}
