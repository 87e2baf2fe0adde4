package admin

import (
	"bytes"
	"encoding/json"
)

// indentJSON is raw indented for reading, "" when empty or not JSON.
func indentJSON(raw []byte) string {
	var buf bytes.Buffer
	if len(raw) == 0 || json.Indent(&buf, raw, "", "  ") != nil {
		return ""
	}
	return buf.String()
}
