package sales

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/tenantgate/tenantgate/appserver/httpapi"
	"github.com/tenantgate/tenantgate/appserver/webpage"
)

// invoiceFormRows is how many line rows a new invoice form starts with.
const invoiceFormRows = 2

// maxFormLines is the most line rows the invoice form shows: each row
// carries a select of every product, so a page of MaxInvoiceLines rows
// would be tens of MB. Larger invoices are written through the API.
const maxFormLines = 100

// invoiceListLimit is the invoice list page's size.
const invoiceListLimit = 25

// invoiceRow is an invoice as the list shows it, with names for ids; the
// list has headers only, so it shows how many lines, not which.
type invoiceRow struct {
	ID                                          uuid.UUID
	Number                                      int64
	Customer, Location, Status, IssuedOn, Total string
	LineCount                                   int
}

// productOption is a product of the line select, with its price for the
// live total (data-price).
type productOption struct{ Value, Label, Price string }

// lineRow is one row of the invoice form.
type lineRow struct {
	Index                          int
	ProductID, Quantity, UnitPrice string
}

// invoiceForm is the new or edit invoice form.
type invoiceForm struct {
	Action, Heading, Submit string
	Cancel                  string // the edit form's way back
	Edit                    bool   // editing a draft: no status choice
	Customers, Locations    []webpage.Option
	Statuses                []webpage.Option
	Products                []productOption
	Lines                   []lineRow
	Total                   string
	MaxLines                int // maxFormLines, for the script
}

type invoicesData struct {
	Items                  []invoiceRow
	Headers                []sortLink
	Query, Status, Sort    string
	Sorted                 bool // a ?sort= other than newest first
	NextURL, PrevURL       string
	StatusFilter           []webpage.Option
	Form                   invoiceForm
	Searching, ListVisible bool
}

// trimQuantity shows a quantity without trailing zeros: 2.000 → 2,
// 1.500 → 1.5.
func trimQuantity(q string) string {
	d, err := decimal.NewFromString(q)
	if err != nil {
		return q
	}
	return d.String()
}

// invoiceNames are the names the invoice pages show for ids: the first
// httpapi.MaxPageLimit customers and products (the form's choices) and the
// tenant's locations.
type invoiceNames struct {
	names     map[string]string
	prices    map[string]string
	customers []webpage.Option
	products  []productOption
	locations []webpage.Option
}

func (s *Server) loadInvoiceNames(r *http.Request) (*invoiceNames, error) {
	all := url.Values{"limit": {strconv.Itoa(httpapi.MaxPageLimit)}}
	var customers httpapi.Page[Customer]
	if _, err := s.callAPI(r, s.listCustomers, http.MethodGet, all, nil, &customers); err != nil {
		return nil, err
	}
	var products httpapi.Page[Product]
	if _, err := s.callAPI(r, s.listProducts, http.MethodGet, all, nil, &products); err != nil {
		return nil, err
	}
	locs, err := s.tenantLocations(r)
	if err != nil {
		return nil, err
	}
	n := &invoiceNames{names: map[string]string{}, prices: map[string]string{}}
	for _, c := range customers.Items {
		n.names[c.ID.String()] = c.Name
		n.customers = append(n.customers, webpage.Option{Value: c.ID.String(), Label: c.Name})
	}
	for _, p := range products.Items {
		n.names[p.ID.String()] = p.Name
		n.prices[p.ID.String()] = p.Price
		n.products = append(n.products, productOption{Value: p.ID.String(), Label: fmt.Sprintf("%s — %s (%s)", p.SKU, p.Name, p.Price), Price: p.Price})
	}
	for _, l := range locs {
		n.names[l.ID] = l.Name
		if l.Active {
			n.locations = append(n.locations, webpage.Option{Value: l.ID, Label: l.Name})
		}
	}
	return n, nil
}

func (s *Server) invoicesPage(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	d.Form = map[string]string{"status": "draft"}
	rows := make([]lineRow, invoiceFormRows)
	for i := range rows {
		rows[i] = lineRow{Index: i, Quantity: "1"}
	}
	switch {
	case r.URL.Query().Get("created") == "1":
		d.Notice = "Invoice created."
	case r.URL.Query().Get("deleted") != "":
		d.Notice = "Draft invoice " + strconv.Itoa(atoiOr(r.URL.Query().Get("deleted"), 0)) + " deleted."
	}
	return s.renderInvoices(w, r, d, http.StatusOK, rows)
}

