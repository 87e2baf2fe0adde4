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

// TestInternalCARootGeneratedOnce replays what Caddy's internal CA does at
// start (load the root; when missing, generate and store certificate then
// key) on three edges at once, with generation slow enough that without the
// guard every edge would generate its own root.
func TestInternalCARootGeneratedOnce(t *testing.T) {
	url := newDB(t)
	const crt, key = "pki/authorities/local/root.crt", "pki/authorities/local/root.key"
	var wg sync.WaitGroup
	roots := make([]string, 3)
	for i := range roots {
		s := &Storage{b: open(t, url, "", 2*time.Second, 50*time.Millisecond)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			v, err := s.Load(ctx, crt)
			if errors.Is(err, fs.ErrNotExist) {
				time.Sleep(300 * time.Millisecond) // generating
				mine := fmt.Sprintf("root of edge %d", i)
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
			roots[i] = string(v)
		}()
	}
	wg.Wait()
	if roots[0] == "" || roots[0] != roots[1] || roots[1] != roots[2] {
		t.Errorf("edges ended with roots %q, want one", roots)
	}
	// The guard is released: another CA's root can be generated, and the
	// lock table is empty.
	s := &Storage{b: open(t, url, "", 2*time.Second, 50*time.Millisecond)}
	if ok, err := s.TryLock(context.Background(), pkiGuardLock("local")); !ok || err != nil {
		t.Errorf("guard lock still held after the root key was stored: %v, %v", ok, err)
	}
}
