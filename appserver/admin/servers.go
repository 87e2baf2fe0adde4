package admin

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/tenantgate/tenantgate/appserver/httpapi"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// serverStatsTimeout bounds reading every server's figures for a list.
const serverStatsTimeout = 5 * time.Second

// The database server registry (SPEC §12). A server's URL never holds a
// password (one is refused); the password stays in the environment
// variable password_env names, so nothing here can answer a secret.
func (a *Server) serverRoutes(api *mux.Router) {
	api.Handle("/servers", a.serve(a.listServers)).Methods(http.MethodGet)
	api.Handle("/servers", a.serve(a.addServer)).Methods(http.MethodPost)
	api.Handle("/servers/{name}", a.serve(a.patchServer)).Methods(http.MethodPatch)
}

type addServerRequest struct {
	Name        string `json:"name"`
	URL         string `json:"url"`
	PasswordEnv string `json:"password_env"`
	Capacity    *int   `json:"capacity"`
}

type patchServerRequest struct {
	Capacity *int  `json:"capacity"`
	Draining *bool `json:"draining"`
}

// listServers answers every server with its tenants, databases' size and
// connections; a server that does not answer has null figures and an
// error, and the list still succeeds.
func (a *Server) listServers(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), serverStatsTimeout)
	defer cancel()
	list, err := a.m.Servers(ctx)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, httpapi.Page[*tenantstore.ServerStats]{Items: list})
	return nil
}

// addServer registers a server after checking it answers and its role may
// create databases and roles (400 naming url otherwise).
func (a *Server) addServer(w http.ResponseWriter, r *http.Request) error {
	var in addServerRequest
	if err := httpapi.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	req := tenantstore.AddServerRequest{Name: in.Name, URL: in.URL, PasswordEnv: in.PasswordEnv}
	if in.Name == "" {
		return httpapi.InvalidField("name", "is required")
	}
	if in.URL == "" {
		return httpapi.InvalidField("url", "is required")
	}
	if in.Capacity != nil {
		if *in.Capacity < 1 {
			return httpapi.InvalidField("capacity", "must be at least 1")
		}
		req.Capacity = *in.Capacity
	}
	s, err := a.m.AddServer(r.Context(), req)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/servers/"+s.Name)
	httpapi.WriteJSON(w, http.StatusCreated, &tenantstore.ServerStats{Server: s, Registered: true})
	return nil
}

// patchServer changes a server's capacity or draining flag.
func (a *Server) patchServer(w http.ResponseWriter, r *http.Request) error {
	var in patchServerRequest
	if err := httpapi.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	if in.Capacity == nil && in.Draining == nil {
		return httpapi.InvalidField("capacity", "give capacity or draining")
	}
	s, err := a.m.UpdateServer(r.Context(), mux.Vars(r)["name"], tenantstore.ServerPatch{Capacity: in.Capacity, Draining: in.Draining})
	if errors.Is(err, tenantstore.ErrNotFound) {
		return httpapi.ErrNotFound
	}
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, &tenantstore.ServerStats{Server: s, Registered: true})
	return nil
}
