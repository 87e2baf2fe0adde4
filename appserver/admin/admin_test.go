package admin

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"github.com/tenantgate/tenantgate/appserver/httpapi"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// TestAdminRoutesRequireToken walks every /api route of the admin router
// and checks it answers 401 unauthorized without a token, with a wrong one
// and with a token of another scheme.
func TestAdminRoutesRequireToken(t *testing.T) {
	r := routerForDoc(t)
	sample := strings.NewReplacer("{subdomain}", "acme", "{code}", "main", "{hostname}", "shop.example.com", "{id}", "00000000-0000-0000-0000-000000000000", "{name}", "second")
	var routes [][2]string
	_ = r.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tpl, err1 := route.GetPathTemplate()
		methods, err2 := route.GetMethods()
		if err1 != nil || err2 != nil || !strings.HasPrefix(tpl, "/api/") || tpl == "/api/openapi.json" || tpl == "/api/docs" { // the document and its page are public
			return nil
		}
		for _, m := range methods {
			routes = append(routes, [2]string{m, sample.Replace(tpl)})
		}
		return nil
	})
	routes = append(routes, [2]string{http.MethodGet, "/api/no-such-route"})
	if len(routes) < 16 {
		t.Fatalf("walked %d admin API routes, want all of them", len(routes))
	}
	for _, rt := range routes {
		for name, auth := range map[string]string{"none": "", "wrong": "Bearer not-the-token", "basic": "Basic dDp0"} {
			t.Run(rt[0]+" "+rt[1]+" "+name, func(t *testing.T) {
				req := httptest.NewRequest(rt[0], rt[1], strings.NewReader(`{}`))
				if auth != "" {
					req.Header.Set("Authorization", auth)
				}
				rec := httptest.NewRecorder()
				r.ServeHTTP(rec, req)
				var body struct{ Error httpapi.Error }
				_ = json.Unmarshal(rec.Body.Bytes(), &body)
				if rec.Code != http.StatusUnauthorized || body.Error.Code != "unauthorized" {
					t.Errorf("%s %s (auth %s) = %d %q, want 401 unauthorized", rt[0], rt[1], name, rec.Code, body.Error.Code)
				}
			})
		}
	}
}

func TestValidToken(t *testing.T) {
	m, _ := tenantstore.NewManager(tenantstore.ManagerConfig{Store: new(tenantstore.Store)})
	a, err := New(Config{Manager: m, Tokens: []string{" first ", "second"}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for tok, want := range map[string]bool{"first": true, "second": true, "": false, "firs": false, "first ": false, "secondx": false} {
		if got := a.validToken(tok); got != want {
			t.Errorf("validToken(%q) = %v, want %v", tok, got, want)
		}
	}
	if _, err := New(Config{Manager: m, Tokens: []string{" ", ""}}); err == nil {
		t.Errorf("New(no tokens) error = nil, want an error")
	}
}
