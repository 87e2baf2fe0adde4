package main

import (
	"fmt"
	"time"

	"github.com/schollz/progressbar/v3"
)

// counter reports progress over a known number of items: a bar on a
// terminal, and one summary line at the end otherwise (a log does not want
// a line per tenant).
type counter struct {
	a      *app
	label  string
	total  int
	bar    *progressbar.ProgressBar
	done   int
	failed int
}

func (a *app) newCounter(label string, total int) *counter {
	c := &counter{a: a, label: label, total: total}
	if a.tty {
		c.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(a.stderr),
			progressbar.OptionSetDescription(label),
			progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
		)
	}
	return c
}

// add counts one item; callers serialise calls.
func (c *counter) add(failed bool) {
	c.done++
	if failed {
		c.failed++
	}
	if c.bar != nil {
		if failed {
			c.bar.Describe(fmt.Sprintf("%s (%d failed)", c.label, c.failed))
		}
		_ = c.bar.Add(1)
	}
}

// finish draws the bar complete and ends its line, or prints the summary
// line.
func (c *counter) finish() {
	if c.bar != nil {
		_ = c.bar.Finish()
		fmt.Fprintln(c.a.stderr)
		return
	}
	fmt.Fprintf(c.a.stderr, "%s: %d/%d tenants, %d failed\n", c.label, c.done, c.total, c.failed)
}

// stepper shows the steps of one long operation (backup, restore, move): a
// spinner naming the current step on a terminal, nothing otherwise (the
// result is printed when it ends).
type stepper struct {
	bar *progressbar.ProgressBar
}

func (a *app) newStepper(label string) *stepper {
	if !a.tty {
		return &stepper{}
	}
	return &stepper{bar: progressbar.NewOptions(-1,
		progressbar.OptionSetWriter(a.stderr),
		progressbar.OptionSetDescription(label),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionClearOnFinish(),
	)}
}

func (s *stepper) step(label, step string) {
	if s.bar != nil {
		s.bar.Describe(label + ": " + step)
		_ = s.bar.Add(1)
	}
}

func (s *stepper) finish() {
	if s.bar != nil {
		_ = s.bar.Finish()
	}
}
