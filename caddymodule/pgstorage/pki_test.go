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
