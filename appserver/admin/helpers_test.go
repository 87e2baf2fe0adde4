package admin

import (
	"crypto/rand"
	"net/http"
	"regexp"
)

// response is an answer of the admin router, its JSON body decoded.
type response struct {
	Status int
	Body   map[string]any
	Raw    []byte
	Header http.Header
}

func (r response) errorCode() string {
	if e, ok := r.Body["error"].(map[string]any); ok {
		s, _ := e["code"].(string)
		return s
	}
	return ""
}

func (r response) errorField() string {
	if e, ok := r.Body["error"].(map[string]any); ok {
		s, _ := e["field"].(string)
		return s
	}
	return ""
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// fieldErrorOf returns the message shown beside the field with id, or "".
func fieldErrorOf(html, id string) string {
	re := regexp.MustCompile(`<span class="field-error" id="` + regexp.QuoteMeta(id) + `-error">([^<]*)</span>`)
	if m := re.FindStringSubmatch(html); m != nil {
		return m[1]
	}
	return ""
}
