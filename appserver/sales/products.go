package sales

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tenantgate/tenantgate/appserver/httpapi"
)

// Product is something the tenant sells; Price is a decimal string.
type Product struct {
	ID        uuid.UUID `json:"id"`
	SKU       string    `json:"sku"`
	Name      string    `json:"name"`
	Price     string    `json:"price"`
	CreatedAt time.Time `json:"created_at"`
}

type productInput struct {
	SKU   *string          `json:"sku"`
	Name  *string          `json:"name"`
	Price *httpapi.Decimal `json:"price"`
}

func (in *productInput) validate(create bool) error {
	for _, f := range []**string{&in.SKU, &in.Name} {
		if *f != nil {
			v := strings.TrimSpace(**f)
			*f = &v
		}
	}
	var fe fieldErrors
	switch {
	case create && in.SKU == nil, in.SKU != nil && *in.SKU == "":
		fe.invalid("sku", "is required")
	case in.SKU != nil && len(*in.SKU) > 64:
		fe.invalid("sku", "must be at most 64 characters")
	}
	switch {
	case create && in.Name == nil, in.Name != nil && *in.Name == "":
		fe.invalid("name", "is required")
	case in.Name != nil && len(*in.Name) > 200:
		fe.invalid("name", "must be at most 200 characters")
	}
	switch {
	case create && in.Price == nil:
		fe.invalid("price", "is required")
	case in.Price != nil:
		fe.add(in.Price.Check("price", 2, false))
	}
	return fe.err()
}

// productList is the searchable, sortable list of products.
var productList = listSpec{table: "products", columns: productColumns,
	search: []string{"sku", "name"},
	sorts:  map[string]string{"sku": "lower(sku)", "name": "lower(name)", "price": "price"}}

const productColumns = `id, sku, name, price::text, created_at`

func scanProduct(row pgx.Row) (Product, error) {
	var p Product
	err := row.Scan(&p.ID, &p.SKU, &p.Name, &p.Price, &p.CreatedAt)
	return p, err
}

// skuTaken turns the unique violation of products.sku into 409 sku_taken.
func skuTaken(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return httpapi.Conflict("sku_taken", "sku", "another product has this SKU")
	}
	return err
}

func (s *Server) listProducts(w http.ResponseWriter, r *http.Request) error {
	if wantsOffsetList(r) {
		return listOffset(s, w, r, productList, scanProduct)
	}
	return listRows(s, w, r, "products", productColumns, scanProduct,
		func(p Product) (time.Time, uuid.UUID) { return p.CreatedAt, p.ID })
}

func (s *Server) createProduct(w http.ResponseWriter, r *http.Request) error {
	var in productInput
	if err := readInput(w, r, &in); err != nil {
		return err
	}
	return skuTaken(writeRow(s, w, r, http.StatusCreated, scanProduct, `INSERT INTO products (sku, name, price)
		VALUES ($1, $2, $3::numeric) RETURNING `+productColumns, in.SKU, in.Name, string(*in.Price)))
}

func (s *Server) getProduct(w http.ResponseWriter, r *http.Request) error {
	return getRow(s, w, r, "products", productColumns, scanProduct)
}

func (s *Server) updateProduct(w http.ResponseWriter, r *http.Request) error {
	var in productInput
	id, err := readPatch(w, r, &in)
	if err != nil {
		return err
	}
	var price *string
	if in.Price != nil {
		p := string(*in.Price)
		price = &p
	}
	return skuTaken(writeRow(s, w, r, http.StatusOK, scanProduct, `UPDATE products SET
		sku = coalesce($2, sku), name = coalesce($3, name), price = coalesce($4::numeric, price)
		WHERE id = $1 RETURNING `+productColumns, id, in.SKU, in.Name, price))
}

func (s *Server) deleteProduct(w http.ResponseWriter, r *http.Request) error {
	return s.deleteRow(w, r, "products", "the product appears on invoices")
}