func atoiOr(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return def
}

// invoiceListColumns are the invoice list's headers; Sort is the API's
// ?sort= key of those that sort, Kind "num" right-aligns.
var invoiceListColumns = []column{
	{Label: "No.", Sort: "number", Kind: "num"}, {Label: "Customer", Sort: "customer"}, {Label: "Location"},
	{Label: "Status", Sort: "status"}, {Label: "Issued", Sort: "issued"}, {Label: "Lines", Kind: "num"},
	{Label: "Total", Sort: "total", Kind: "num"},
}

// renderInvoices draws the invoice list (newest first or sorted by a
// column, with search and paging both ways) and the new invoice form with
// rows.
func (s *Server) renderInvoices(w http.ResponseWriter, r *http.Request, d *webpage.Data, status int, rows []lineRow) error {
	q := r.URL.Query()
	data := invoicesData{Query: q.Get("q"), Status: q.Get("status"), Sort: q.Get("sort"), ListVisible: true}
	if _, ok := invoiceSorts[strings.TrimPrefix(data.Sort, "-")]; !ok || data.Sort == defaultInvoiceSort {
		data.Sort = "" // a hand-made ?sort= falls back to newest first
	}
	data.Searching, data.Sorted = data.Query != "" || data.Status != "", data.Sort != ""
	api := url.Values{"limit": {strconv.Itoa(invoiceListLimit)}}
	for _, k := range []string{"cursor", "before", "q", "status"} {
		if v := q.Get(k); v != "" {
			api.Set(k, v)
		}
	}
	if data.Sort != "" {
		api.Set("sort", data.Sort)
	}
	var invoices invoicePage
	if _, err := s.callAPI(r, s.listInvoices, http.MethodGet, api, nil, &invoices); err != nil {
		// A hostile or stale ?cursor=, ?q= or ?status= is shown, not an error page.
		if _, err := d.FieldError(err); err != nil {
			return err
		}
		status = http.StatusBadRequest
		d.Error, d.Errors = "The search could not be run: "+d.Error+firstError(d.Errors), nil
	}
	names, err := s.loadInvoiceNames(r)
	if err != nil {
		return err
	}
	keep := url.Values{}
	if data.Query != "" {
		keep.Set("q", data.Query)
	}
	if data.Status != "" {
		keep.Set("status", data.Status)
	}
	for _, c := range invoiceListColumns {
		h := sortLink{column: c}
		if c.Sort != "" {
			next := c.Sort
			switch data.Sort {
			case c.Sort:
				h.AriaSort, next = "ascending", "-"+c.Sort
			case "-" + c.Sort:
				h.AriaSort = "descending"
			}
			v := cloneValues(keep)
			v.Set("sort", next)
			h.Href = "/invoices?" + v.Encode()
		}
		data.Headers = append(data.Headers, h)
	}
	if data.Sort != "" {
		keep.Set("sort", data.Sort)
	}
	if invoices.NextCursor != "" {
		v := cloneValues(keep)
		v.Set("cursor", invoices.NextCursor)
		data.NextURL = "/invoices?" + v.Encode()
	}
	if invoices.PrevCursor != "" {
		v := cloneValues(keep)
		v.Set("before", invoices.PrevCursor)
		data.PrevURL = "/invoices?" + v.Encode()
	}
	data.StatusFilter = []webpage.Option{{Value: "draft", Label: "Draft"}, {Value: "issued", Label: "Issued"}, {Value: "paid", Label: "Paid"}, {Value: "void", Label: "Void"}}
	for _, v := range invoices.Items {
		row := invoiceRow{ID: v.ID, Number: v.Number, Customer: names.names[v.CustomerID.String()], Status: v.Status, Total: v.Total, LineCount: v.LineCount}
		if v.LocationID != nil {
			row.Location = names.names[v.LocationID.String()]
		}
		if v.IssuedOn != nil {
			row.IssuedOn = *v.IssuedOn
		}
		data.Items = append(data.Items, row)
	}
	data.Form = invoiceForm{
		Action: "/invoices", Heading: "New invoice", Submit: "Create invoice",
		Customers: names.customers, Locations: names.locations, Products: names.products,
		Statuses: []webpage.Option{{Value: "draft", Label: "Draft"}, {Value: "issued", Label: "Issued"}, {Value: "paid", Label: "Paid"}},
		Lines:    rows, Total: formTotal(rows, names.prices), MaxLines: maxFormLines,
	}
	setLineForm(d, rows)
	d.Title, d.Active, d.Data = "Invoices", "invoices", data
	webpage.Render(w, r, s.log, tenantPages, status, "invoices", d)
	return nil
}

