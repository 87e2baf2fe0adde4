package admin

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/tenantgate/tenantgate/appserver/webpage"
)

// The readable API reference at /api/docs: the OpenAPI document rendered on
// the server (no script, nothing from a CDN), grouped by tag.

type apiSchema struct {
	Ref         string                `json:"$ref"`
	Type        any                   `json:"type"`
	Format      string                `json:"format"`
	Description string                `json:"description"`
	Enum        []any                 `json:"enum"`
	Items       *apiSchema            `json:"items"`
	Properties  map[string]*apiSchema `json:"properties"`
	Required    []string              `json:"required"`
	OneOf       []*apiSchema          `json:"oneOf"`
	AllOf       []*apiSchema          `json:"allOf"`
}

type apiParam struct {
	Name        string     `json:"name"`
	In          string     `json:"in"`
	Required    bool       `json:"required"`
	Description string     `json:"description"`
	Schema      *apiSchema `json:"schema"`
}

type apiContent map[string]struct {
	Schema *apiSchema `json:"schema"`
}

type apiOperation struct {
	Tags        []string   `json:"tags"`
	Summary     string     `json:"summary"`
	Description string     `json:"description"`
	Parameters  []apiParam `json:"parameters"`
	RequestBody *struct {
		Required bool       `json:"required"`
		Content  apiContent `json:"content"`
	} `json:"requestBody"`
	Responses map[string]struct {
		Description string     `json:"description"`
		Content     apiContent `json:"content"`
	} `json:"responses"`
}

type apiDocument struct {
	Info struct {
		Title, Version, Description string
	} `json:"info"`
	Tags []struct {
		Name, Description string
	} `json:"tags"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]*apiSchema `json:"schemas"`
	} `json:"components"`
}

// span is a piece of a description: text, or code (between backticks).
type span struct {
	Text string
	Code bool
}

// spans splits a description at its backticks, so `code` shows as code.
func spans(s string) []span {
	var out []span
	for i, part := range strings.Split(s, "`") {
		if part != "" {
			out = append(out, span{Text: part, Code: i%2 == 1})
		}
	}
	return out
}

// Views of the document for the template.
type (
	docsPage struct {
		Title, Version string
		Description    []span
		Groups         []docsGroup
		Schemas        []docsSchema
	}
	docsGroup struct {
		Tag, Description string
		Ops              []docsOp
	}
	docsOp struct {
		ID, Method, Path, Summary string
		Description               []span
		Params                    []docsParam
		Body                      string // the request body's schema, "" for none
		Responses                 []docsResponse
	}
	docsParam struct {
		Name, In, Type string
		Description    []span
		Required       bool
	}
	docsResponse struct {
		Status, Schema string
		Description    []span
	}
	docsSchema struct {
		Name, Type  string
		Description []span
		Fields      []docsParam
	}
)

var httpMethods = []string{"get", "post", "put", "patch", "delete"}

// schemaText is s in a line: a schema's name, a type, "array of …".
func schemaText(s *apiSchema) string {
	if s == nil {
		return ""
	}
	switch {
	case s.Ref != "":
		return strings.TrimPrefix(s.Ref, "#/components/schemas/")
	case s.Items != nil:
		return "array of " + schemaText(s.Items)
	case len(s.OneOf) > 0 || len(s.AllOf) > 0:
		var parts []string
		for _, x := range append(s.OneOf, s.AllOf...) {
			parts = append(parts, schemaText(x))
		}
		sep := " or "
		if len(s.AllOf) > 0 {
			sep = " and "
		}
		return strings.Join(parts, sep)
	}
	t := ""
	switch v := s.Type.(type) {
	case string:
		t = v
	case []any:
		var ts []string
		for _, x := range v {
			if x, ok := x.(string); ok {
				ts = append(ts, x)
			}
		}
		t = strings.Join(ts, " or ")
	}
	if t == "" {
		t = "any"
	}
	if s.Format != "" {
		t += " (" + s.Format + ")"
	}
	if len(s.Enum) > 0 {
		b, _ := json.Marshal(s.Enum)
		t += ", one of " + string(b)
	}
	return t
}

