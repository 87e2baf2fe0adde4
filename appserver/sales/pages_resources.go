package sales

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/tenantgate/tenantgate/appserver/httpapi"
	"github.com/tenantgate/tenantgate/appserver/webpage"
)

// The pages of issue 13's resources (customers, products, expenses, users,
// and locations read-only) share one shape, described by a resource and
// drawn by web/resource.html: a list with search, sortable columns and
// paging both ways beside the create form; a detail view; an edit form; a
// delete confirmation that works without JavaScript. Every page calls the
// resource's API handlers in-process, so validation and queries are the
// API's; a refusal is shown beside its field, or as the page's notice.

// resourcePageSize is how many rows a list page shows.
const resourcePageSize = 25

// column is one column of a list or one row of a detail view.
type column struct {
	Key, Label string
	// Sort is the API's ?sort= key, or "" when the column does not sort.
	Sort string
	// Kind formats the value: "" text, "money", "bool", "location",
	// "role", "mono"; the invoice list's headers use "num" (right-aligned).
	Kind string
}

// formField is one input of the create and edit forms.
type formField struct {
	Name, Label, Type string
	Options           []webpage.Option // a select when not nil
	Blank             bool             // the select offers an empty choice
	CreateOnly        bool             // only on the create form (a password)
	Autocomplete      string
}

// resource describes one resource's pages.
type resource struct {
	Path, Title, Singular, Plural string
	// ID is the table's HTML id, for tests and styling.
	ID                                   string
	list, get, create, update, remove    httpapi.HandlerFunc
	Columns                              []column
	fields                               func(r *http.Request) ([]formField, error)
	input                                func(form map[string]string, create bool) any
	ReadOnly                             bool   // no create, edit or delete (locations)
	NoEdit                               bool   // no edit form
	DeleteNote                           string // shown on the delete confirmation
	extra                                func(r *http.Request, v *resourceView) error
	admin                                bool // tenant administrators only
	formNames                            []string
	createdNotice, savedNotice, gonePage string
}

// cell is one formatted value.
type cell struct {
	Text, Class string
	Badge       string // drawn as a badge of this class
}

// row is one item of a list.
type row struct {
	ID    string
	Cells []cell
}

// sortLink is a column header: its link and current direction.
type sortLink struct {
	column
	Href, AriaSort string
}

// resourceView is the data of web/resource.html.
type resourceView struct {
	R        *resource
	View     string // "list", "detail", "form", "confirm"
	Headers  []sortLink
	Rows     []row
	Q, Sort  string
	Total    int
	From, To int
	Prev     string // href of the previous page, "" on the first
	Next     string
	Item     row          // detail, edit, confirm: the item
	Details  []detailRow  // detail: label and value
	Fields   []formField  // create (list) and edit forms
	Inputs   []inputView  // Fields with their values and errors
	Currency string       // the organization's currency
	Seats    *Seats       // users: the limit shown
	Self     bool         // users: the item is the logged-in user
	Active   bool         // users: the item is active
	Action   string       // confirm: where the form posts
	Confirm  confirmation // confirm: what is asked
}

type detailRow struct {
	Label string
	Value cell
}

type confirmation struct {
	Question, Button, Class string
}

// formatCell formats v (a JSON value) as kind.
func formatCell(v any, kind string, names map[string]string) cell {
	switch kind {
	case "money":
		s, _ := v.(string)
		return cell{Text: s, Class: "num"}
	case "bool":
		if b, _ := v.(bool); b {
			return cell{Text: "Active", Badge: "active"}
		}
		return cell{Text: "Inactive", Badge: "suspended"}
	case "location":
		s, _ := v.(string)
		if s == "" {
			return cell{Text: "—", Class: "muted"}
		}
		if n, ok := names[s]; ok {
			return cell{Text: n}
		}
		return cell{Text: s, Class: "mono"}
	case "role":
		if v == "admin" {
			return cell{Text: "Administrator"}
		}
		return cell{Text: "Member"}
	case "mono":
		return cell{Text: fmt.Sprint(v), Class: "mono"}
	}
	switch x := v.(type) {
	case nil:
		return cell{}
	case string:
		return cell{Text: x}
	case bool:
		if x {
			return cell{Text: "yes"}
		}
		return cell{Text: "no"}
	default:
		return cell{Text: fmt.Sprint(x)}
	}
}

// locationNames maps the tenant's location ids to their names.
func (s *Server) locationNames(r *http.Request) (map[string]string, error) {
	locs, err := s.tenantLocations(r)
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(locs))
	for _, l := range locs {
		m[l.ID] = l.Name
	}
	return m, nil
}

