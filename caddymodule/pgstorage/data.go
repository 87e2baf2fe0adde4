package pgstorage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/jackc/pgx/v5"
)

// Keys are certmagic's slash-separated paths. A "directory" is any prefix of
// existing keys ending at a slash; it exists while a key lies under it.

// cleanKey trims the slashes certmagic never puts at either end, so "a/b/"
// and "a/b" name the same key or directory.
func cleanKey(key string) string { return strings.Trim(key, "/") }

// under returns the half-open range [lo, hi) of keys below directory dir:
// "dir/" ≤ key < "dir0", '0' being the byte after '/'. The column's "C"
// collation compares bytes, so the range is one primary-key index scan.
func under(dir string) (lo, hi string) { return dir + "/", dir + "0" }

func (b *backend) store(ctx context.Context, key string, value []byte) error {
	ops.Add("store", 1)
	key = cleanKey(key)
	if key == "" {
		return errors.New("storing: empty key")
	}
	if err := b.ensureSchema(ctx); err != nil {
		return fmt.Errorf("storing %q: %w", key, err)
	}
	sealed, keyID, err := b.keys.seal(key, value)
	if err != nil {
		return fmt.Errorf("storing %q: %w", key, err)
	}
	_, err = b.pool.Exec(ctx, `
		INSERT INTO cert_storage (key, value, key_id, size, modified)
		VALUES ($1, $2, $3, $4, now())
		ON CONFLICT (key) DO UPDATE
		SET value = EXCLUDED.value, key_id = EXCLUDED.key_id, size = EXCLUDED.size, modified = EXCLUDED.modified`,
		key, sealed, keyID, int64(len(value)))
	if err != nil {
		return fmt.Errorf("storing %q: %w", key, err)
	}
	b.pkiStored(key)
	return nil
}

func (b *backend) load(ctx context.Context, key string) ([]byte, error) {
	ops.Add("load", 1)
	key = cleanKey(key)
	if err := b.ensureSchema(ctx); err != nil {
		return nil, fmt.Errorf("loading %q: %w", key, err)
	}
	var (
		value []byte
		keyID string
	)
	err := b.pool.QueryRow(ctx, `SELECT value, key_id FROM cert_storage WHERE key = $1`, key).Scan(&value, &keyID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("loading %q: %w", key, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("loading %q: %w", key, err)
	}
	plain, err := b.keys.open(key, value, keyID)
	if err != nil {
		return nil, fmt.Errorf("loading %q: %w", key, err)
	}
	return plain, nil
}

func (b *backend) delete(ctx context.Context, key string) error {
	ops.Add("delete", 1)
	key = cleanKey(key)
	if key == "" {
		// certmagic never deletes the root; refuse rather than empty the table.
		return errors.New("deleting: empty key")
	}
	if err := b.ensureSchema(ctx); err != nil {
		return fmt.Errorf("deleting %q: %w", key, err)
	}
	lo, hi := under(key)
	if _, err := b.pool.Exec(ctx, `DELETE FROM cert_storage WHERE key = $1 OR (key >= $2 AND key < $3)`, key, lo, hi); err != nil {
		return fmt.Errorf("deleting %q: %w", key, err)
	}
	return nil
}

func (b *backend) exists(ctx context.Context, key string) bool {
	ops.Add("exists", 1)
	key = cleanKey(key)
	if err := b.ensureSchema(ctx); err != nil {
		return false
	}
	var found bool
	var err error
	if key == "" {
		err = b.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM cert_storage)`).Scan(&found)
	} else {
		lo, hi := under(key)
		err = b.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM cert_storage WHERE key = $1 OR (key >= $2 AND key < $3))`, key, lo, hi).Scan(&found)
	}
	return err == nil && found
}

func (b *backend) stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	ops.Add("stat", 1)
	key = cleanKey(key)
	if err := b.ensureSchema(ctx); err != nil {
		return certmagic.KeyInfo{}, fmt.Errorf("stat %q: %w", key, err)
	}
	info := certmagic.KeyInfo{Key: key}
	err := b.pool.QueryRow(ctx, `SELECT size, modified FROM cert_storage WHERE key = $1`, key).Scan(&info.Size, &info.Modified)
	if err == nil {
		info.IsTerminal = true
		return info, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return certmagic.KeyInfo{}, fmt.Errorf("stat %q: %w", key, err)
	}
	// Not a key: a directory if keys lie under it. Its modification time is
	// that of its newest key, as a file system's directory would report at
	// least.
	var (
		modified *time.Time
		n        int64
	)
	q, args := `SELECT max(modified), count(*) FROM cert_storage`, []any{}
	if key != "" {
		lo, hi := under(key)
		q, args = q+` WHERE key >= $1 AND key < $2`, []any{lo, hi}
	}
	if err := b.pool.QueryRow(ctx, q, args...).Scan(&modified, &n); err != nil {
		return certmagic.KeyInfo{}, fmt.Errorf("stat %q: %w", key, err)
	}
	if n == 0 {
		return certmagic.KeyInfo{}, fmt.Errorf("stat %q: %w", key, fs.ErrNotExist)
	}
	info.Modified = *modified
	return info, nil
}

// list returns the keys under dir: with recursive, every key and every
// directory below it; without, only its direct children (keys and
// directories). Like certmagic's FileStorage, a dir with nothing under it is
// fs.ErrNotExist unless it is itself a key, whose listing is empty.
func (b *backend) list(ctx context.Context, dir string, recursive bool) ([]string, error) {
	ops.Add("list", 1)
	dir = cleanKey(dir)
	if err := b.ensureSchema(ctx); err != nil {
		return nil, fmt.Errorf("listing %q: %w", dir, err)
	}
	q, args := `SELECT key FROM cert_storage ORDER BY key`, []any{}
	prefix := ""
	if dir != "" {
		lo, hi := under(dir)
		prefix = lo
		q, args = `SELECT key FROM cert_storage WHERE key >= $1 AND key < $2 ORDER BY key`, []any{lo, hi}
	}
	rows, err := b.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("listing %q: %w", dir, err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("listing %q: %w", dir, err)
	}
	if len(keys) == 0 {
		if dir != "" && b.isKey(ctx, dir) {
			return nil, nil
		}
		return nil, fmt.Errorf("listing %q: %w", dir, fs.ErrNotExist)
	}
	seen := make(map[string]bool)
	var out []string
	add := func(rel string) {
		full := path.Join(dir, rel)
		if !seen[full] {
			seen[full] = true
			out = append(out, full)
		}
	}
	for _, k := range keys {
		rel := strings.TrimPrefix(k, prefix)
		if !recursive {
			first, _, _ := strings.Cut(rel, "/")
			add(first)
			continue
		}
		// Every directory on the way down, then the key itself.
		for i := 0; i < len(rel); i++ {
			if rel[i] == '/' {
				add(rel[:i])
			}
		}
		add(rel)
	}
	return out, nil
}

func (b *backend) isKey(ctx context.Context, key string) bool {
	var found bool
	err := b.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM cert_storage WHERE key = $1)`, key).Scan(&found)
	return err == nil && found
}
