package main

import (
	"fmt"
	"net/http"
	"time"
)

func ms(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}

// printReport prints both modes side by side, with the targets.
func printReport(off, on *modeResult, knobs map[string]string) {
	fmt.Printf("\n== overload at 3x the knee (%d req/s, noisy 90%%), then 0.5x; limits on: %s\n\n", off.overloadRate, knobString(knobs))
	row := func(name string, f func(*modeResult) string, target string) {
		fmt.Printf("  %-34s %18s %18s   %s\n", name, f(off), f(on), target)
	}
	row("", func(m *modeResult) string { return "limits " + m.name }, "target")
	row("unloaded p99", func(m *modeResult) string { return ms(m.unloadedP99) }, "")
	row("knee (req/s)", func(m *modeResult) string { return fmt.Sprint(m.knee) }, "")
	row("sent during overload (req/s)", func(m *modeResult) string { return fmt.Sprintf("%.0f", m.overloadSent) }, "(what the generator managed)")
	row("quiet tenants: requests", func(m *modeResult) string { return fmt.Sprint(len(m.overload.quiet)) }, "")
	row("quiet tenants: success", func(m *modeResult) string { return fmt.Sprintf("%.2f%%", m.overload.quiet.successPct()) }, ">= 99.9%")
	row("quiet tenants: p99", func(m *modeResult) string { return ms(m.overload.quiet.p(0.99)) }, "")
	row("quiet p99 / unloaded p99", func(m *modeResult) string {
		return fmt.Sprintf("%.2fx", float64(m.overload.quiet.p(0.99))/float64(m.unloadedP99))
	}, "<= 1.5x")
	row("noisy tenant: requests", func(m *modeResult) string { return fmt.Sprint(len(m.overload.noisy)) }, "")
	row("noisy tenant: 2xx", func(m *modeResult) string { return fmt.Sprint(m.overload.noisy.count(ok)) }, "")
	row("noisy tenant: 429 rate_limited", func(m *modeResult) string {
		return fmt.Sprint(m.overload.noisy.count(func(x sample) bool { return x.code == http.StatusTooManyRequests }))
	}, "")
	row("503 (all tenants; off: not shed)", func(m *modeResult) string {
		return fmt.Sprint(m.overload.all.count(func(x sample) bool { return x.code == http.StatusServiceUnavailable }))
	}, "")
	row("no answer / other (all tenants)", func(m *modeResult) string {
		return fmt.Sprint(m.overload.all.count(func(x sample) bool { return !ok(x) && !refusal(x) }))
	}, "")
	row("refusal latency p50 / p99", func(m *modeResult) string {
		r := m.overload.all.filter(refusal)
		if len(r) == 0 {
			return "-"
		}
		return ms(r.p(0.5)) + " / " + ms(r.p(0.99))
	}, "p99 <= 5ms")
	row("caddy peak RSS (overload+recovery)", func(m *modeResult) string { return fmt.Sprintf("%d MB", m.rssPeakKB/1024) }, "<= 300 MB")
	row("recovery (quiet p99 <= 1.5x)", func(m *modeResult) string {
		if m.recovered < 0 {
			return "not within phase"
		}
		return fmt.Sprintf("%.0f s", m.recovered.Seconds())
	}, "<= 5 s")
}
