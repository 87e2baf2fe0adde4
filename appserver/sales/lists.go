package sales

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/tenantgate/tenantgate/appserver/httpapi"
)

// fieldErrors is every invalid field of one input, in form order. Its
// Unwrap is the first, so the API answers that one (its error names one
// field, as it always has); the pages show them all, each beside its input.
type fieldErrors []*httpapi.Error

func (fe fieldErrors) Error() string {
	msgs := make([]string, len(fe))
	for i, e := range fe {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

func (fe fieldErrors) Unwrap() error { return fe[0] }

// add records err when it is an API error (a field check's answer); any
// other non-nil error is recorded as the field's generic refusal.
func (fe *fieldErrors) add(err error) {
	if err == nil {
		return
	}
	var ae *httpapi.Error
	if !errors.As(err, &ae) {
		ae = httpapi.InvalidField("body", err.Error())
	}
	*fe = append(*fe, ae)
}

// invalid records field with message.
func (fe *fieldErrors) invalid(field, message string) {
	*fe = append(*fe, httpapi.InvalidField(field, message))
}

// err is nil without errors, else the collection.
func (fe fieldErrors) err() error {
	if len(fe) == 0 {
		return nil
	}
	return fe
}

// MaxSearchLength bounds the ?q= of a list.
const MaxSearchLength = 200

// listSpec describes a searchable, sortable list of one table. Every string
// is a constant of this package, never user input.
type listSpec struct {
	table, columns string
	// search are the text columns ?q= matches (case-insensitive substring).
	search []string
	// sorts maps each ?sort= key to its column expression; "created" is
	// always there and is the default.
	sorts map[string]string
	// where is an extra fixed condition, or "".
	where string
}

// OffsetPage is a list answered for ?q=, ?sort= or ?offset= (the pages use
// it): a numbered window over the matching rows, so it pages forward and
// back under any order.
type OffsetPage[T any] struct {
	Items []T `json:"items"`
	// Total is how many rows match.
	Total  int    `json:"total"`
	Offset int    `json:"offset"`
	Limit  int    `json:"limit"`
	Sort   string `json:"sort"`
	Q      string `json:"q"`
}

// wantsOffsetList reports whether r asks for a searched or sorted list.
func wantsOffsetList(r *http.Request) bool {
	q := r.URL.Query()
	return q.Has("q") || q.Has("sort") || q.Has("offset")
}

// parseListQuery reads ?q=, ?sort= (a key of spec.sorts, "-" first for
// descending), ?offset= and ?limit= of r.
func parseListQuery(r *http.Request, spec listSpec) (q, sortKey, orderBy string, offset, limit int, _ error) {
	v := r.URL.Query()
	var fe fieldErrors
	q = strings.TrimSpace(v.Get("q"))
	if len(q) > MaxSearchLength {
		fe.invalid("q", fmt.Sprintf("must be at most %d characters", MaxSearchLength))
	}
	sortKey = v.Get("sort")
	if sortKey == "" {
		sortKey = "created"
	}
	key, dir := strings.TrimPrefix(sortKey, "-"), "ASC"
	if strings.HasPrefix(sortKey, "-") {
		dir = "DESC"
	}
	col, ok := spec.sorts[key]
	if key == "created" {
		col, ok = "created_at", true
	}
	if !ok {
		keys := []string{"created"}
		for k := range spec.sorts {
			keys = append(keys, k)
		}
		fe.invalid("sort", "must be one of "+strings.Join(slices.Sorted(slices.Values(keys)), ", ")+` (prefix "-" for descending)`)
	}
	orderBy = col + " " + dir + ", id " + dir
	limit = httpapi.DefaultPageLimit
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > httpapi.MaxPageLimit {
			fe.invalid("limit", fmt.Sprintf("must be a whole number from 1 to %d", httpapi.MaxPageLimit))
		}
		limit = n
	}
	if s := v.Get("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 1_000_000 {
			fe.invalid("offset", "must be a whole number from 0 to 1000000")
		}
		offset = n
	}
	return q, sortKey, orderBy, offset, limit, fe.err()
}

// listOffset answers the OffsetPage of spec's rows for r's ?q=, ?sort=,
// ?offset= and ?limit=.
func listOffset[T any](s *Server, w http.ResponseWriter, r *http.Request, spec listSpec, scan func(pgx.Row) (T, error)) error {
	q, sortKey, orderBy, offset, limit, err := parseListQuery(r, spec)
	if err != nil {
		return err
	}
	db, err := s.db(r)
	if err != nil {
		return err
	}
	conds := []string{"true"}
	if spec.where != "" {
		conds = append(conds, spec.where)
	}
	args := []any{}
	if q != "" && len(spec.search) > 0 {
		// The pattern is a parameter; LIKE's own wildcards in it are escaped.
		args = append(args, "%"+strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(q)+"%")
		var ors []string
		for _, c := range spec.search {
			ors = append(ors, c+` ILIKE $1`)
		}
		conds = append(conds, "("+strings.Join(ors, " OR ")+")")
	}
	where := strings.Join(conds, " AND ")
	var total int
	if err := db.QueryRow(r.Context(), `SELECT count(*) FROM `+spec.table+` WHERE `+where, args...).Scan(&total); err != nil {
		return err
	}
	n := len(args)
	rows, err := db.Query(r.Context(), `SELECT `+spec.columns+` FROM `+spec.table+` WHERE `+where+
		` ORDER BY `+orderBy+fmt.Sprintf(` OFFSET $%d LIMIT $%d`, n+1, n+2), append(args, offset, limit)...)
	if err != nil {
		return err
	}
	items, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (T, error) { return scan(row) })
	if err != nil {
		return err
	}
	if items == nil {
		items = []T{}
	}
	httpapi.WriteJSON(w, http.StatusOK, OffsetPage[T]{Items: items, Total: total, Offset: offset, Limit: limit, Sort: sortKey, Q: q})
	return nil
}

// httpapiError turns a control-plane validation error into the API's
// field error (what httpapi.ErrorFor would answer), so fieldErrors keeps it.
func httpapiError(err error) error {
	if err == nil {
		return nil
	}
	ae, _ := httpapi.ErrorFor(err)
	return ae
}

// asFieldErrors is the fieldErrors of a validate's answer (nil for nil).
func asFieldErrors(err error) fieldErrors {
	var fe fieldErrors
	if errors.As(err, &fe) {
		return fe
	}
	fe.add(err)
	return fe
}