func cloneValues(v url.Values) url.Values {
	c := url.Values{}
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}

func firstError(errs map[string]string) string {
	for f, m := range errs {
		return f + " " + m
	}
	return ""
}

// setLineForm puts the rows' values into d.Form under their field names,
// for the field template.
func setLineForm(d *webpage.Data, rows []lineRow) {
	if d.Form == nil {
		d.Form = map[string]string{}
	}
	for _, l := range rows {
		p := fmt.Sprintf("lines[%d].", l.Index)
		d.Form[p+"product_id"], d.Form[p+"quantity"], d.Form[p+"unit_price"] = l.ProductID, l.Quantity, l.UnitPrice
	}
}

// formTotal is the total of the rows that can be priced, as the API
// would compute it: quantity × (unit price or the product's), each rounded
// to cents.
func formTotal(rows []lineRow, prices map[string]string) string {
	total := decimal.Zero
	for _, l := range rows {
		q, err := decimal.NewFromString(l.Quantity)
		if err != nil || l.ProductID == "" {
			continue
		}
		price := l.UnitPrice
		if price == "" {
			price = prices[l.ProductID]
		}
		p, err := decimal.NewFromString(price)
		if err != nil {
			continue
		}
		total = total.Add(q.Mul(p).Round(2))
	}
	return total.StringFixed(2)
}

// readInvoiceForm reads the posted invoice form: its header fields into
// d.Form and its line rows (line_count of them, bounded), after applying
// the form's own buttons: "add" appends a row, "remove" (a row index) drops
// one. edited is true when such a button was pressed: the form is shown
// again instead of saved.
func readInvoiceForm(w http.ResponseWriter, r *http.Request, d *webpage.Data) (rows []lineRow, edited bool, _ error) {
	if err := webpage.ParseForm(w, r); err != nil {
		return nil, false, err
	}
	d.Form = webpage.FormValues(r, "customer_id", "location_id", "status", "issued_on")
	// line_count rows, or as many as the posted lines[i] fields say.
	n := atoiOr(r.PostForm.Get("line_count"), 0)
	for k := range r.PostForm {
		var i int
		if _, err := fmt.Sscanf(k, "lines[%d]", &i); err == nil && i >= n && i < maxFormLines {
			n = i + 1
		}
	}
	n = min(max(n, 0), maxFormLines)
	for i := range n {
		p := fmt.Sprintf("lines[%d].", i)
		rows = append(rows, lineRow{
			ProductID: strings.TrimSpace(r.PostForm.Get(p + "product_id")),
			Quantity:  strings.TrimSpace(r.PostForm.Get(p + "quantity")),
			UnitPrice: strings.TrimSpace(r.PostForm.Get(p + "unit_price")),
		})
	}
	switch {
	case r.PostForm.Get("add") != "":
		if len(rows) < maxFormLines {
			rows = append(rows, lineRow{Quantity: "1"})
		}
		edited = true
	case r.PostForm.Get("remove") != "":
		if k := atoiOr(r.PostForm.Get("remove"), -1); k >= 0 && k < len(rows) {
			rows = append(rows[:k], rows[k+1:]...)
		}
		edited = true
	case r.PostForm.Get("recalc") != "":
		edited = true
	}
	for i := range rows {
		rows[i].Index = i
	}
	return rows, edited, nil
}

// apiLines turns the form's rows into the API's lines, leaving out rows
// without product and price; slot[k] is the form row of the API's line k.
func apiLines(rows []lineRow) (lines []map[string]string, slot []int) {
	lines = []map[string]string{}
	for i, l := range rows {
		if l.ProductID == "" && l.UnitPrice == "" {
			continue
		}
		m := map[string]string{"product_id": l.ProductID, "quantity": l.Quantity}
		if l.UnitPrice != "" {
			m["unit_price"] = l.UnitPrice
		}
		lines = append(lines, m)
		slot = append(slot, i)
	}
	return lines, slot
}

