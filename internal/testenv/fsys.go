package testenv

import (
	"io/fs"
	"testing/fstest"
)

// CopyFS returns a writable copy of the files of fsys (such as
// migrations.Tenant()), so a test or bench can add a migration to the real
// ones without any binary having a switch to read other SQL.
func CopyFS(fsys fs.FS) (fstest.MapFS, error) {
	out := fstest.MapFS{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		out[p] = &fstest.MapFile{Data: b}
		return err
	})
	return out, err
}
