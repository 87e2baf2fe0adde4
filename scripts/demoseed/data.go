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
}

// sampleData is one tenant's demo content.
type sampleData struct {
	Customers []Customer
	Products  []Product
	Invoices  []sampleInvoice
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
		}
	default:
		return sampleData{
			Customers: []Customer{{Name: "First Customer", Email: "first@customer.example"}},
			Products:  []Product{{SKU: "ITEM-1", Name: "Sample item", Price: "10.00"}},
			Invoices:  []sampleInvoice{{Customer: "first@customer.example", Lines: map[string]int{"ITEM-1": 1}, Status: "issued"}},
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

	invoices, err := list[Invoice](ctx, c, "/api/invoices")
	if err != nil {
		return added, fmt.Errorf("listing invoices: %w", err)
	}
	if len(invoices) > 0 {
		return added, nil
	}
	locations, err := list[Location](ctx, c, "/api/locations")
	if err != nil {
		return added, fmt.Errorf("listing locations: %w", err)
	}
	for i, s := range d.Invoices {
		inv := Invoice{CustomerID: customerID[s.Customer], Status: s.Status}
		if s.Status != "draft" {
			// Spread over the last days so the dashboard's sales per day show something.
			inv.IssuedOn = time.Now().AddDate(0, 0, -2*i).Format(time.DateOnly)
		}
		if len(locations) > 0 {
			inv.LocationID = locations[i%len(locations)].ID
		}
		for _, sku := range sortedKeys(s.Lines) {
			inv.Lines = append(inv.Lines, InvoiceLine{ProductID: productID[sku], Quantity: strconv.Itoa(s.Lines[sku])})
		}
		if err := c.do(ctx, http.MethodPost, "/api/invoices", inv, nil); err != nil {
			return added, fmt.Errorf("adding invoice %d for %s: %w", i+1, s.Customer, err)
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
