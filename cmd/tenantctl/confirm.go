package main

import (
	"bufio"
	"errors"
	"fmt"
	"strings"
)

// errNotConfirmed is the answer "no" to a confirmation prompt.
var errNotConfirmed = errors.New("not confirmed; nothing was changed")

// confirm asks before a destructive operation. On a terminal (stdin and
// stderr both) it asks on stderr and reads the answer from stdin: typed
// must be typed back when it is set (a tenant's subdomain, before delete),
// otherwise "y" or "yes". Without a terminal it does not ask, so scripts
// and pipes keep working unchanged; --yes skips the question on a terminal.
func (a *app) confirm(question, typed string) error {
	if a.yes || !a.interactive || a.stdin == nil {
		return nil
	}
	if typed != "" {
		fmt.Fprintf(a.stderr, "%s\nType %s to confirm: ", question, shown(typed))
	} else {
		fmt.Fprintf(a.stderr, "%s [y/N] ", question)
	}
	line, _ := bufio.NewReader(a.stdin).ReadString('\n')
	answer := strings.TrimSpace(line)
	if typed != "" && answer == typed {
		return nil
	}
	if typed == "" && (strings.EqualFold(answer, "y") || strings.EqualFold(answer, "yes")) {
		return nil
	}
	return failure{human(errNotConfirmed, "%s", errNotConfirmed)}
}
