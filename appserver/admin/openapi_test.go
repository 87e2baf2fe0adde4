package admin

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"github.com/tenantgate/tenantgate/tenantstore"
)

type openAPIDoc struct {
	OpenAPI string                                `json:"openapi"`
	Paths   map[string]map[string]json.RawMessage `json:"paths"`
}

// routerForDoc is the admin router as Routes builds it, over a Manager that
// is never called.
func routerForDoc(t *testing.T) *mux.Router {
	t.Helper()
	m, err := tenantstore.NewManager(tenantstore.ManagerConfig{Store: new(tenantstore.Store)})
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Config{Manager: m, Tokens: []string{"t"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	r := mux.NewRouter()
	a.Routes(r)
	return r
}

func loadDoc(t *testing.T) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatalf("web/openapi.json is not JSON: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi = %q, want 3.x", doc.OpenAPI)
	}
	return doc
}

// undocumented walks r and returns every route ("METHOD /path") the
// document lacks, and how many routes it walked.
func undocumented(t *testing.T, doc openAPIDoc, r *mux.Router) (missing []string, walked int) {
	t.Helper()
	err := r.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tpl, err := route.GetPathTemplate()
		if err != nil {
			return nil // a matcher without a path
		}
		methods, err := route.GetMethods()
		if err != nil {
			return nil // a subrouter's prefix, not an endpoint
		}
		for _, m := range methods {
			if m == http.MethodHead {
				continue
			}
			walked++
			if _, ok := doc.Paths[tpl][strings.ToLower(m)]; !ok {
				missing = append(missing, m+" "+tpl)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return missing, walked
}

// TestOpenAPIDocumentsEveryRoute walks the admin router and fails for any
// route (path and method) the document lacks, so the document cannot fall
// behind the code.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	doc := loadDoc(t)
	r := routerForDoc(t)
	missing, walked := undocumented(t, doc, r)
	for _, m := range missing {
		t.Errorf("route %s is missing from web/openapi.json", m)
	}
	if walked < 20 {
		t.Errorf("walked %d routes, want the whole admin API (≥ 20)", walked)
	}
	// The check itself catches a new route.
	r.Handle("/api/tenants/{subdomain}/undocumented", http.NotFoundHandler()).Methods(http.MethodPut)
	if missing, _ := undocumented(t, doc, r); !slices.Contains(missing, "PUT /api/tenants/{subdomain}/undocumented") {
		t.Errorf("undocumented(router with a new route) = %v, want the new route reported", missing)
	}
}

// TestOpenAPIReferencesResolve checks every $ref names a schema that exists.
func TestOpenAPIReferencesResolve(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatal(err)
	}
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				name, found := strings.CutPrefix(ref, "#/components/schemas/")
				if _, ok := schemas[name]; !found || !ok {
					t.Errorf("$ref %q does not resolve", ref)
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			slices.Values(v)(func(x any) bool { walk(x); return true })
		}
	}
	walk(doc)
}

func TestOpenAPIServedWithoutToken(t *testing.T) {
	r := routerForDoc(t)
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/openapi.json", nil))
	if rec.Code != http.StatusOK || !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("GET /api/openapi.json = %d (valid JSON %v), want 200 with JSON", rec.Code, json.Valid(rec.Body.Bytes()))
	}
	rec = httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/tenants", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("GET /api/tenants without a token = %d, want 401", rec.Code)
	}
}
