package pgstorage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"testing"
	"time"
)

// TestInternalCAGeneratedOnce replays what Caddy's internal CA does at
// start (load the root; when missing, generate and store certificate then
// key; then the same for the intermediate) on three edges at once, with
// generation slow enough that without the guard every edge would generate
// its own: edges chaining to different roots, or an intermediate
// certificate stored beside another edge's key, with which no edge can
// sign.
func TestInternalCAGeneratedOnce(t *testing.T) {
	for _, cert := range []string{"root.crt", "intermediate.crt"} {
		t.Run(cert, func(t *testing.T) {
			url := newDB(t)
			crt, key := "pki/authorities/local/"+cert, "pki/authorities/local/"+pkiKeyOf[cert]
			var wg sync.WaitGroup
			certs := make([]string, 3)
			for i := range certs {
				s := &Storage{b: open(t, url, "", 2*time.Second, 50*time.Millisecond)}
				wg.Add(1)
				go func() {
					defer wg.Done()
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					v, err := s.Load(ctx, crt)
					if errors.Is(err, fs.ErrNotExist) {
						time.Sleep(300 * time.Millisecond) // generating
						mine := fmt.Sprintf("%s of edge %d", cert, i)
						if err := s.Store(ctx, crt, []byte(mine)); err != nil {
							t.Error(err)
							return
						}
						if err := s.Store(ctx, key, []byte("key of "+mine)); err != nil {
							t.Error(err)
							return
						}
						v, err = []byte(mine), nil
					}
					if err != nil {
						t.Error(err)
						return
					}
					certs[i] = string(v)
				}()
			}
			wg.Wait()
			if certs[0] == "" || certs[0] != certs[1] || certs[1] != certs[2] {
				t.Errorf("edges ended with %q, want one certificate", certs)
			}
			s := &Storage{b: open(t, url, "", 2*time.Second, 50*time.Millisecond)}
			storedCert, err := s.Load(context.Background(), crt)
			if err != nil {
				t.Fatal(err)
			}
			storedKey, err := s.Load(context.Background(), key)
			if err != nil {
				t.Fatal(err)
			}
			if string(storedKey) != "key of "+string(storedCert) {
				t.Errorf("stored %s = %q beside %s = %q: the key is not the certificate's", cert, storedCert, pkiKeyOf[cert], storedKey)
			}
			// The guard is released: the lock can be taken again.
			if ok, err := s.TryLock(context.Background(), pkiGuardLock("local", cert)); !ok || err != nil {
				t.Errorf("guard lock still held after the key was stored: %v, %v", ok, err)
			}
		})
	}
}

// TestInternalCAKeyWaitsForItsCertificatesWriter covers the edge that
// arrives between another edge's two writes: it finds the certificate, then
// asks for the key, which is not stored yet. Caddy fails its start on that
// ("loading root key: file does not exist"); the load must instead wait
// until the generating edge has stored the key, and return it.
func TestInternalCAKeyWaitsForItsCertificatesWriter(t *testing.T) {
	url := newDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	crt, key := "pki/authorities/local/root.crt", "pki/authorities/local/root.key"
	gen := &Storage{b: open(t, url, "", 2*time.Second, 50*time.Millisecond)}
	late := &Storage{b: open(t, url, "", 2*time.Second, 50*time.Millisecond)}

	if _, err := gen.Load(ctx, crt); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("first load of the root: %v, want not exist", err)
	}
	if err := gen.Store(ctx, crt, []byte("root")); err != nil {
		t.Fatal(err)
	}
	if v, err := late.Load(ctx, crt); err != nil || string(v) != "root" {
		t.Fatalf("late edge loading the root certificate: %q, %v", v, err)
	}
	got := make(chan error, 1)
	go func() {
		v, err := late.Load(ctx, key)
		if err == nil && string(v) != "key of root" {
			err = fmt.Errorf("loaded %q", v)
		}
		got <- err
	}()
	time.Sleep(300 * time.Millisecond) // the generating edge is still writing
	if err := gen.Store(ctx, key, []byte("key of root")); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Errorf("late edge loading the root key: %v, want the key stored after the certificate", err)
	}
}