// rowOf formats item's columns.
func rowOf(item map[string]any, cols []column, names map[string]string) row {
	id, _ := item["id"].(string)
	rw := row{ID: id}
	for _, c := range cols {
		rw.Cells = append(rw.Cells, formatCell(item[c.Key], c.Kind, names))
	}
	return rw
}

// listHref is the list's URL with q, sort and offset.
func (res *resource) listHref(q, sort string, offset int) string {
	v := url.Values{}
	if q != "" {
		v.Set("q", q)
	}
	if sort != "" && sort != "created" {
		v.Set("sort", sort)
	}
	if offset > 0 {
		v.Set("offset", strconv.Itoa(offset))
	}
	if len(v) == 0 {
		return res.Path
	}
	return res.Path + "?" + v.Encode()
}

// newView starts the view of res with the organization's currency.
func (s *Server) newView(r *http.Request, res *resource, view string) (*resourceView, error) {
	st, err := s.settings(r)
	if err != nil {
		return nil, err
	}
	return &resourceView{R: res, View: view, Currency: st.Currency}, nil
}

// inputView is one input of a form as web/resource.html draws it.
type inputView struct {
	ID, Name, Label, Type, Value, Err, Autocomplete string
	Select, Blank                                   bool
	Options                                         []webpage.Option
}

// renderResource draws v with status, after the resource's extra data.
func (s *Server) renderResource(w http.ResponseWriter, r *http.Request, d *webpage.Data, v *resourceView, status int) error {
	for _, f := range v.Fields {
		in := inputView{ID: f.Name, Name: f.Name, Label: f.Label, Type: f.Type, Err: d.Errors[f.Name], Autocomplete: f.Autocomplete,
			Select: f.Options != nil, Blank: f.Blank, Options: f.Options}
		if f.Type != "password" {
			in.Value = d.Form[f.Name]
		}
		v.Inputs = append(v.Inputs, in)
	}
	if v.R.extra != nil {
		if err := v.R.extra(r, v); err != nil {
			return err
		}
	}
	d.Active, d.Data = strings.TrimPrefix(v.R.Path, "/"), v
	if d.Title == "" {
		d.Title = v.R.Title
	}
	webpage.Render(w, r, s.log, tenantPages, status, "resource", d)
	return nil
}

// listPage shows one page of the list and the create form.
func (s *Server) listPage(res *resource) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
		return s.renderList(w, r, d, res, http.StatusOK)
	}
}

func (s *Server) renderList(w http.ResponseWriter, r *http.Request, d *webpage.Data, res *resource, status int) error {
	v, err := s.newView(r, res, "list")
	if err != nil {
		return err
	}
	in := r.URL.Query()
	q := strings.TrimSpace(in.Get("q"))
	if len(q) > MaxSearchLength {
		q = q[:MaxSearchLength]
	}
	sortKey := in.Get("sort")
	known := sortKey == "" || sortKey == "created"
	for _, c := range res.Columns {
		if c.Sort != "" && strings.TrimPrefix(sortKey, "-") == c.Sort {
			known = true
		}
	}
	if !known {
		sortKey = "" // a hand-made ?sort= falls back to the default order
	}
	offset, _ := strconv.Atoi(in.Get("offset"))
	if offset < 0 || offset > 1_000_000 {
		offset = 0
	}
	query := url.Values{"limit": {strconv.Itoa(resourcePageSize)}, "offset": {strconv.Itoa(offset)}, "q": {q}}
	if sortKey != "" {
		query.Set("sort", sortKey)
	}
	var page OffsetPage[map[string]any]
	if _, err := s.callAPI(r, res.list, http.MethodGet, query, nil, &page); err != nil {
		return err
	}
	names, err := s.locationNames(r)
	if err != nil {
		return err
	}
	v.Q, v.Sort, v.Total = q, page.Sort, page.Total
	for _, c := range res.Columns {
		h := sortLink{column: c}
		if c.Sort != "" {
			next := c.Sort
			switch page.Sort {
			case c.Sort:
				h.AriaSort, next = "ascending", "-"+c.Sort
			case "-" + c.Sort:
				h.AriaSort = "descending"
			}
			h.Href = res.listHref(q, next, 0)
		}
		v.Headers = append(v.Headers, h)
	}
	for _, it := range page.Items {
		v.Rows = append(v.Rows, rowOf(it, res.Columns, names))
	}
	if len(page.Items) > 0 {
		v.From, v.To = page.Offset+1, page.Offset+len(page.Items)
	}
	if page.Offset > 0 {
		v.Prev = res.listHref(q, page.Sort, max(0, page.Offset-resourcePageSize))
	}
	if page.Offset+len(page.Items) < page.Total {
		v.Next = res.listHref(q, page.Sort, page.Offset+resourcePageSize)
	}
	if !res.ReadOnly {
		if v.Fields, err = res.fields(r); err != nil {
			return err
		}
	}
	switch in.Get("done") {
	case "created":
		d.Notice = res.createdNotice
	case "deleted":
		d.Notice = res.gonePage
	}
	return s.renderResource(w, r, d, v, status)
}