// lineErrors moves the API's errors on lines[k] to the form row they came
// from, and says "add at least one line" when no row was filled in.
func lineErrors(d *webpage.Data, slot []int) {
	errs := make(map[string]string, len(d.Errors))
	for f, msg := range d.Errors {
		var k int
		var rest string
		if n, _ := fmt.Sscanf(f, "lines[%d].%s", &k, &rest); n == 2 && k >= 0 && k < len(slot) {
			f = fmt.Sprintf("lines[%d].%s", slot[k], rest)
		}
		errs[f] = msg
	}
	if len(slot) == 0 {
		errs["lines"] = errNoLines.Message
	}
	d.Errors = errs
}

// checkInvoiceForm finds every invalid field of the form at once (the API
// stops at the first), so each is shown beside its input; it returns
// whether there was any.
func checkInvoiceForm(d *webpage.Data, rows []lineRow, slot []int) bool {
	errs := map[string]string{}
	add := func(err error) {
		var ae *httpapi.Error
		if errors.As(err, &ae) {
			errs[ae.Field] = ae.Message
		}
	}
	if d.Form["customer_id"] == "" {
		errs["customer_id"] = "is required"
	}
	if v := d.Form["issued_on"]; v != "" {
		add(httpapi.Date(v).Check("issued_on"))
	}
	if len(slot) == 0 {
		errs["lines"] = errNoLines.Message
	}
	for _, i := range slot {
		l, p := rows[i], fmt.Sprintf("lines[%d].", i)
		if l.ProductID == "" {
			errs[p+"product_id"] = "choose a product"
		}
		add(httpapi.Decimal(l.Quantity).Check(p+"quantity", 3, true))
		if l.UnitPrice != "" {
			add(httpapi.Decimal(l.UnitPrice).Check(p+"unit_price", 2, false))
		}
	}
	if len(errs) == 0 {
		return false
	}
	d.Errors = errs
	return true
}

// invoicesSubmit creates an invoice with the form's filled-in rows through
// the API's handler; a refused field is shown beside its input. The form's
// add and remove buttons show it again with one row more or less.
func (s *Server) invoicesSubmit(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	rows, edited, err := readInvoiceForm(w, r, d)
	if err != nil {
		return err
	}
	if edited {
		return s.renderInvoices(w, r, d, http.StatusOK, rows)
	}
	in := map[string]any{"customer_id": d.Form["customer_id"]}
	for _, k := range []string{"status", "location_id", "issued_on"} {
		if v := d.Form[k]; v != "" {
			in[k] = v
		}
	}
	lines, slot := apiLines(rows)
	in["lines"] = lines
	if checkInvoiceForm(d, rows, slot) {
		return s.renderInvoices(w, r, d, http.StatusBadRequest, rows)
	}
	if _, err := s.callAPI(r, s.createInvoice, http.MethodPost, nil, in, nil); err != nil {
		status, err := d.FieldError(err)
		if err != nil {
			return err
		}
		lineErrors(d, slot)
		return s.renderInvoices(w, r, d, status, rows)
	}
	webpage.SeeOther(w, r, "/invoices?created=1")
	return nil
}

// invoiceView is one invoice as the detail and print pages show it.
type invoiceView struct {
	Invoice
	Customer                 Customer
	Location                 string
	Lines                    []invoiceLineView
	CanEdit, CanIssue        bool
	CanPay, CanVoid, Deleted bool
}

type invoiceLineView struct {
	Product, SKU, Quantity, UnitPrice, Amount string
}

