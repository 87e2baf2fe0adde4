package admin

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"github.com/tenantgate/tenantgate/appserver/httpapi"
	"github.com/tenantgate/tenantgate/appserver/webpage"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// The tenant page's plan section (web/tenant_plan.html): the plan, each
// feature (effective, the plan's, the tenant's setting) with a form to
// change them, and the limits (own, plan's, applied).

// planSection is the data of the section.
type planSection struct {
	Plans    []string
	Features []featureRow
	Limits   []limitRow
}

type featureRow struct {
	Name       string
	On, PlanOn bool
	Setting    string // "default", "on" or "off"
}

type limitRow struct{ Name, Own, Plan, Applied string }

func (a *Server) planSectionRoutes(r *mux.Router) {
	r.Handle("/tenants/{subdomain}/plan", a.form(a.planSubmit)).Methods(http.MethodPost)
	r.Handle("/tenants/{subdomain}/features", a.form(a.featuresSubmit)).Methods(http.MethodPost)
}

// loadPlanSection reads what the section shows of t.
func (a *Server) loadPlanSection(ctx context.Context, t *tenantstore.Tenant) (*planSection, error) {
	plans, err := a.m.ListPlans(ctx)
	if err != nil {
		return nil, err
	}
	s := &planSection{}
	var plan *tenantstore.Plan
	for _, p := range plans {
		s.Plans = append(s.Plans, p.Name)
		if p.Name == t.Plan {
			plan = p
		}
	}
	planFeatures := map[string]bool{}
	if plan != nil {
		planFeatures = tenantstore.EffectiveFeatures(plan.Features, nil)
	}
	for _, f := range tenantstore.KnownFeatures {
		row := featureRow{Name: f, On: t.FeatureEnabled(f), PlanOn: planFeatures[f], Setting: "default"}
		if on, ok := t.FeatureOverrides[f]; ok {
			row.Setting = map[bool]string{true: "on", false: "off"}[on]
		}
		s.Features = append(s.Features, row)
	}
	eff := t.EffectiveLimits()
	rate := func(v *float64) string {
		if v == nil {
			return "edge default"
		}
		return strconv.FormatFloat(*v, 'g', -1, 64) + "/s"
	}
	count := func(v *int) string {
		if v == nil {
			return "edge default"
		}
		return strconv.Itoa(*v)
	}
	s.Limits = []limitRow{
		{"Rate", rate(t.Limits.RatePerSecond), rate(t.PlanLimits.RatePerSecond), rate(eff.RatePerSecond)},
		{"Burst", count(t.Limits.Burst), count(t.PlanLimits.Burst), count(eff.Burst)},
		{"In flight", count(t.Limits.MaxInFlight), count(t.PlanLimits.MaxInFlight), count(eff.MaxInFlight)},
		{"Users", ownUsers(t), strconv.Itoa(t.MaxUsers), strconv.Itoa(t.MaxUsers)},
	}
	if t.OwnMaxUsers != nil && plan != nil {
		s.Limits[3].Plan = strconv.Itoa(plan.MaxUsers)
	}
	return s, nil
}

func ownUsers(t *tenantstore.Tenant) string {
	if t.OwnMaxUsers == nil {
		return "plan's"
	}
	return strconv.Itoa(*t.OwnMaxUsers)
}

// planSubmit moves the tenant to the posted plan.
func (a *Server) planSubmit(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	sub := mux.Vars(r)["subdomain"]
	d.Form = webpage.FormValues(r, "plan")
	plan := d.Form["plan"]
	t, err := a.m.Update(r.Context(), sub, tenantstore.Patch{Plan: &plan})
	if err != nil {
		return a.actionError(w, r, d, sub, err, nil)
	}
	a.redirectWith(w, r, tenantURL(t.Subdomain), fmt.Sprintf("%s is now on plan %s.", t.Name, t.Plan), false)
	return nil
}

// featuresSubmit sets every feature's override from the form: "default"
// (the plan's), "on" or "off"; a feature missing from the form is left.
func (a *Server) featuresSubmit(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	sub := mux.Vars(r)["subdomain"]
	p := tenantstore.FeaturePatch{}
	for _, f := range tenantstore.KnownFeatures {
		switch v := r.PostForm.Get("feature_" + f); v {
		case "":
		case "default":
			p[f] = nil
		case "on", "off":
			on := v == "on"
			p[f] = &on
		default:
			return a.actionError(w, r, d, sub, httpapi.InvalidField("features."+f, "must be default, on or off"), nil)
		}
	}
	t, err := a.m.Update(r.Context(), sub, tenantstore.Patch{Features: p})
	if err != nil {
		return a.actionError(w, r, d, sub, err, nil)
	}
	a.redirectWith(w, r, tenantURL(t.Subdomain), "Saved the features of "+t.Name+".", false)
	return nil
}
