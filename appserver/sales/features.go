package sales

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/tenantgate/tenantgate/appserver/httpapi"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// featurePaths gates routes by feature (SPEC §13): the API routes and the
// pages under each prefix exist only for tenants with the feature on. A
// disabled feature's pages leave the navigation (web/layout.html) and its
// routes answer 403 feature_disabled, as JSON on /api and as a page
// elsewhere. Invoices keep showing and choosing locations: the locations
// feature is the locations page and API, not the data.
var featurePaths = []struct{ prefix, feature string }{
	{"/api/expenses", tenantstore.FeatureExpenses},
	{"/expenses", tenantstore.FeatureExpenses},
	{"/api/reports", tenantstore.FeatureReports},
	{"/reports", tenantstore.FeatureReports}, // and /reports.csv
	{"/api/locations", tenantstore.FeatureLocations},
	{"/locations", tenantstore.FeatureLocations},
}

// featureOf returns the feature that gates path, or "".
func featureOf(path string) string {
	for _, fp := range featurePaths {
		if rest, ok := strings.CutPrefix(path, fp.prefix); ok && (rest == "" || rest[0] == '/' || rest[0] == '.') {
			return fp.feature
		}
	}
	return ""
}

// errFeatureDisabled is the refusal of a route whose feature is off.
func errFeatureDisabled(feature string) error {
	return &httpapi.Error{Status: http.StatusForbidden, Code: "feature_disabled",
		Message: fmt.Sprintf("the %s feature is not enabled for this organization", feature)}
}

// featureCheck returns errFeatureDisabled when r's path belongs to a
// feature the request's tenant does not have, evaluated through OpenFeature.
func (s *Server) featureCheck(r *http.Request) error {
	if f := featureOf(r.URL.Path); f != "" && !s.flags.Enabled(r.Context(), f) {
		return errFeatureDisabled(f)
	}
	return nil
}

// requireFeature is the API's gate (after the session: a caller without
// one learns nothing about the tenant's features).
func (s *Server) requireFeature(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.featureCheck(r); err != nil {
			s.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// features evaluates every known feature for the request's tenant, for the
// navigation.
func (s *Server) features(r *http.Request) map[string]bool {
	out := make(map[string]bool, len(tenantstore.KnownFeatures))
	for _, f := range tenantstore.KnownFeatures {
		out[f] = s.flags.Enabled(r.Context(), f)
	}
	return out
}
