package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// Customer, Product, Location and Invoice carry the fields of SPEC §7 that
// the seeder reads or writes.
type (
	Customer struct {
		ID      string `json:"id,omitempty"`
		Name    string `json:"name"`
		Email   string `json:"email"`
		Phone   string `json:"phone,omitempty"`
		Address string `json:"address,omitempty"`
	}
	Product struct {
		ID    string `json:"id,omitempty"`
		SKU   string `json:"sku"`
		Name  string `json:"name"`
		Price string `json:"price"`
	}
	Location struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		Code string `json:"code"`
	}
	InvoiceLine struct {
		ProductID string `json:"product_id"`
		Quantity  string `json:"quantity"`
	}
	Expense struct {
		Description string `json:"description"`
		Amount      string `json:"amount"`
		SpentOn     string `json:"spent_on"`
		LocationID  string `json:"location_id,omitempty"`
	}
	Invoice struct {
		ID         string        `json:"id,omitempty"`
		CustomerID string        `json:"customer_id"`
		LocationID string        `json:"location_id,omitempty"`
		Status     string        `json:"status,omitempty"`
		IssuedOn   string        `json:"issued_on,omitempty"`
		Lines      []InvoiceLine `json:"lines"`
	}
)

// sampleInvoice names a demo invoice by customer email and product SKUs; the
// location is picked round-robin from the tenant's locations.
type sampleInvoice struct {
	Customer string
	Lines    map[string]int // SKU → quantity
	Status   string
	DaysAgo  int  // issued that many days ago; 0: spread over the last days
	Void     bool // issued, then voided
}

// sampleData is one tenant's demo content.
type sampleData struct {
	Customers []Customer
	Products  []Product
	Invoices  []sampleInvoice
	// Rent is the monthly rent of each location (or of the business
	// without locations); Supplies a smaller monthly expense.
	Rent, Supplies int
}

// historyMonths is how many months of past invoices and expenses the demo
// data covers, so the reports have something to show.
const historyMonths = 5

// withHistory adds historyMonths of past invoices to d: six a month, in
// mixed states (older ones mostly paid, some void; last month's partly
// still issued), the same every run.
func withHistory(d sampleData) sampleData {
	if len(d.Customers) == 0 || len(d.Products) == 0 {
		return d
	}
	n := 0
	for m := historyMonths; m >= 1; m-- {
		for k := range 6 {
			n++
			inv := sampleInvoice{
				Customer: d.Customers[n%len(d.Customers)].Email,
				Lines:    map[string]int{d.Products[n%len(d.Products)].SKU: 1 + n%4},
				DaysAgo:  m*30 - k*5,
				Status:   "paid",
			}
			if n%3 == 0 {
				inv.Lines[d.Products[(n+1)%len(d.Products)].SKU] = 1 + n%3
			}
			switch {
			case n%7 == 0:
				inv.Status, inv.Void = "issued", true
			case m == 1 && k < 4: // last month's, at every location
				inv.Status = "issued"
			}
			d.Invoices = append(d.Invoices, inv)
		}
	}
	return d
}

// expenses are the monthly rent and supplies of each location (or of the
// business without locations) over the history, dated the 3rd and 15th.
func expenses(d sampleData, locations []Location, now time.Time) []Expense {
	ids := []string{""}
	if len(locations) > 0 {
		ids = ids[:0]
		for _, l := range locations {
			ids = append(ids, l.ID)
		}
	}
	var out []Expense
	first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	for m := historyMonths; m >= 0; m-- {
		month := first.AddDate(0, -m, 0)
		for i, id := range ids {
			for _, e := range []struct {
				what   string
				amount int
				day    int
			}{{"Rent", d.Rent, 3}, {"Supplies", d.Supplies + 7*i + 3*m, 15}} {
				on := month.AddDate(0, 0, e.day-1)
				if e.amount == 0 || on.After(now) {
					continue
				}
				out = append(out, Expense{Description: fmt.Sprintf("%s, %s", e.what, month.Format("January 2006")),
					Amount: fmt.Sprintf("%d.00", e.amount), SpentOn: on.Format(time.DateOnly), LocationID: id})
			}
		}
	}
	return out
}

