package pgstorage

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"slices"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
)

// tree is what the semantics tests store, laid out like certmagic's own
// keys, with a sibling whose name extends a directory's ("example.com" vs
// "example.com.evil") to catch prefix matching without the slash.
var tree = []string{
	"acme/ca/users/a@x/a@x.json",
	"acme/ca/users/a@x/a@x.key",
	"certificates/ca/example.com/example.com.crt",
	"certificates/ca/example.com/example.com.json",
	"certificates/ca/example.com/example.com.key",
	"certificates/ca/example.com.evil/example.com.evil.crt",
	"certificates/ca2/b.test/b.test.crt",
	"last_clean.json",
}

// both returns the PostgreSQL storage under test and certmagic's own
// FileStorage, the reference, filled with the same tree.
func both(t *testing.T) (certmagic.Storage, certmagic.Storage) {
	t.Helper()
	pg := &Storage{b: open(t, newDB(t), "", time.Second, time.Second)}
	file := &certmagic.FileStorage{Path: t.TempDir()}
	ctx := ctxT(t)
	for _, k := range tree {
		for _, s := range []certmagic.Storage{pg, file} {
			if err := s.Store(ctx, k, []byte("value of "+k)); err != nil {
				t.Fatalf("Store(%q) = %v", k, err)
			}
		}
	}
	return pg, file
}

func TestLoadStore(t *testing.T) {
	pg, _ := both(t)
	ctx := ctxT(t)
	got, err := pg.Load(ctx, "last_clean.json")
	if err != nil || string(got) != "value of last_clean.json" {
		t.Fatalf("Load(last_clean.json) = %q, %v; want its value", got, err)
	}
	if err := pg.Store(ctx, "last_clean.json", []byte("second")); err != nil {
		t.Fatal(err)
	}
	if got, _ := pg.Load(ctx, "last_clean.json"); string(got) != "second" {
		t.Errorf("Load after overwrite = %q, want second", got)
	}
	for _, k := range []string{"missing", "certificates", "certificates/ca/example.com", "certificates/ca/example"} {
		if _, err := pg.Load(ctx, k); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Load(%q) error = %v, want fs.ErrNotExist", k, err)
		}
	}
	big := bytes.Repeat([]byte{0, 1, 2, 255}, 1<<18) // 1 MiB of binary
	if err := pg.Store(ctx, "bin", big); err != nil {
		t.Fatal(err)
	}
	if got, err := pg.Load(ctx, "bin"); err != nil || !bytes.Equal(got, big) {
		t.Errorf("Load(bin) returned %d bytes, %v; want the 1 MiB stored", len(got), err)
	}
	if err := pg.Store(ctx, "", []byte("x")); err == nil {
		t.Error("Store with an empty key succeeded")
	}
}

// TestMatchesFileStorage compares List, Exists and Stat with certmagic's
// FileStorage on the same tree.
func TestMatchesFileStorage(t *testing.T) {
	pg, file := both(t)
	ctx := ctxT(t)
	for _, dir := range []string{"", "certificates", "certificates/ca", "certificates/ca/example.com", "acme", "certificates/ca/example.com/example.com.crt", "nothing", "certificates/c"} {
		for _, rec := range []bool{false, true} {
			want, wantErr := file.List(ctx, dir, rec)
			got, err := pg.List(ctx, dir, rec)
			slices.Sort(want)
			slices.Sort(got)
			if errors.Is(wantErr, fs.ErrNotExist) != errors.Is(err, fs.ErrNotExist) || (wantErr == nil) != (err == nil) {
				t.Errorf("List(%q, %v) error = %v, FileStorage: %v", dir, rec, err, wantErr)
				continue
			}
			if dir == "" {
				// FileStorage lists its root with absolute-looking names; compare
				// the set of top-level names instead.
				continue
			}
			if !slices.Equal(got, want) {
				t.Errorf("List(%q, %v) = %q, FileStorage: %q", dir, rec, got, want)
			}
		}
	}
	if got, _ := pg.List(ctx, "", false); !slices.Equal(got, []string{"acme", "certificates", "last_clean.json"}) {
		t.Errorf(`List("", false) = %q, want [acme certificates last_clean.json]`, got)
	}
	for _, k := range []string{"acme", "certificates/ca/example.com", "certificates/ca/example.com/example.com.key", "certificates/ca/example", "certificates/c", "nothing", "certificates/ca/example.com/"} {
		if got, want := pg.Exists(ctx, k), file.Exists(ctx, k); got != want {
			t.Errorf("Exists(%q) = %v, FileStorage: %v", k, got, want)
		}
	}
	for _, k := range []string{"certificates/ca/example.com", "certificates/ca/example.com/example.com.key", "certificates/c", "missing"} {
		got, err := pg.Stat(ctx, k)
		want, wantErr := file.Stat(ctx, k)
		if errors.Is(err, fs.ErrNotExist) != errors.Is(wantErr, fs.ErrNotExist) {
			t.Errorf("Stat(%q) error = %v, FileStorage: %v", k, err, wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if got.Key != k || got.IsTerminal != want.IsTerminal || (got.IsTerminal && got.Size != want.Size) {
			t.Errorf("Stat(%q) = %+v, FileStorage: %+v", k, got, want)
		}
		if time.Since(got.Modified) > time.Minute || got.Modified.After(time.Now().Add(time.Minute)) {
			t.Errorf("Stat(%q).Modified = %v, want about now", k, got.Modified)
		}
	}
}

func TestDelete(t *testing.T) {
	pg, file := both(t)
	ctx := ctxT(t)
	steps := []string{
		"certificates/ca/example.com", // a directory: its keys go, the .evil sibling stays
		"certificates/ca/example.com", // again: already gone is not an error
		"acme/ca/users/a@x/a@x.key",   // one key
		"nothing/at/all",
		"certificates/ca2/", // trailing slash names the directory
	}
	for _, k := range steps {
		if err := pg.Delete(ctx, k); err != nil {
			t.Fatalf("Delete(%q) = %v", k, err)
		}
		if err := file.Delete(ctx, k); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("FileStorage.Delete(%q) = %v", k, err)
		}
		got, _ := pg.List(ctx, "certificates", true)
		want, _ := file.List(ctx, "certificates", true)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("after Delete(%q): List(certificates, true) = %q, FileStorage: %q", k, got, want)
		}
	}
	if !pg.Exists(ctx, "certificates/ca/example.com.evil/example.com.evil.crt") {
		t.Error("Delete of a directory removed a sibling whose name extends it")
	}
	if pg.Exists(ctx, "acme/ca/users/a@x/a@x.key") || !pg.Exists(ctx, "acme/ca/users/a@x/a@x.json") {
		t.Error("Delete of one key did not remove exactly that key")
	}
	if err := pg.Delete(ctx, ""); err == nil {
		t.Error("Delete of the root succeeded; want a refusal")
	}
}

// TestNotReadyThenReady: an operation against a database that does not
// answer fails with an error, not a panic or a hang past its context.
func TestUnreachableDatabase(t *testing.T) {
	b := open(t, "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=1", "", time.Second, time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := b.load(ctx, "x"); err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Errorf("load with the database down = %v, want an error that is not fs.ErrNotExist", err)
	}
	if b.exists(ctx, "x") {
		t.Error("exists with the database down = true")
	}
}
