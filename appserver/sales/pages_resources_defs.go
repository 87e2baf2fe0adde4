package sales

import (
	"net/http"

	"github.com/tenantgate/tenantgate/appserver/webpage"
)

// resources are the pages of issue 13, built once per Server (they hold its
// API handlers).
type resources struct {
	customers, products, expenses, users, locations *resource
}

// staticFields returns fs for every request.
func staticFields(fs ...formField) func(*http.Request) ([]formField, error) {
	return func(*http.Request) ([]formField, error) { return fs, nil }
}

// textOrNil is the form value as the API wants an optional create field:
// absent when empty (the API's default), the value otherwise; an edit sends
// it as is, so an emptied field is emptied.
func textOrNil(form map[string]string, name string, create bool, in map[string]any) {
	if v := form[name]; v != "" || !create {
		in[name] = v
	}
}

func (s *Server) newResources() *resources {
	rs := &resources{}
	rs.customers = &resource{
		Path: "/customers", Title: "Customers", Singular: "customer", Plural: "customers", ID: "customers",
		list: s.listCustomers, get: s.getCustomer, create: s.createCustomer, update: s.updateCustomer, remove: s.deleteCustomer,
		Columns: []column{{Key: "name", Label: "Name", Sort: "name"}, {Key: "email", Label: "E-mail", Sort: "email"},
			{Key: "phone", Label: "Phone"}, {Key: "address", Label: "Address"}},
		fields: staticFields(
			formField{Name: "name", Label: "Name", Type: "text", Autocomplete: "off"},
			formField{Name: "email", Label: "E-mail", Type: "email", Autocomplete: "off"},
			formField{Name: "phone", Label: "Phone", Type: "tel", Autocomplete: "off"},
			formField{Name: "address", Label: "Address", Type: "text", Autocomplete: "off"}),
		formNames: []string{"name", "email", "phone", "address"},
		input: func(f map[string]string, create bool) any {
			in := map[string]any{"name": f["name"]}
			for _, n := range []string{"email", "phone", "address"} {
				textOrNil(f, n, create, in)
			}
			return in
		},
		createdNotice: "Customer added.", savedNotice: "Customer saved.", gonePage: "Customer deleted.",
	}
	rs.products = &resource{
		Path: "/products", Title: "Products", Singular: "product", Plural: "products", ID: "products",
		list: s.listProducts, get: s.getProduct, create: s.createProduct, update: s.updateProduct, remove: s.deleteProduct,
		Columns: []column{{Key: "sku", Label: "SKU", Sort: "sku", Kind: "mono"}, {Key: "name", Label: "Name", Sort: "name"},
			{Key: "price", Label: "Price", Sort: "price", Kind: "money"}},
		fields: staticFields(
			formField{Name: "sku", Label: "SKU", Type: "text", Autocomplete: "off"},
			formField{Name: "name", Label: "Name", Type: "text", Autocomplete: "off"},
			formField{Name: "price", Label: "Price", Type: "text", Autocomplete: "off"}),
		formNames: []string{"sku", "name", "price"},
		input: func(f map[string]string, create bool) any {
			in := map[string]any{"sku": f["sku"], "name": f["name"]}
			if f["price"] != "" || !create {
				in["price"] = f["price"]
			}
			return in
		},
		createdNotice: "Product added.", savedNotice: "Product saved.", gonePage: "Product deleted.",
	}
	rs.expenses = &resource{
		Path: "/expenses", Title: "Expenses", Singular: "expense", Plural: "expenses", ID: "expenses",
		list: s.listExpenses, get: s.getExpense, create: s.createExpense, update: s.updateExpense, remove: s.deleteExpense,
		Columns: []column{{Key: "description", Label: "Description", Sort: "description"}, {Key: "spent_on", Label: "Spent on", Sort: "spent_on"},
			{Key: "location_id", Label: "Location", Kind: "location"}, {Key: "amount", Label: "Amount", Sort: "amount", Kind: "money"}},
		fields: func(r *http.Request) ([]formField, error) {
			locs, err := s.tenantLocations(r)
			if err != nil {
				return nil, err
			}
			opts := []webpage.Option{}
			for _, l := range locs {
				if l.Active {
					opts = append(opts, webpage.Option{Value: l.ID, Label: l.Name})
				}
			}
			return []formField{
				{Name: "description", Label: "Description", Type: "text", Autocomplete: "off"},
				{Name: "amount", Label: "Amount", Type: "text", Autocomplete: "off"},
				{Name: "spent_on", Label: "Spent on", Type: "date", Autocomplete: "off"},
				{Name: "location_id", Label: "Location", Options: opts, Blank: true},
			}, nil
		},
		formNames: []string{"description", "amount", "spent_on", "location_id"},
		input: func(f map[string]string, create bool) any {
			in := map[string]any{"description": f["description"]}
			for _, n := range []string{"amount", "spent_on"} {
				if f[n] != "" || !create {
					in[n] = f[n]
				}
			}
			if v := f["location_id"]; v != "" {
				in["location_id"] = v
			} else if !create {
				in["location_id"] = nil
			}
			return in
		},
		createdNotice: "Expense recorded.", savedNotice: "Expense saved.", gonePage: "Expense deleted.",
	}
	rs.users = &resource{
		Path: "/users", Title: "Users", Singular: "user", Plural: "users", ID: "users", admin: true,
		list: s.listUsers, get: s.getUser, create: s.createUser, update: s.updateUser, remove: s.deleteUser,
		Columns: []column{{Key: "email", Label: "E-mail", Sort: "email"}, {Key: "name", Label: "Name", Sort: "name"},
			{Key: "role", Label: "Role", Sort: "role", Kind: "role"}, {Key: "active", Label: "Status", Sort: "active", Kind: "bool"}},
		fields: staticFields(
			formField{Name: "email", Label: "E-mail", Type: "email", Autocomplete: "off", CreateOnly: true},
			formField{Name: "name", Label: "Name", Type: "text", Autocomplete: "off"},
			formField{Name: "role", Label: "Role", Options: []webpage.Option{{Value: "member", Label: "Member"}, {Value: "admin", Label: "Administrator"}}},
			formField{Name: "password", Label: "Initial password (8–72 bytes)", Type: "password", Autocomplete: "new-password", CreateOnly: true}),
		formNames: []string{"email", "name", "role", "password"},
		input: func(f map[string]string, create bool) any {
			if create {
				return map[string]any{"email": f["email"], "name": f["name"], "role": f["role"], "password": f["password"]}
			}
			return map[string]any{"name": f["name"], "role": f["role"]}
		},
		extra: func(r *http.Request, v *resourceView) error {
			var seats Seats
			if _, err := s.callAPI(r, s.userSeats, http.MethodGet, nil, nil, &seats); err != nil {
				return err
			}
			v.Seats = &seats
			return nil
		},
		DeleteNote:    "Deleting frees a seat; deactivating keeps the user and their seat.",
		createdNotice: "User created.", savedNotice: "User saved.", gonePage: "User deleted.",
	}
	rs.locations = &resource{
		Path: "/locations", Title: "Locations", Singular: "location", Plural: "locations", ID: "locations", ReadOnly: true,
		list: s.listLocations, get: s.getLocation,
		Columns: []column{{Key: "name", Label: "Name", Sort: "name"}, {Key: "code", Label: "Code", Sort: "code", Kind: "mono"},
			{Key: "address", Label: "Address"}, {Key: "active", Label: "Status", Sort: "active", Kind: "bool"}},
	}
	return rs
}
