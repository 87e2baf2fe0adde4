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
// two; then the same for its intermediate. Edges started together on empty
// storage would each generate a root, keep their own in memory, and issue
// certificates that chain to different roots; or interleave their stores so
// that intermediate.crt of one edge sits beside intermediate.key of another,
// and no edge can sign ("provided PrivateKey doesn't match parent's
// PublicKey"). The storage closes that race: a Load that finds no root (or
// intermediate) certificate takes a lock for that CA and file, looks again,
// and if it is still missing returns fs.ErrNotExist while keeping the lock,
// so only this edge generates; the lock is released when the matching key
// is stored (the last of the two writes), or after pkiGuardTimeout if
// generation failed. Other edges wait in their Load and then find what was
// stored.

// pkiGuardTimeout releases a guard whose edge never stored the key.
const pkiGuardTimeout = time.Minute

const pkiPrefix = "pki/authorities/"

// pkiKeyOf maps each certificate file the CA generates to the key file it
// stores after it.
var pkiKeyOf = map[string]string{"root.crt": "root.key", "intermediate.crt": "intermediate.key"}

// pkiFile splits a key "pki/authorities/<id>/<file>" into the CA id and the
// file name.
func pkiFile(key string) (id, file string, ok bool) {
	rest, ok := strings.CutPrefix(key, pkiPrefix)
	if !ok {
		return "", "", false
	}
	id, file, ok = strings.Cut(rest, "/")
	return id, file, ok && id != "" && !strings.Contains(file, "/")
}

// pkiGuardLock names the guard of certificate file cert ("root.crt",
// "intermediate.crt") of CA id.
func pkiGuardLock(id, cert string) string {
	return "pki_" + strings.TrimSuffix(cert, ".crt") + "_" + id
}

// loadGuarded is load with the guard above for the CA's certificates.
func (b *backend) loadGuarded(ctx context.Context, key string) ([]byte, error) {
	v, err := b.load(ctx, key)
	id, file, isPKI := pkiFile(cleanKey(key))
	if !isPKI || !errors.Is(err, fs.ErrNotExist) {
		return v, err
	}
	if cert, isKey := pkiCertOf(file); isKey {
		return b.loadKeyAfterGuard(ctx, key, pkiGuardLock(id, cert))
	}
	if _, isCert := pkiKeyOf[file]; !isCert {
		return v, err
	}
	name := pkiGuardLock(id, file)
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
	b.logger.Info("generating an internal CA certificate; other edges wait for it", zap.String("ca", id), zap.String("file", file))
	return v, err
}

// pkiCertOf returns the certificate file stored before key file file
// ("root.key" → "root.crt").
func pkiCertOf(file string) (string, bool) {
	for cert, k := range pkiKeyOf {
		if k == file {
			return cert, true
		}
	}
	return "", false
}

// loadKeyAfterGuard loads a CA key that was missing: another edge may have
// stored its certificate and not yet its key, while holding guard. Waiting
// for the guard (lock, then unlock) lets that edge finish both writes; the
// key is then loaded again. This edge never waits on its own guard.
func (b *backend) loadKeyAfterGuard(ctx context.Context, key, guard string) ([]byte, error) {
	b.mu.Lock()
	_, mine := b.pkiGuards[guard]
	b.mu.Unlock()
	if mine {
		return nil, fs.ErrNotExist
	}
	if err := b.lock(ctx, guard); err != nil {
		return nil, err
	}
	if err := b.unlock(context.WithoutCancel(ctx), guard); err != nil {
		b.logger.Warn("releasing internal CA guard", zap.String("lock", guard), zap.Error(err))
	}
	return b.load(ctx, key)
}

// pkiStored releases a guard once the key stored after its certificate is.
func (b *backend) pkiStored(key string) {
	id, file, ok := pkiFile(key)
	if !ok {
		return
	}
	for cert, k := range pkiKeyOf {
		if k == file {
			b.releasePKIGuard(pkiGuardLock(id, cert))
		}
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
