package admin

import (
	"html/template"
	"io/fs"
	"path"
	"strings"

	"github.com/tenantgate/tenantgate/appserver/webpage"
)

// withSections parses each dir/<page>_<section>.html of fsys into the
// page's template (the file defines "<page>_<section>", which the page
// calls) and removes it from the set, where MustParse made it a page of its
// own. The tenant page is built of such sections (issue 17).
func withSections(set webpage.Set, fsys fs.FS, dir, page string) webpage.Set {
	files, err := fs.Glob(fsys, dir+"/"+page+"_*.html")
	if err != nil {
		panic(err)
	}
	for _, f := range files {
		set[page] = template.Must(set[page].ParseFS(fsys, f))
		delete(set, strings.TrimSuffix(path.Base(f), ".html"))
	}
	return set
}