// createSubmit creates an item from the list page's form.
func (s *Server) createSubmit(res *resource) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
		if err := webpage.ParseForm(w, r); err != nil {
			return err
		}
		d.Form = webpage.FormValues(r, res.formNames...)
		if _, err := s.callAPI(r, res.create, http.MethodPost, nil, res.input(d.Form, true), nil); err != nil {
			status, err := formErrors(d, err)
			if err != nil {
				return err
			}
			return s.renderList(w, r, d, res, status)
		}
		// Back to the list (newest last, as it was), with a notice.
		webpage.SeeOther(w, r, res.Path+"?done=created")
		return nil
	}
}

// formErrors records every invalid field of err beside its input (a
// fieldErrors), or what d.FieldError records.
func formErrors(d *webpage.Data, err error) (int, error) {
	var fe fieldErrors
	if !asFieldErrorsOf(err, &fe) {
		return d.FieldError(err)
	}
	if d.Errors == nil {
		d.Errors = map[string]string{}
	}
	for _, e := range fe {
		if _, seen := d.Errors[e.Field]; !seen {
			d.Errors[e.Field] = e.Message
		}
	}
	if len(fe) > 1 {
		d.Error = fmt.Sprintf("%d fields need your attention.", len(fe))
	}
	return fe[0].Status, nil
}

// asFieldErrorsOf finds a fieldErrors in err's chain.
func asFieldErrorsOf(err error, fe *fieldErrors) bool {
	for err != nil {
		if x, ok := err.(fieldErrors); ok {
			*fe = x
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// callItem runs h for the item of the page's {id}, as GET /api/<res>/{id}.
func (s *Server) callItem(r *http.Request, h httpapi.HandlerFunc, method string, in any) (map[string]any, error) {
	var out map[string]any
	if _, err := s.callAPI(r, h, method, nil, in, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// itemOf loads the item of the page's {id} into v.
func (s *Server) itemOf(r *http.Request, v *resourceView) (map[string]any, error) {
	item, err := s.callItem(r, v.R.get, http.MethodGet, nil)
	if err != nil {
		return nil, err
	}
	names, err := s.locationNames(r)
	if err != nil {
		return nil, err
	}
	v.Item = rowOf(item, v.R.Columns, names)
	if len(v.Item.Cells) > 0 {
		v.Item.Cells[0].Class = ""
	}
	for i, c := range v.R.Columns {
		v.Details = append(v.Details, detailRow{Label: c.Label, Value: v.Item.Cells[i]})
	}
	if a, ok := item["active"].(bool); ok {
		v.Active = a
	}
	if u := UserFrom(r.Context()); u != nil && u.ID == v.Item.ID {
		v.Self = true
	}
	return item, nil
}

// titleOf is the item's name for headings: its first column.
func titleOf(v *resourceView) string {
	if len(v.Item.Cells) > 0 && v.Item.Cells[0].Text != "" {
		return v.Item.Cells[0].Text
	}
	return v.R.Singular
}

// detailPage shows one item.
func (s *Server) detailPage(res *resource) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
		v, err := s.newView(r, res, "detail")
		if err != nil {
			return err
		}
		if _, err := s.itemOf(r, v); err != nil {
			return err
		}
		switch r.URL.Query().Get("done") {
		case "created":
			d.Notice = res.createdNotice
		case "saved":
			d.Notice = res.savedNotice
		case "deactivated":
			d.Notice = "User deactivated: they are logged out and cannot log in."
		case "activated":
			d.Notice = "User reactivated: they can log in again."
		}
		d.Title = titleOf(v)
		return s.renderResource(w, r, d, v, http.StatusOK)
	}
}

// formValuesOf is the edit form's values from item (a JSON object).
func formValuesOf(item map[string]any, names []string) map[string]string {
	m := map[string]string{}
	for _, n := range names {
		switch x := item[n].(type) {
		case nil:
		case string:
			m[n] = x
		default:
			b, _ := json.Marshal(x)
			m[n] = string(b)
		}
	}
	return m
}

// editPage shows the edit form, filled with the item.
func (s *Server) editPage(res *resource) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
		v, err := s.newView(r, res, "form")
		if err != nil {
			return err
		}
		item, err := s.itemOf(r, v)
		if err != nil {
			return err
		}
		d.Form = formValuesOf(item, res.formNames)
		return s.renderEdit(w, r, d, v, http.StatusOK)
	}
}

func (s *Server) renderEdit(w http.ResponseWriter, r *http.Request, d *webpage.Data, v *resourceView, status int) error {
	fields, err := v.R.fields(r)
	if err != nil {
		return err
	}
	for _, f := range fields {
		if !f.CreateOnly {
			v.Fields = append(v.Fields, f)
		}
	}
	d.Title = "Edit " + titleOf(v)
	return s.renderResource(w, r, d, v, status)
}

// editSubmit saves the edit form through the API's PATCH.
func (s *Server) editSubmit(res *resource) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
		if err := webpage.ParseForm(w, r); err != nil {
			return err
		}
		v, err := s.newView(r, res, "form")
		if err != nil {
			return err
		}
		if _, err := s.itemOf(r, v); err != nil {
			return err
		}
		d.Form = webpage.FormValues(r, res.formNames...)
		if _, err := s.callItem(r, res.update, http.MethodPatch, res.input(d.Form, false)); err != nil {
			status, err := formErrors(d, err)
			if err != nil {
				return err
			}
			return s.renderEdit(w, r, d, v, status)
		}
		webpage.SeeOther(w, r, res.Path+"/"+v.Item.ID+"?done=saved")
		return nil
	}
}

