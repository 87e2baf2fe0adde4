package main

import (
	"strconv"
	"unicode"
)

// shown returns s for a terminal: unchanged when every rune is printable
// (unicode.IsPrint: no control, format or separator characters), otherwise
// Go-quoted, so that a value stored before names were validated (or written
// to the control plane by hand) cannot move the cursor, clear the screen,
// retitle the window, reorder text with bidi overrides or fake a table row
// with a newline or tab.
func shown(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}
