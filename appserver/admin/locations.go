package admin

import (
	"context"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/tenantgate/tenantgate/appserver/httpapi"
	"github.com/tenantgate/tenantgate/tenantstore"
)

type locationRequest struct {
	Name    *string `json:"name"`
	Code    *string `json:"code"`
	Address *string `json:"address"`
	Active  *bool   `json:"active"`
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (a *Server) locationRoutes(api *mux.Router) {
	api.Handle("/tenants/{subdomain}/locations", a.serve(a.listLocations)).Methods(http.MethodGet)
	api.Handle("/tenants/{subdomain}/locations", a.serve(a.addLocation)).Methods(http.MethodPost)
	api.Handle("/tenants/{subdomain}/locations/{code}", a.serve(a.updateLocation)).Methods(http.MethodPatch)
	api.Handle("/tenants/{subdomain}/locations/{code}", a.serve(a.deleteLocation)).Methods(http.MethodDelete)
}

func (a *Server) listLocations(w http.ResponseWriter, r *http.Request) error {
	locs, err := a.m.ListLocations(r.Context(), mux.Vars(r)["subdomain"])
	if err != nil {
		return err
	}
	if locs == nil {
		locs = []tenantstore.Location{}
	}
	httpapi.WriteJSON(w, http.StatusOK, httpapi.Page[tenantstore.Location]{Items: locs})
	return nil
}

func (a *Server) addLocation(w http.ResponseWriter, r *http.Request) error {
	var in locationRequest
	if err := httpapi.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	l, err := a.m.AddLocation(r.Context(), mux.Vars(r)["subdomain"], tenantstore.LocationInput{
		Name: deref(in.Name), Code: deref(in.Code), Address: deref(in.Address), Active: in.Active,
	})
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusCreated, l)
	return nil
}

func (a *Server) updateLocation(w http.ResponseWriter, r *http.Request) error {
	var in locationRequest
	if err := httpapi.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	v := mux.Vars(r)
	l, err := a.m.UpdateLocation(r.Context(), v["subdomain"], v["code"], tenantstore.LocationPatch{
		Name: in.Name, Code: in.Code, Address: in.Address, Active: in.Active,
	})
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, l)
	return nil
}

func (a *Server) deleteLocation(w http.ResponseWriter, r *http.Request) error {
	v := mux.Vars(r)
	if err := a.m.DeleteLocation(r.Context(), v["subdomain"], v["code"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// adminDomain is a custom domain with the DNS record that verifies it.
type adminDomain struct {
	tenantstore.Domain
	// VerificationRecord is the name of the TXT record that must hold the
	// verification token.
	VerificationRecord string `json:"verification_record"`
	// CertificateStoredAt is when an edge last stored a certificate for
	// the hostname in the shared certificate storage (issued or renewed);
	// null when there is none there (not issued yet, or edges that keep
	// certificates in files).
	CertificateStoredAt *time.Time `json:"certificate_stored_at"`
}

func viewDomain(d tenantstore.Domain) adminDomain {
	return adminDomain{Domain: d, VerificationRecord: tenantstore.VerificationRecord(d.Hostname)}
}

// viewDomains is viewDomain for each of t's domains, with the certificate
// status from the shared certificate storage. A failed lookup is logged and
// leaves the status unknown (null): the domains are still shown.
func (a *Server) viewDomains(ctx context.Context, t *tenantstore.Tenant) []adminDomain {
	hosts := make([]string, 0, len(t.Domains))
	for _, d := range t.Domains {
		hosts = append(hosts, d.Hostname)
	}
	certs, err := a.m.Store().CertificateTimes(ctx, hosts)
	if err != nil {
		a.log.WarnContext(ctx, "reading certificate status", "tenant", t.Subdomain, "err", err)
	}
	out := make([]adminDomain, 0, len(t.Domains))
	for _, d := range t.Domains {
		v := viewDomain(d)
		if at, ok := certs[d.Hostname]; ok {
			v.CertificateStoredAt = &at
		}
		out = append(out, v)
	}
	return out
}

func (a *Server) domainRoutes(api *mux.Router) {
	api.Handle("/tenants/{subdomain}/domains", a.serve(a.listDomains)).Methods(http.MethodGet)
	api.Handle("/tenants/{subdomain}/domains", a.serve(a.addDomain)).Methods(http.MethodPost)
	api.Handle("/tenants/{subdomain}/domains/{hostname}", a.serve(a.removeDomain)).Methods(http.MethodDelete)
	api.Handle("/tenants/{subdomain}/domains/{hostname}/verify", a.serve(a.verifyDomain)).Methods(http.MethodPost)
}

func (a *Server) listDomains(w http.ResponseWriter, r *http.Request) error {
	t, err := a.m.Get(r.Context(), mux.Vars(r)["subdomain"])
	if err != nil {
		return err
	}
	page := httpapi.Page[adminDomain]{Items: a.viewDomains(r.Context(), t)}
	httpapi.WriteJSON(w, http.StatusOK, page)
	return nil
}

// addDomain adds an unverified custom hostname and answers the token to
// publish in DNS.
func (a *Server) addDomain(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Hostname string `json:"hostname"`
	}
	if err := httpapi.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	d, err := a.m.AddDomain(r.Context(), mux.Vars(r)["subdomain"], in.Hostname)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusCreated, viewDomain(*d))
	return nil
}

// verifyDomain checks the TXT record _tenantgate.<hostname>; only then does
// the domain route and get certificates.
func (a *Server) verifyDomain(w http.ResponseWriter, r *http.Request) error {
	v := mux.Vars(r)
	d, err := a.m.VerifyDomain(r.Context(), v["subdomain"], v["hostname"])
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, viewDomain(*d))
	return nil
}

func (a *Server) removeDomain(w http.ResponseWriter, r *http.Request) error {
	v := mux.Vars(r)
	if err := a.m.RemoveDomain(r.Context(), v["subdomain"], v["hostname"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
