package pgstorage

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Caddy's internal CA (modules/caddypki) loads its root from storage and,
// when there is none, generates one and stores it, with no lock around the
// two. Edges started together on empty storage would each generate a root,
// keep their own in memory, and issue certificates that chain to different
// roots. The storage closes that race: a Load that finds no root
// certificate takes a lock for that CA, looks again, and if the root is
// still missing returns fs.ErrNotExist while keeping the lock, so only this
// edge generates; the lock is released when the root key is stored (the
// last of the two writes), or after pkiGuardTimeout if generation failed.
// Other edges wait in their Load and then find the stored root.

// pkiGuardTimeout releases a guard whose edge never stored a root key.
const pkiGuardTimeout = time.Minute

const pkiPrefix = "pki/authorities/"

// pkiRootCA returns the CA id when key is a CA's root certificate or root
// key ("pki/authorities/<id>/root.crt" or ".../root.key").
func pkiRootCA(key, file string) (string, bool) {
	rest, ok := strings.CutPrefix(key, pkiPrefix)
	if !ok {
		return "", false
	}
	id, f, ok := strings.Cut(rest, "/")
	return id, ok && f == file && id != ""
}

func pkiGuardLock(id string) string { return "pki_root_" + id }

// loadGuarded is load with the guard above for root certificates.
func (b *backend) loadGuarded(ctx context.Context, key string) ([]byte, error) {
	v, err := b.load(ctx, key)
	id, isRoot := pkiRootCA(cleanKey(key), "root.crt")
	if !isRoot || !errors.Is(err, fs.ErrNotExist) {
		return v, err
	}
	name := pkiGuardLock(id)
	b.mu.Lock()
	_, mine := b.pkiGuards[name]
	b.mu.Unlock()
	if mine {
		return v, err // this process is generating it already
	}
	if lerr := b.lock(ctx, name); lerr != nil {
		return nil, lerr
	}
	v, err = b.load(ctx, key)
	if !errors.Is(err, fs.ErrNotExist) {
		if uerr := b.unlock(context.WithoutCancel(ctx), name); uerr != nil {
			b.logger.Warn("releasing internal CA guard", zap.String("lock", name), zap.Error(uerr))
		}
		return v, err
	}
	b.mu.Lock()
	b.pkiGuards[name] = time.AfterFunc(pkiGuardTimeout, func() { b.releasePKIGuard(name) })
	b.mu.Unlock()
	b.logger.Info("generating the internal CA root; other edges wait for it", zap.String("ca", id))
	return v, err
}

// pkiStored releases the guard once the root key of its CA is stored.
func (b *backend) pkiStored(key string) {
	if id, ok := pkiRootCA(key, "root.key"); ok {
		b.releasePKIGuard(pkiGuardLock(id))
	}
}

func (b *backend) releasePKIGuard(name string) {
	b.mu.Lock()
	t, ok := b.pkiGuards[name]
	delete(b.pkiGuards, name)
	b.mu.Unlock()
	if !ok {
		return
	}
	t.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.unlock(ctx, name); err != nil {
		b.logger.Warn("releasing internal CA guard", zap.String("lock", name), zap.Error(err))
	}
}