// catalog returns the demo content of a tenant: a hardware shop for acme, a
// consultancy for globex, a small generic set for anything else.
func catalog(sub string) sampleData {
	switch sub {
	case "acme":
		return sampleData{
			Customers: []Customer{
				{Name: "Road Runner Logistics", Email: "orders@roadrunner.example", Phone: "+1 555 0100", Address: "1 Desert Rd"},
				{Name: "Wile E. Coyote", Email: "wile@coyote.example", Phone: "+1 555 0101", Address: "Mesa 7"},
				{Name: "Marvin Industries", Email: "buying@marvin.example", Address: "Mars Base 1"},
			},
			Products: []Product{
				{SKU: "ANV-100", Name: "Anvil, 100 lb", Price: "129.99"},
				{SKU: "RKT-SK8", Name: "Rocket skates", Price: "349.50"},
				{SKU: "TNT-12", Name: "Dynamite, box of 12", Price: "24.95"},
				{SKU: "GLU-01", Name: "Super glue", Price: "3.10"},
			},
			Invoices: []sampleInvoice{
				{Customer: "wile@coyote.example", Lines: map[string]int{"ANV-100": 2, "RKT-SK8": 1}, Status: "issued"},
				{Customer: "orders@roadrunner.example", Lines: map[string]int{"GLU-01": 40}, Status: "paid"},
				{Customer: "wile@coyote.example", Lines: map[string]int{"TNT-12": 3, "GLU-01": 5}, Status: "issued"},
				{Customer: "buying@marvin.example", Lines: map[string]int{"RKT-SK8": 4}, Status: "draft"},
			},
			Rent: 350, Supplies: 60,
		}
	case "globex":
		return sampleData{
			Customers: []Customer{
				{Name: "Springfield Power", Email: "ap@springfieldpower.example", Phone: "+1 555 0200", Address: "100 Industrial Way"},
				{Name: "Cypress Creek HOA", Email: "board@cypresscreek.example", Address: "Cypress Creek"},
			},
			Products: []Product{
				{SKU: "CONS-H", Name: "Consulting, per hour", Price: "180.00"},
				{SKU: "AUDIT", Name: "Security audit", Price: "4500.00"},
				{SKU: "HAMMK", Name: "Hammock", Price: "89.90"},
			},
			Invoices: []sampleInvoice{
				{Customer: "ap@springfieldpower.example", Lines: map[string]int{"CONS-H": 12, "AUDIT": 1}, Status: "issued"},
				{Customer: "board@cypresscreek.example", Lines: map[string]int{"HAMMK": 3}, Status: "paid"},
			},
			Rent: 900, Supplies: 45,
		}
	default:
		return sampleData{
			Customers: []Customer{{Name: "First Customer", Email: "first@customer.example"}},
			Products:  []Product{{SKU: "ITEM-1", Name: "Sample item", Price: "10.00"}},
			Invoices:  []sampleInvoice{{Customer: "first@customer.example", Lines: map[string]int{"ITEM-1": 1}, Status: "issued"}},
			Rent:      15, Supplies: 3,
		}
	}
}

// seed adds what is missing of d and returns how many records it created.
func seed(ctx context.Context, c *client, d sampleData) (int, error) {
	added := 0

	customers, err := list[Customer](ctx, c, "/api/customers")
	if err != nil {
		return added, fmt.Errorf("listing customers: %w", err)
	}
	customerID := map[string]string{}
	for _, x := range customers {
		customerID[x.Email] = x.ID
	}
	for _, x := range d.Customers {
		if customerID[x.Email] != "" {
			continue
		}
		var out Customer
		if err := c.do(ctx, http.MethodPost, "/api/customers", x, &out); err != nil {
			return added, fmt.Errorf("adding customer %s: %w", x.Email, err)
		}
		customerID[x.Email] = out.ID
		added++
	}

	products, err := list[Product](ctx, c, "/api/products")
	if err != nil {
		return added, fmt.Errorf("listing products: %w", err)
	}
	productID := map[string]string{}
	for _, x := range products {
		productID[x.SKU] = x.ID
	}
	for _, x := range d.Products {
		if productID[x.SKU] != "" {
			continue
		}
		var out Product
		if err := c.do(ctx, http.MethodPost, "/api/products", x, &out); err != nil {
			return added, fmt.Errorf("adding product %s: %w", x.SKU, err)
		}
		productID[x.SKU] = out.ID
		added++
	}

	locations, err := list[Location](ctx, c, "/api/locations")
	if err != nil {
		return added, fmt.Errorf("listing locations: %w", err)
	}
	now := time.Now().UTC()

	// Expenses, like invoices, only go to a tenant that has none.
	spent, err := list[Expense](ctx, c, "/api/expenses")
	if err != nil {
		return added, fmt.Errorf("listing expenses: %w", err)
	}
	if len(spent) == 0 {
		for _, x := range expenses(d, locations, now) {
			if err := c.do(ctx, http.MethodPost, "/api/expenses", x, nil); err != nil {
				return added, fmt.Errorf("adding expense %q: %w", x.Description, err)
			}
			added++
		}
	}

	invoices, err := list[Invoice](ctx, c, "/api/invoices")
	if err != nil {
		return added, fmt.Errorf("listing invoices: %w", err)
	}
	if len(invoices) > 0 {
		return added, nil
	}
	// Oldest first, so invoice numbers follow the dates.
	all := withHistory(d).Invoices
	slices.SortStableFunc(all, func(a, b sampleInvoice) int { return b.DaysAgo - a.DaysAgo })
	for i, s := range all {
		inv := Invoice{CustomerID: customerID[s.Customer], Status: s.Status}
		if s.Status != "draft" {
			// Recent ones spread over the last days so the dashboard's sales per day show something.
			days := s.DaysAgo
			if days == 0 {
				days = 2 * (i % 10)
			}
			inv.IssuedOn = now.AddDate(0, 0, -days).Format(time.DateOnly)
		}
		if len(locations) > 0 {
			inv.LocationID = locations[i%len(locations)].ID
		}
		for _, sku := range sortedKeys(s.Lines) {
			inv.Lines = append(inv.Lines, InvoiceLine{ProductID: productID[sku], Quantity: strconv.Itoa(s.Lines[sku])})
		}
		var out Invoice
		if err := c.do(ctx, http.MethodPost, "/api/invoices", inv, &out); err != nil {
			return added, fmt.Errorf("adding invoice %d for %s: %w", i+1, s.Customer, err)
		}
		if s.Void {
			if err := c.do(ctx, http.MethodPatch, "/api/invoices/"+out.ID, map[string]string{"status": "void"}, nil); err != nil {
				return added, fmt.Errorf("voiding invoice %d: %w", i+1, err)
			}
		}
		added++
	}
	return added, nil
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