// deletePage asks for confirmation; the form posts to the same URL.
func (s *Server) deletePage(res *resource) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
		v, err := s.newView(r, res, "confirm")
		if err != nil {
			return err
		}
		if _, err := s.itemOf(r, v); err != nil {
			return err
		}
		v.Action = res.Path + "/" + v.Item.ID + "/delete"
		v.Confirm = confirmation{Question: fmt.Sprintf("Delete the %s %s? This cannot be undone.", res.Singular, titleOf(v)),
			Button: "Delete " + res.Singular, Class: "danger"}
		d.Title = "Delete " + titleOf(v)
		return s.renderResource(w, r, d, v, http.StatusOK)
	}
}

// deleteSubmit deletes through the API; a refusal (the item is in use)
// stays on the item's page with the API's reason.
func (s *Server) deleteSubmit(res *resource) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
		if err := webpage.ParseForm(w, r); err != nil {
			return err
		}
		if _, err := s.callItem(r, res.remove, http.MethodDelete, nil); err != nil {
			ae, internal := httpapi.ErrorFor(err)
			if internal || ae.Status != http.StatusConflict {
				return err
			}
			v, verr := s.newView(r, res, "detail")
			if verr != nil {
				return verr
			}
			if _, verr := s.itemOf(r, v); verr != nil {
				return verr
			}
			d.Error = "This " + res.Singular + " cannot be deleted: " + ae.Message + "."
			d.Title = titleOf(v)
			return s.renderResource(w, r, d, v, http.StatusConflict)
		}
		webpage.SeeOther(w, r, res.Path+"?done=deleted")
		return nil
	}
}

// routes adds res's pages to r.
func (s *Server) resourceRoutes(r *mux.Router, res *resource) {
	get := []string{http.MethodGet, http.MethodHead}
	r.Handle(res.Path, s.page(true, s.listPage(res))).Methods(get...)
	r.Handle(res.Path+"/{id}", s.page(true, s.detailPage(res))).Methods(get...)
	if res.ReadOnly {
		return
	}
	r.Handle(res.Path, s.page(true, s.createSubmit(res))).Methods(http.MethodPost)
	if !res.NoEdit {
		r.Handle(res.Path+"/{id}/edit", s.page(true, s.editPage(res))).Methods(get...)
		r.Handle(res.Path+"/{id}/edit", s.page(true, s.editSubmit(res))).Methods(http.MethodPost)
	}
	r.Handle(res.Path+"/{id}/delete", s.page(true, s.deletePage(res))).Methods(get...)
	r.Handle(res.Path+"/{id}/delete", s.page(true, s.deleteSubmit(res))).Methods(http.MethodPost)
}
