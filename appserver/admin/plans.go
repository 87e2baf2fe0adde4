package admin

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/tenantgate/tenantgate/appserver/httpapi"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// planRequest is the body of POST /api/plans and PATCH /api/plans/{name}
// (SPEC §13). limits and features are merge patches: null returns a
// limit to the edge default and a feature to on.
type planRequest struct {
	Name     string          `json:"name"`
	MaxUsers *int            `json:"max_users"`
	Limits   json.RawMessage `json:"limits"`
	Features json.RawMessage `json:"features"`
	Default  *bool           `json:"default"`
}

func (a *Server) planRoutes(api *mux.Router) {
	api.Handle("/plans", a.serve(a.listPlans)).Methods(http.MethodGet)
	api.Handle("/plans", a.serve(a.createPlan)).Methods(http.MethodPost)
	api.Handle("/plans/{name}", a.serve(a.showPlan)).Methods(http.MethodGet)
	api.Handle("/plans/{name}", a.serve(a.patchPlan)).Methods(http.MethodPatch)
}

func (a *Server) listPlans(w http.ResponseWriter, r *http.Request) error {
	plans, err := a.m.ListPlans(r.Context())
	if err != nil {
		return err
	}
	if plans == nil {
		plans = []*tenantstore.Plan{}
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"items": plans, "next_cursor": ""})
	return nil
}

func (a *Server) showPlan(w http.ResponseWriter, r *http.Request) error {
	p, err := a.m.GetPlan(r.Context(), mux.Vars(r)["name"])
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, p)
	return nil
}

// decode reads the body into the Manager's request.
func (in *planRequest) decode(w http.ResponseWriter, r *http.Request) (tenantstore.PlanRequest, error) {
	if err := httpapi.DecodeJSON(w, r, in); err != nil {
		return tenantstore.PlanRequest{}, err
	}
	limits, err := decodeLimitsPatch(in.Limits)
	if err != nil {
		return tenantstore.PlanRequest{}, err
	}
	features, err := decodeFeaturePatch(in.Features)
	if err != nil {
		return tenantstore.PlanRequest{}, err
	}
	return tenantstore.PlanRequest{MaxUsers: in.MaxUsers, Limits: limits, Features: features, Default: in.Default}, nil
}

// createPlan answers 201 with the new plan, 409 when the name is taken.
func (a *Server) createPlan(w http.ResponseWriter, r *http.Request) error {
	var in planRequest
	req, err := in.decode(w, r)
	if err != nil {
		return err
	}
	p, err := a.m.CreatePlan(r.Context(), in.Name, req)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusCreated, p)
	return nil
}

// patchPlan changes a plan; every tenant on it sees the change within a
// second, through the Store's Notifier.
func (a *Server) patchPlan(w http.ResponseWriter, r *http.Request) error {
	var in planRequest
	req, err := in.decode(w, r)
	if err != nil {
		return err
	}
	name := mux.Vars(r)["name"]
	if in.Name != "" && in.Name != name {
		return httpapi.InvalidField("name", "cannot be changed")
	}
	p, err := a.m.UpdatePlan(r.Context(), name, req)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, p)
	return nil
}

// decodeFeaturePatch reads a "features" member as a merge patch: absent
// changes nothing, null removes every setting, an object sets the
// features it names to true or false, or removes one with null. Unknown
// names are refused by the Manager (features.<name>).
func decodeFeaturePatch(raw json.RawMessage) (tenantstore.FeaturePatch, error) {
	if raw == nil {
		return nil, nil
	}
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		p := tenantstore.FeaturePatch{}
		for _, f := range tenantstore.KnownFeatures {
			p[f] = nil
		}
		return p, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return nil, httpapi.InvalidField("features", `must be an object such as {"reports": false, "expenses": null}`)
	}
	p := tenantstore.FeaturePatch{}
	for name, v := range fields {
		var on *bool
		if err := json.Unmarshal(v, &on); err != nil {
			return nil, httpapi.InvalidField("features."+name, "must be true, false or null")
		}
		p[name] = on
	}
	return p, nil
}

// decodeMaxUsers reads the "max_users" member of a tenant PATCH: absent
// changes nothing, null makes the tenant follow its plan's, a whole number
// is its own (range checked by the Manager).
func decodeMaxUsers(raw json.RawMessage) (n *int, plan bool, err error) {
	switch {
	case raw == nil:
		return nil, false, nil
	case bytes.Equal(bytes.TrimSpace(raw), []byte("null")):
		return nil, true, nil
	}
	v, err := wholeNumber(raw)
	if err != nil {
		return nil, false, httpapi.InvalidField("max_users", "must be a whole number, or null for the plan's")
	}
	return &v, false, nil
}