func contentSchema(c apiContent) string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out []string
	for _, k := range keys {
		if s := schemaText(c[k].Schema); s != "" {
			out = append(out, s)
		}
	}
	return strings.Join(out, ", ")
}

// buildDocs turns the OpenAPI document into the reference page.
func buildDocs(raw []byte) (docsPage, error) {
	var doc apiDocument
	if err := json.Unmarshal(raw, &doc); err != nil {
		return docsPage{}, err
	}
	page := docsPage{Title: doc.Info.Title, Version: doc.Info.Version, Description: spans(doc.Info.Description)}
	groups := map[string]*docsGroup{}
	var order []string
	for _, t := range doc.Tags {
		groups[t.Name] = &docsGroup{Tag: t.Name, Description: t.Description}
		order = append(order, t.Name)
	}
	paths := make([]string, 0, len(doc.Paths))
	for p := range doc.Paths {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		item := doc.Paths[p]
		var shared []apiParam
		if raw, ok := item["parameters"]; ok {
			if err := json.Unmarshal(raw, &shared); err != nil {
				return docsPage{}, err
			}
		}
		for _, m := range httpMethods {
			raw, ok := item[m]
			if !ok {
				continue
			}
			var op apiOperation
			if err := json.Unmarshal(raw, &op); err != nil {
				return docsPage{}, err
			}
			v := docsOp{Method: strings.ToUpper(m), Path: p, Summary: op.Summary, Description: spans(op.Description)}
			v.ID = "op-" + m + strings.NewReplacer("/", "-", "{", "", "}", "").Replace(p)
			for _, prm := range append(slices.Clone(shared), op.Parameters...) {
				v.Params = append(v.Params, docsParam{Name: prm.Name, In: prm.In, Type: schemaText(prm.Schema), Description: spans(prm.Description), Required: prm.Required})
			}
			if op.RequestBody != nil {
				v.Body = contentSchema(op.RequestBody.Content)
			}
			codes := make([]string, 0, len(op.Responses))
			for c := range op.Responses {
				codes = append(codes, c)
			}
			slices.Sort(codes)
			for _, c := range codes {
				r := op.Responses[c]
				v.Responses = append(v.Responses, docsResponse{Status: c, Description: spans(r.Description), Schema: contentSchema(r.Content)})
			}
			tag := "other"
			if len(op.Tags) > 0 {
				tag = op.Tags[0]
			}
			g, ok := groups[tag]
			if !ok {
				g = &docsGroup{Tag: tag}
				groups[tag] = g
				order = append(order, tag)
			}
			g.Ops = append(g.Ops, v)
		}
	}
	for _, t := range order {
		if g := groups[t]; len(g.Ops) > 0 {
			page.Groups = append(page.Groups, *g)
		}
	}
	names := make([]string, 0, len(doc.Components.Schemas))
	for n := range doc.Components.Schemas {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		s := doc.Components.Schemas[n]
		v := docsSchema{Name: n, Type: schemaText(s), Description: spans(s.Description)}
		if len(s.Properties) > 0 {
			v.Type = "object"
		}
		props := make([]string, 0, len(s.Properties))
		for p := range s.Properties {
			props = append(props, p)
		}
		slices.Sort(props)
		for _, p := range props {
			ps := s.Properties[p]
			v.Fields = append(v.Fields, docsParam{Name: p, Type: schemaText(ps), Description: spans(ps.Description), Required: slices.Contains(s.Required, p)})
		}
		page.Schemas = append(page.Schemas, v)
	}
	return page, nil
}

// apiDocs is the reference page, built once from the embedded document.
var apiDocs, apiDocsErr = buildDocs(openAPIDocument)

// serveAPIDocs answers GET /api/docs, readable without a session like the
// document itself.
func (a *Server) serveAPIDocs(w http.ResponseWriter, r *http.Request) {
	if apiDocsErr != nil {
		a.pageError(w, r, apiDocsErr)
		return
	}
	d := &webpage.Data{Title: "API reference", Data: apiDocs}
	if s := a.session(r); s != "" {
		d.CSRF = csrfToken(s)
	}
	webpage.Render(w, r, a.log, adminPages, http.StatusOK, "apidocs", d)
}
