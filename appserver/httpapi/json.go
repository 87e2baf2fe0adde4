package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// maxBodyBytes bounds a JSON request body.
const maxBodyBytes = 1 << 20

// Pagination limits (SPEC §7).
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 500
)

func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// DecodeJSON reads one JSON object into dst, refusing unknown fields and
// trailing data; the error names the field at fault.
func DecodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var te *json.UnmarshalTypeError
		var fe *fieldError
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &fe):
			return InvalidField(fe.field, fe.msg)
		case errors.As(err, &te) && te.Field == "":
			return InvalidField("body", "a JSON object is required")
		case errors.As(err, &te):
			msg := "must be a " + jsonKind(te.Type.Kind().String())
			if strings.HasPrefix(te.Value, "number") && strings.HasPrefix(te.Type.Kind().String(), "int") {
				// 2.5, or 1e20 beyond int64: say what fits.
				msg = "must be a whole number within range"
			}
			return InvalidField(te.Field, msg)
		case errors.As(err, &mbe):
			return &Error{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large", Message: "request body too large"}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
			return InvalidField(f, "unknown field")
		case errors.Is(err, io.EOF):
			return InvalidField("body", "a JSON object is required")
		}
		return InvalidField("body", "malformed JSON")
	}
	if dec.More() {
		return InvalidField("body", "trailing data after the JSON object")
	}
	return nil
}

func jsonKind(k string) string {
	switch k {
	case "int", "int32", "int64", "float64":
		return "number"
	case "bool":
		return "boolean"
	case "struct", "map":
		return "object"
	case "slice":
		return "list"
	}
	return k
}

// fieldError is a decoding error of one field, raised by the value types
// below; DecodeJSON reports its field.
type fieldError struct{ field, msg string }

func (e *fieldError) Error() string { return e.field + ": " + e.msg }

// Decimal is a decimal number carried as a JSON string ("19.99") or, on
// input, a JSON number literal (kept exactly, never through float64).
type Decimal string

// UnmarshalJSON accepts "12.5" and 12.5.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*d = Decimal(strings.TrimSpace(s))
		return nil
	}
	if bytes.Equal(b, []byte("null")) {
		*d = ""
		return nil
	}
	*d = Decimal(b)
	return nil
}

var decimalRE = regexp.MustCompile(`^[0-9]{1,12}(\.[0-9]+)?$`)

// Check validates d as a non-negative decimal with at most scale digits
// after the point.
func (d Decimal) Check(field string, scale int, positive bool) error {
	s := string(d)
	if !decimalRE.MatchString(s) {
		return InvalidField(field, "must be a non-negative decimal string such as \"19.99\"")
	}
	if i := strings.IndexByte(s, '.'); i >= 0 && len(s)-i-1 > scale {
		return InvalidField(field, fmt.Sprintf("must have at most %d digits after the point", scale))
	}
	if positive && strings.Trim(s, "0.") == "" {
		return InvalidField(field, "must be greater than zero")
	}
	return nil
}

// Date is a calendar date, "YYYY-MM-DD" in JSON.
type Date string

// Check validates d as a date; field names it in the error.
func (d Date) Check(field string) error {
	if _, err := time.Parse(time.DateOnly, string(d)); err != nil {
		return InvalidField(field, "must be a date YYYY-MM-DD")
	}
	return nil
}

// Optional is a PATCH field: Set says whether it was present; Null whether it
// was JSON null (clear the value).
type Optional[T any] struct {
	Set   bool
	Null  bool
	Value T
}

// UnmarshalJSON records presence and null.
func (o *Optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// ParseID parses a UUID path or body value; a malformed one is "not found"
// in a path and a validation error in a body.
func ParseID(s string) (uuid.UUID, bool) {
	id, err := uuid.Parse(s)
	return id, err == nil
}

// Page is the list answer of SPEC §7.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// PageRequest is a keyset position: rows after (After, AfterID) in
// (created_at, id) order.
type PageRequest struct {
	Limit   int
	After   time.Time
	AfterID uuid.UUID
	HasMore bool // a cursor was given
}

// ParsePage reads ?cursor= and ?limit=.
func ParsePage(r *http.Request) (PageRequest, error) {
	q := r.URL.Query()
	p := PageRequest{Limit: DefaultPageLimit}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > MaxPageLimit {
			return p, InvalidField("limit", fmt.Sprintf("must be a whole number from 1 to %d", MaxPageLimit))
		}
		p.Limit = n
	}
	if c := q.Get("cursor"); c != "" {
		raw, err := base64.RawURLEncoding.DecodeString(c)
		ts, id, ok := strings.Cut(string(raw), "|")
		if err != nil || !ok {
			return p, InvalidField("cursor", "malformed cursor")
		}
		nanos, err := strconv.ParseInt(ts, 10, 64)
		uid, ok := ParseID(id)
		if err != nil || !ok {
			return p, InvalidField("cursor", "malformed cursor")
		}
		p.After, p.AfterID, p.HasMore = time.Unix(0, nanos).UTC(), uid, true
	}
	return p, nil
}

// Args returns the SQL arguments $1 (after time), $2 (after id), $3 (limit+1)
// for a keyset query `WHERE (created_at, id) > ($1, $2) ORDER BY created_at,
// id LIMIT $3`. Without a cursor the position is the beginning of time.
func (p PageRequest) Args() []any {
	if !p.HasMore {
		return []any{time.Unix(0, 0).UTC(), uuid.Nil, p.Limit + 1}
	}
	return []any{p.After, p.AfterID, p.Limit + 1}
}

// MakePage trims the extra row fetched to learn whether another page exists
// and builds its cursor from the last item's key.
func MakePage[T any](p PageRequest, items []T, key func(T) (time.Time, uuid.UUID)) Page[T] {
	page := Page[T]{Items: items}
	if page.Items == nil {
		page.Items = []T{}
	}
	if len(items) > p.Limit {
		page.Items = items[:p.Limit]
		ts, id := key(page.Items[p.Limit-1])
		page.NextCursor = base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d|%s", ts.UnixNano(), id))
	}
	return page
}
