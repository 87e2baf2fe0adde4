package admin

import (
	"net/http"
)

// openAPIDocument is the admin API's OpenAPI 3 document, written by hand
// (web/openapi.json) and kept true by TestOpenAPIDocumentsEveryRoute.
var openAPIDocument = func() []byte {
	b, err := web.ReadFile("web/openapi.json")
	if err != nil {
		panic(err)
	}
	return b
}()

// serveOpenAPI answers GET /api/openapi.json (no token needed: it holds no
// secret and tells clients how to authenticate).
func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	if r.Method != http.MethodHead {
		_, _ = w.Write(openAPIDocument)
	}
}