// loadInvoiceView reads the {id} invoice through the API's handler, with
// the names of its customer, products and location.
func (s *Server) loadInvoiceView(r *http.Request) (*invoiceView, error) {
	var inv Invoice
	if _, err := s.callAPI(r, s.getInvoice, http.MethodGet, nil, nil, &inv); err != nil {
		return nil, err
	}
	v := &invoiceView{Invoice: inv}
	cr := mux.SetURLVars(r, map[string]string{"id": inv.CustomerID.String()})
	if _, err := s.callAPI(cr, s.getCustomer, http.MethodGet, nil, nil, &v.Customer); err != nil {
		return nil, err
	}
	db, err := s.db(r)
	if err != nil {
		return nil, err
	}
	ids := make([]uuid.UUID, 0, len(inv.Lines))
	for _, l := range inv.Lines {
		ids = append(ids, l.ProductID)
	}
	type prod struct{ sku, name string }
	prods := map[uuid.UUID]prod{}
	rows, err := db.Query(r.Context(), `SELECT id, sku, name FROM products WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	var id uuid.UUID
	var p prod
	if _, err := pgx.ForEachRow(rows, []any{&id, &p.sku, &p.name}, func() error { prods[id] = p; return nil }); err != nil {
		return nil, err
	}
	for _, l := range inv.Lines {
		p := prods[l.ProductID]
		v.Lines = append(v.Lines, invoiceLineView{Product: p.name, SKU: p.sku, Quantity: trimQuantity(l.Quantity), UnitPrice: l.UnitPrice, Amount: l.Amount})
	}
	if inv.LocationID != nil {
		locs, err := s.tenantLocations(r)
		if err != nil {
			return nil, err
		}
		for _, l := range locs {
			if l.ID == inv.LocationID.String() {
				v.Location = l.Name
			}
		}
	}
	next := invoiceTransitions[inv.Status]
	for _, st := range next {
		switch st {
		case "issued":
			v.CanIssue = true
		case "paid":
			v.CanPay = true
		case "void":
			v.CanVoid = true
		}
	}
	v.CanEdit = inv.Status == "draft"
	return v, nil
}

// invoiceNotices are the notices after an action on an invoice (?done=).
var invoiceNotices = map[string]string{
	"created": "Invoice created.", "saved": "Invoice saved.", "issued": "Invoice issued.",
	"paid": "Invoice marked as paid.", "void": "Invoice voided.",
}

func (s *Server) invoicePage(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	d.Notice = invoiceNotices[r.URL.Query().Get("done")]
	return s.renderInvoice(w, r, d, http.StatusOK, "invoice")
}

// renderInvoice draws the {id} invoice with page ("invoice", the detail
// with its actions; "invoice_print"; "invoice_confirm").
func (s *Server) renderInvoice(w http.ResponseWriter, r *http.Request, d *webpage.Data, status int, page string) error {
	v, err := s.loadInvoiceView(r)
	if err != nil {
		return err
	}
	d.Title, d.Active = fmt.Sprintf("Invoice %d", v.Number), "invoices"
	// A confirmation of what the invoice no longer allows shows why instead.
	if c, ok := d.Data.(*invoiceConfirm); ok && (c.Action == "delete" && !v.CanEdit || c.Action == "void" && !v.CanVoid) {
		d.Error = fmt.Sprintf("A %s invoice cannot be %s.", v.Status, map[string]string{"delete": "deleted", "void": "voided"}[c.Action])
		d.Data, page, status = nil, "invoice", http.StatusConflict
	}
	if d.Data == nil {
		d.Data = v
	} else if c, ok := d.Data.(*invoiceConfirm); ok {
		c.Invoice = v
	}
	webpage.Render(w, r, s.log, tenantPages, status, page, d)
	return nil
}

func (s *Server) invoicePrintPage(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	return s.renderInvoice(w, r, d, http.StatusOK, "invoice_print")
}

// invoiceStatusSubmit moves the {id} invoice to the posted status (issued,
// paid) through the API, which refuses a move not allowed; the refusal is
// shown on the invoice.
func (s *Server) invoiceStatusSubmit(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	if err := webpage.ParseForm(w, r); err != nil {
		return err
	}
	return s.changeStatus(w, r, d, r.PostForm.Get("status"))
}

func (s *Server) changeStatus(w http.ResponseWriter, r *http.Request, d *webpage.Data, to string) error {
	var inv Invoice
	if _, err := s.callAPI(r, s.updateInvoice, http.MethodPatch, nil, map[string]string{"status": to}, &inv); err != nil {
		status, err := d.FieldError(err)
		if err != nil {
			return err
		}
		if msg := d.Errors["status"]; msg != "" {
			d.Error, d.Errors = capitalize(msg)+".", nil
		}
		return s.renderInvoice(w, r, d, status, "invoice")
	}
	webpage.SeeOther(w, r, fmt.Sprintf("/invoices/%s?done=%s", inv.ID, url.QueryEscape(to)))
	return nil
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// invoiceConfirm is the confirmation page of a void or a delete.
type invoiceConfirm struct {
	Invoice       *invoiceView
	Action        string // "void" or "delete"
	Question, Do  string
	Consequence   string
	ButtonClasses string
}

func confirmOf(action string) *invoiceConfirm {
	if action == "delete" {
		return &invoiceConfirm{Action: "delete", Question: "Delete this draft invoice?", Do: "Delete invoice",
			Consequence: "The draft and its lines are removed for good."}
	}
	return &invoiceConfirm{Action: "void", Question: "Void this invoice?", Do: "Void invoice",
		Consequence: "A void invoice stays on record but counts for nothing; it cannot be issued, paid or edited again."}
}

func (s *Server) invoiceVoidPage(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	d.Data = confirmOf("void")
	return s.renderInvoice(w, r, d, http.StatusOK, "invoice_confirm")
}

func (s *Server) invoiceDeletePage(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	d.Data = confirmOf("delete")
	return s.renderInvoice(w, r, d, http.StatusOK, "invoice_confirm")
}

func (s *Server) invoiceVoidSubmit(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	if err := webpage.ParseForm(w, r); err != nil {
		return err
	}
	return s.changeStatus(w, r, d, "void")
}

// invoiceDeleteSubmit deletes the {id} draft through the API; an invoice
// no longer a draft is refused, shown on the invoice.
func (s *Server) invoiceDeleteSubmit(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	if err := webpage.ParseForm(w, r); err != nil {
		return err
	}
	var inv Invoice
	if _, err := s.callAPI(r, s.getInvoice, http.MethodGet, nil, nil, &inv); err != nil {
		return err
	}
	if _, err := s.callAPI(r, s.deleteInvoice, http.MethodDelete, nil, nil, nil); err != nil {
		if _, err := d.FieldError(err); err != nil {
			return err
		}
		return s.renderInvoice(w, r, d, http.StatusConflict, "invoice")
	}
	webpage.SeeOther(w, r, fmt.Sprintf("/invoices?deleted=%d", inv.Number))
	return nil
}

// invoiceEditPage shows a draft's form filled in; an invoice no longer a
// draft shows why it cannot be edited.
func (s *Server) invoiceEditPage(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	var inv Invoice
	if _, err := s.callAPI(r, s.getInvoice, http.MethodGet, nil, nil, &inv); err != nil {
		return err
	}
	if inv.Status != "draft" {
		d.Error = errNotDraft.Message + "."
		return s.renderInvoice(w, r, d, http.StatusConflict, "invoice")
	}
	if len(inv.Lines) > maxFormLines {
		d.Error = fmt.Sprintf("This draft has %d lines, more than the form holds (%d); change it through the API.", len(inv.Lines), maxFormLines)
		return s.renderInvoice(w, r, d, http.StatusUnprocessableEntity, "invoice")
	}
	d.Form = map[string]string{"customer_id": inv.CustomerID.String()}
	if inv.LocationID != nil {
		d.Form["location_id"] = inv.LocationID.String()
	}
	if inv.IssuedOn != nil {
		d.Form["issued_on"] = *inv.IssuedOn
	}
	rows := make([]lineRow, 0, len(inv.Lines))
	for i, l := range inv.Lines {
		rows = append(rows, lineRow{Index: i, ProductID: l.ProductID.String(), Quantity: trimQuantity(l.Quantity), UnitPrice: l.UnitPrice})
	}
	return s.renderInvoiceEdit(w, r, d, http.StatusOK, inv, rows)
}

func (s *Server) renderInvoiceEdit(w http.ResponseWriter, r *http.Request, d *webpage.Data, status int, inv Invoice, rows []lineRow) error {
	names, err := s.loadInvoiceNames(r)
	if err != nil {
		return err
	}
	// The invoices page without its list: the same form, filled in.
	data := invoicesData{Form: invoiceForm{
		Action: fmt.Sprintf("/invoices/%s/edit", inv.ID), Heading: fmt.Sprintf("Edit draft invoice %d", inv.Number), Submit: "Save invoice",
		Edit: true, Customers: names.customers, Locations: names.locations, Products: names.products,
		Lines: rows, Total: formTotal(rows, names.prices), Cancel: fmt.Sprintf("/invoices/%s", inv.ID), MaxLines: maxFormLines,
	}}
	setLineForm(d, rows)
	d.Title, d.Active, d.Data = fmt.Sprintf("Edit invoice %d", inv.Number), "invoices", data
	webpage.Render(w, r, s.log, tenantPages, status, "invoices", d)
	return nil
}

// invoiceEditSubmit saves a draft's customer, location, date and lines
// through the API (PATCH), which refuses an invoice no longer a draft.
func (s *Server) invoiceEditSubmit(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	var inv Invoice
	if _, err := s.callAPI(r, s.getInvoice, http.MethodGet, nil, nil, &inv); err != nil {
		return err
	}
	rows, edited, err := readInvoiceForm(w, r, d)
	if err != nil {
		return err
	}
	if edited {
		return s.renderInvoiceEdit(w, r, d, http.StatusOK, inv, rows)
	}
	lines, slot := apiLines(rows)
	if checkInvoiceForm(d, rows, slot) {
		return s.renderInvoiceEdit(w, r, d, http.StatusBadRequest, inv, rows)
	}
	in := map[string]any{"customer_id": d.Form["customer_id"], "lines": lines, "location_id": nil, "issued_on": nil}
	if v := d.Form["location_id"]; v != "" {
		in["location_id"] = v
	}
	if v := d.Form["issued_on"]; v != "" {
		in["issued_on"] = v
	}
	if _, err := s.callAPI(r, s.updateInvoice, http.MethodPatch, nil, in, nil); err != nil {
		var ae *httpapi.Error
		if errors.As(err, &ae) && ae.Code == "invoice_not_draft" {
			d.Error = ae.Message + "."
			return s.renderInvoice(w, r, d, ae.Status, "invoice")
		}
		status, err := d.FieldError(err)
		if err != nil {
			return err
		}
		lineErrors(d, slot)
		return s.renderInvoiceEdit(w, r, d, status, inv, rows)
	}
	webpage.SeeOther(w, r, fmt.Sprintf("/invoices/%s?done=saved", inv.ID))
	return nil
}

// invoiceScript serves the invoice form's progressive enhancement: rows
// added and removed in place, the total updated as you type. The form works
// without it.
func (s *Server) invoiceScript(w http.ResponseWriter, r *http.Request) {
	b, err := web.ReadFile("web/invoice-form.js")
	if err != nil {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(b)
}

// invoicePageRoutes adds the invoice's own pages (detail, edit, status,
// void and delete with confirmation, print), the reports page, and the
// invoice form's script.
func (s *Server) invoicePageRoutes(r *mux.Router) {
	get := []string{http.MethodGet, http.MethodHead}
	r.Handle("/invoice-form.js", http.HandlerFunc(s.invoiceScript)).Methods(get...)
	r.Handle("/invoices/{id}", s.page(true, s.invoicePage)).Methods(get...)
	r.Handle("/invoices/{id}/print", s.page(true, s.invoicePrintPage)).Methods(get...)
	r.Handle("/invoices/{id}/edit", s.page(true, s.invoiceEditPage)).Methods(get...)
	r.Handle("/invoices/{id}/edit", s.page(true, s.invoiceEditSubmit)).Methods(http.MethodPost)
	r.Handle("/invoices/{id}/status", s.page(true, s.invoiceStatusSubmit)).Methods(http.MethodPost)
	r.Handle("/invoices/{id}/void", s.page(true, s.invoiceVoidPage)).Methods(get...)
	r.Handle("/invoices/{id}/void", s.page(true, s.invoiceVoidSubmit)).Methods(http.MethodPost)
	r.Handle("/invoices/{id}/delete", s.page(true, s.invoiceDeletePage)).Methods(get...)
	r.Handle("/invoices/{id}/delete", s.page(true, s.invoiceDeleteSubmit)).Methods(http.MethodPost)
	r.Handle("/reports", s.page(true, s.reportsPage)).Methods(get...)
	r.Handle("/reports.csv", s.page(true, s.reportsCSV)).Methods(get...)
}
