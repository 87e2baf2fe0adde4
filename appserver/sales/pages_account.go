package sales

import (
	"fmt"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/tenantgate/tenantgate/appserver/webpage"
)

// resourcePageRoutes adds the pages of issue 13 to r: customers, products,
// expenses, users and locations (read-only), a user's deactivation, the
// own password and the organization's settings.
func (s *Server) resourcePageRoutes(r *mux.Router) {
	rs := s.newResources()
	get := []string{http.MethodGet, http.MethodHead}
	// Users first: their own routes must win over the generic {id} ones.
	r.Handle("/users/{id}/deactivate", s.page(true, s.deactivatePage(rs.users))).Methods(get...)
	r.Handle("/users/{id}/deactivate", s.page(true, s.setActiveSubmit(rs.users, false))).Methods(http.MethodPost)
	r.Handle("/users/{id}/activate", s.page(true, s.setActiveSubmit(rs.users, true))).Methods(http.MethodPost)
	for _, res := range []*resource{rs.customers, rs.products, rs.expenses, rs.users, rs.locations} {
		s.resourceRoutes(r, res)
	}
	r.Handle("/account/password", s.page(true, s.passwordPage)).Methods(get...)
	r.Handle("/account/password", s.page(true, s.passwordSubmit)).Methods(http.MethodPost)
	r.Handle("/settings", s.page(true, s.settingsPage)).Methods(get...)
	r.Handle("/settings", s.page(true, s.settingsSubmit)).Methods(http.MethodPost)
}

// deactivatePage asks before deactivating a user.
func (s *Server) deactivatePage(res *resource) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
		if err := requireAdmin(r); err != nil {
			return err
		}
		v, err := s.newView(r, res, "confirm")
		if err != nil {
			return err
		}
		if _, err := s.itemOf(r, v); err != nil {
			return err
		}
		v.Action = res.Path + "/" + v.Item.ID + "/deactivate"
		v.Confirm = confirmation{Question: fmt.Sprintf("Deactivate %s? They are logged out at once and cannot log in until reactivated; their seat stays taken.", titleOf(v)),
			Button: "Deactivate user", Class: "danger"}
		d.Title = "Deactivate " + titleOf(v)
		return s.renderResource(w, r, d, v, http.StatusOK)
	}
}

// setActiveSubmit deactivates or reactivates a user through the API's
// PATCH; a refusal (yourself, the last administrator) is shown on the
// user's page.
func (s *Server) setActiveSubmit(res *resource, active bool) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
		if err := webpage.ParseForm(w, r); err != nil {
			return err
		}
		if _, err := s.callItem(r, res.update, http.MethodPatch, map[string]any{"active": active}); err != nil {
			status, ferr := d.FieldError(err)
			if ferr != nil {
				return ferr
			}
			v, verr := s.newView(r, res, "detail")
			if verr != nil {
				return verr
			}
			if _, verr := s.itemOf(r, v); verr != nil {
				return verr
			}
			d.Title = titleOf(v)
			return s.renderResource(w, r, d, v, status)
		}
		done := "deactivated"
		if active {
			done = "activated"
		}
		webpage.SeeOther(w, r, res.Path+"/"+mux.Vars(r)["id"]+"?done="+done)
		return nil
	}
}

// simpleForm is the data of web/account.html.
type simpleForm struct {
	Action, Button, Intro string
	Inputs                []inputView
	Currency              string
	CanEdit               bool
}

func (s *Server) renderSimpleForm(w http.ResponseWriter, r *http.Request, d *webpage.Data, f simpleForm, fields []formField, status int) error {
	for _, fl := range fields {
		in := inputView{ID: fl.Name, Name: fl.Name, Label: fl.Label, Type: fl.Type, Err: d.Errors[fl.Name], Autocomplete: fl.Autocomplete}
		if fl.Type != "password" {
			in.Value = d.Form[fl.Name]
		}
		f.Inputs = append(f.Inputs, in)
	}
	d.Data = f
	webpage.Render(w, r, s.log, tenantPages, status, "account", d)
	return nil
}

var passwordFields = []formField{
	{Name: "current_password", Label: "Current password", Type: "password", Autocomplete: "current-password"},
	{Name: "new_password", Label: "New password (8–72 bytes)", Type: "password", Autocomplete: "new-password"},
}

func (s *Server) passwordPage(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	d.Title, d.Active = "Change your password", "account"
	if r.URL.Query().Get("done") == "saved" {
		d.Notice = "Password changed. Your other sessions were logged out."
	}
	return s.renderSimpleForm(w, r, d, simpleForm{Action: "/account/password", Button: "Change password", CanEdit: true}, passwordFields, http.StatusOK)
}

func (s *Server) passwordSubmit(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	if err := webpage.ParseForm(w, r); err != nil {
		return err
	}
	in := passwordRequest{CurrentPassword: r.PostForm.Get("current_password"), NewPassword: r.PostForm.Get("new_password")}
	if _, err := s.callAPI(r, s.changePassword, http.MethodPost, nil, in, nil); err != nil {
		status, err := formErrors(d, err)
		if err != nil {
			return err
		}
		d.Title, d.Active = "Change your password", "account"
		return s.renderSimpleForm(w, r, d, simpleForm{Action: "/account/password", Button: "Change password", CanEdit: true}, passwordFields, status)
	}
	webpage.SeeOther(w, r, "/account/password?done=saved")
	return nil
}

var settingsFields = []formField{{Name: "currency", Label: "Currency (ISO 4217 code, e.g. USD, EUR)", Type: "text", Autocomplete: "off"}}

func (s *Server) settingsPage(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	var st Settings
	if _, err := s.callAPI(r, s.getSettings, http.MethodGet, nil, nil, &st); err != nil {
		return err
	}
	d.Form = map[string]string{"currency": st.Currency}
	if r.URL.Query().Get("done") == "saved" {
		d.Notice = "Settings saved."
	}
	return s.renderSettings(w, r, d, st, http.StatusOK)
}

func (s *Server) renderSettings(w http.ResponseWriter, r *http.Request, d *webpage.Data, st Settings, status int) error {
	d.Title, d.Active = "Settings", "settings"
	f := simpleForm{Action: "/settings", Button: "Save settings", Currency: st.Currency, CanEdit: UserFrom(r.Context()).IsAdmin()}
	if st.CurrencyIsDefault {
		f.Intro = "No currency chosen yet: " + st.Currency + " comes from your browser's language."
	}
	return s.renderSimpleForm(w, r, d, f, settingsFields, status)
}

func (s *Server) settingsSubmit(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	if err := webpage.ParseForm(w, r); err != nil {
		return err
	}
	d.Form = webpage.FormValues(r, "currency")
	cur := d.Form["currency"]
	if _, err := s.callAPI(r, s.updateSettings, http.MethodPatch, nil, settingsInput{Currency: &cur}, nil); err != nil {
		status, err := formErrors(d, err)
		if err != nil {
			return err
		}
		st, serr := s.settings(r)
		if serr != nil {
			return serr
		}
		return s.renderSettings(w, r, d, st, status)
	}
	webpage.SeeOther(w, r, "/settings?done=saved")
	return nil
}
