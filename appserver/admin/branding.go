package admin

import (
	"errors"
	"io"
	"mime/multipart"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/tenantgate/tenantgate/appserver/brandlogo"
	"github.com/tenantgate/tenantgate/appserver/httpapi"
	"github.com/tenantgate/tenantgate/appserver/webpage"
	"github.com/tenantgate/tenantgate/internal/logo"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// Branding (SPEC §13): the admin API's routes and the tenant page's
// section. Every change goes through tenantstore.Manager, which validates
// the name and colour and checks (and sanitises) the logo, and tells every
// cache.

// brandingView is a tenant's branding as the admin API answers it.
type brandingView struct {
	DisplayName  string    `json:"display_name"`
	PrimaryColor string    `json:"primary_color"`
	Logo         *logoView `json:"logo"`
	Version      int64     `json:"version"`
	tenant       *tenantstore.Tenant
}

// logoView describes a stored logo: its type, hash (the ETag) and where
// the tenant's own host serves it.
type logoView struct {
	ContentType string `json:"content_type"`
	SHA256      string `json:"sha256"`
	URL         string `json:"url"`
}

func viewBranding(t *tenantstore.Tenant) brandingView {
	v := brandingView{DisplayName: t.Branding.DisplayName, PrimaryColor: t.Branding.PrimaryColor, Version: t.Version, tenant: t}
	if t.Branding.LogoSHA256 != "" {
		v.Logo = &logoView{ContentType: t.Branding.LogoType, SHA256: t.Branding.LogoSHA256, URL: brandlogo.URL(t.Branding)}
	}
	return v
}

// Title is the name the tenant's pages show (the dashboard's preview).
func (v brandingView) Title() string { return v.tenant.Title() }

func (a *Server) brandingRoutes(api *mux.Router) {
	api.Handle("/tenants/{subdomain}/branding", a.serve(a.getBranding)).Methods(http.MethodGet)
	api.Handle("/tenants/{subdomain}/branding", a.serve(a.putBranding)).Methods(http.MethodPut)
	api.Handle("/tenants/{subdomain}/branding/logo", a.serve(a.getLogo)).Methods(http.MethodGet, http.MethodHead)
	api.Handle("/tenants/{subdomain}/branding/logo", a.serve(a.putLogo)).Methods(http.MethodPut)
	api.Handle("/tenants/{subdomain}/branding/logo", a.serve(a.deleteLogo)).Methods(http.MethodDelete)
}

func (a *Server) getBranding(w http.ResponseWriter, r *http.Request) error {
	t, err := a.m.Get(r.Context(), mux.Vars(r)["subdomain"])
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, viewBranding(t))
	return nil
}

// putBranding replaces the display name and colour: a field left out is
// cleared, as PUT replaces.
func (a *Server) putBranding(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		DisplayName  string `json:"display_name"`
		PrimaryColor string `json:"primary_color"`
	}
	if err := httpapi.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	t, err := a.m.SetBranding(r.Context(), mux.Vars(r)["subdomain"],
		tenantstore.BrandingPatch{DisplayName: &in.DisplayName, PrimaryColor: &in.PrimaryColor})
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, viewBranding(t))
	return nil
}

// getLogo serves the stored logo to an operator, with the same safe
// headers as the tenant's host.
func (a *Server) getLogo(w http.ResponseWriter, r *http.Request) error {
	l, err := a.m.Logo(r.Context(), mux.Vars(r)["subdomain"])
	if err != nil {
		return err
	}
	brandlogo.Serve(w, r, l, false)
	return nil
}

// putLogo stores the request body as the logo; its Content-Type says
// whether it is a PNG or an SVG. Beyond logo.MaxBytes it answers 413
// without reading the rest.
func (a *Server) putLogo(w http.ResponseWriter, r *http.Request) error {
	if r.ContentLength > logo.MaxBytes {
		return logo.ErrTooLarge
	}
	data, err := readLogo(http.MaxBytesReader(w, r.Body, logo.MaxBytes))
	if err != nil {
		return err
	}
	t, err := a.m.SetLogo(r.Context(), mux.Vars(r)["subdomain"], r.Header.Get("Content-Type"), data)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, viewBranding(t))
	return nil
}

// readLogo reads a logo of at most logo.MaxBytes from r (limited by its
// caller), logo.ErrTooLarge beyond.
func readLogo(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, logo.MaxBytes+1))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe), len(data) > logo.MaxBytes:
		return nil, logo.ErrTooLarge
	case err != nil:
		return nil, httpapi.InvalidField("logo", "reading the upload failed")
	}
	return data, nil
}

func (a *Server) deleteLogo(w http.ResponseWriter, r *http.Request) error {
	t, err := a.m.DeleteLogo(r.Context(), mux.Vars(r)["subdomain"])
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, viewBranding(t))
	return nil
}

// The dashboard's branding section (web/tenant_branding.html).

func (a *Server) brandingPageRoutes(r *mux.Router) {
	r.Handle("/tenants/{subdomain}/branding", a.form(a.brandingSubmit)).Methods(http.MethodPost)
	r.Handle("/tenants/{subdomain}/branding/logo", a.formParsedBy(parseUpload, a.logoSubmit)).Methods(http.MethodPost)
	r.Handle("/tenants/{subdomain}/branding/logo/delete", a.form(a.logoDeleteSubmit)).Methods(http.MethodPost)
	r.Handle("/tenants/{subdomain}/branding/logo", http.HandlerFunc(a.logoPreview)).Methods(http.MethodGet, http.MethodHead)
}

// brandingSection is the section's data; it fills the form's defaults
// from t unless d refills them after a refusal.
func brandingSection(d *webpage.Data, t *tenantstore.Tenant) brandingView {
	for k, v := range map[string]string{"display_name": t.Branding.DisplayName, "primary_color": t.Branding.PrimaryColor} {
		if _, ok := d.Form[k]; !ok && d.Form != nil {
			d.Form[k] = v
		}
	}
	return viewBranding(t)
}

func (a *Server) brandingSubmit(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	sub := mux.Vars(r)["subdomain"]
	d.Form = webpage.FormValues(r, "display_name", "primary_color")
	name, color := d.Form["display_name"], d.Form["primary_color"]
	t, err := a.m.SetBranding(r.Context(), sub, tenantstore.BrandingPatch{DisplayName: &name, PrimaryColor: &color})
	if err != nil {
		if errors.Is(err, tenantstore.ErrNotFound) {
			return err
		}
		return a.actionError(w, r, d, sub, err, nil)
	}
	a.redirectWith(w, r, tenantURL(sub), "Saved the branding of "+t.Name+".", false)
	return nil
}

// maxUploadBytes bounds a posted logo form: the logo and the CSRF token.
const maxUploadBytes = logo.MaxBytes + 16<<10

// parseUpload reads a multipart logo form of bounded size.
func parseUpload(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxUploadBytes)
	if err := r.ParseMultipartForm(maxUploadBytes); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return logo.ErrTooLarge
		}
		return httpapi.InvalidField("logo", "malformed or too large upload")
	}
	return nil
}

func (a *Server) logoSubmit(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	sub := mux.Vars(r)["subdomain"]
	f, hdr, err := r.FormFile("logo")
	if err != nil {
		return a.actionError(w, r, d, sub, httpapi.InvalidField("logo", "choose a PNG or SVG file"), nil)
	}
	defer func(f multipart.File) { _ = f.Close() }(f)
	data, err := readLogo(f)
	if err == nil {
		_, err = a.m.SetLogo(r.Context(), sub, hdr.Header.Get("Content-Type"), data)
	}
	if err != nil {
		if errors.Is(err, tenantstore.ErrNotFound) {
			return err
		}
		return a.actionError(w, r, d, sub, err, nil)
	}
	a.redirectWith(w, r, tenantURL(sub), "Uploaded the logo.", false)
	return nil
}

func (a *Server) logoDeleteSubmit(w http.ResponseWriter, r *http.Request, _ *webpage.Data) error {
	sub := mux.Vars(r)["subdomain"]
	if _, err := a.m.DeleteLogo(r.Context(), sub); err != nil {
		return err
	}
	a.redirectWith(w, r, tenantURL(sub), "Removed the logo.", false)
	return nil
}

// logoPreview serves the logo to a dashboard session, for the section's
// <img>.
func (a *Server) logoPreview(w http.ResponseWriter, r *http.Request) {
	if a.session(r) == "" {
		a.writeError(w, r, errAdminUnauthorized)
		return
	}
	if err := a.getLogo(w, r); err != nil {
		a.writeError(w, r, err)
	}
}
