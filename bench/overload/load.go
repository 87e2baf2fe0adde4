package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// mix picks the tenant of the i-th request of a phase.
type mix func(i uint64) string

// evenly sends every tenant the same share.
func evenly(i uint64) string {
	if i%10 == 0 {
		return noisy
	}
	return quiet[i%10-1]
}

// noisyNinety sends the noisy tenant 9 requests in 10, the quiet ones the
// tenth in turn.
func noisyNinety(i uint64) string {
	if i%10 != 9 {
		return noisy
	}
	return quiet[(i/10)%uint64(len(quiet))]
}

// load attacks caddy's HTTP port.
type load struct {
	base string
}

func newLoad(port int) *load {
	return &load{base: fmt.Sprintf("http://127.0.0.1:%d/", port)}
}

// attack sends rate requests per second for d, whatever the latency, and
// returns what came back, by tenant kind.
func (l *load) attack(ctx context.Context, rate int, d time.Duration, pick mix) phaseStats {
	return l.attackPaced(ctx, vegeta.Rate{Freq: rate, Per: time.Second}, d, pick)
}

// stepPacer sends r1 requests per second until d1, then r2: one attack,
// so that the second rate starts the moment the first ends, with whatever
// backlog the first left behind.
type stepPacer struct {
	r1, r2 float64
	d1     time.Duration
}

// Pace implements vegeta.Pacer.
func (p stepPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	first := p.r1 * p.d1.Seconds()
	var next float64 // seconds since the start at which hit hits+1 is due
	if h := float64(hits + 1); h <= first {
		next = h / p.r1
	} else {
		next = p.d1.Seconds() + (h-first)/p.r2
	}
	return time.Duration(next*float64(time.Second)) - elapsed, false
}

// Rate implements vegeta.Pacer.
func (p stepPacer) Rate(elapsed time.Duration) float64 {
	if elapsed < p.d1 {
		return p.r1
	}
	return p.r2
}

// attackPaced is attack at the pace of p.
func (l *load) attackPaced(ctx context.Context, p vegeta.Pacer, d time.Duration, pick mix) phaseStats {
	var seq atomic.Uint64
	targeter := func(t *vegeta.Target) error {
		sub := pick(seq.Add(1) - 1)
		t.Method = http.MethodGet
		// The tenant rides in the query too: a Result knows its URL, not
		// its Host header.
		t.URL = l.base + "?t=" + sub
		t.Header = http.Header{"Host": {sub + ".localhost"}}
		return nil
	}
	atk := vegeta.NewAttacker(
		vegeta.Workers(64), vegeta.MaxWorkers(20000), vegeta.Connections(20000),
		vegeta.KeepAlive(true), vegeta.Timeout(10*time.Second), vegeta.MaxBody(4096),
		vegeta.LocalAddr(net.IPAddr{IP: net.IPv4(127, 0, 0, 1)}),
	)
	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()
	start := time.Now()
	ps := phaseStats{start: start}
	for r := range atk.Attack(vegeta.Targeter(targeter), p, d, "") {
		s := sample{at: r.Timestamp.Sub(start), latency: r.Latency, code: int(r.Code)}
		if strings.HasSuffix(r.URL, "?t="+noisy) {
			ps.noisy.add(s)
		} else {
			ps.quiet.add(s)
		}
		ps.all.add(s)
	}
	return ps
}

// sample is one request's outcome.
type sample struct {
	at      time.Duration // since the phase started
	latency time.Duration
	code    int // 0: no answer (timeout, connection error)
}

// samples are the outcomes of a group of requests.
type samples []sample

func (s *samples) add(x sample) { *s = append(*s, x) }

// p returns the q-quantile of the latencies (0 when empty).
func (s samples) p(q float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	l := make([]time.Duration, len(s))
	for i, x := range s {
		l[i] = x.latency
	}
	slices.Sort(l)
	return l[min(len(l)-1, int(q*float64(len(l))))]
}

func (s samples) count(f func(sample) bool) int {
	n := 0
	for _, x := range s {
		if f(x) {
			n++
		}
	}
	return n
}

func (s samples) filter(f func(sample) bool) samples {
	var out samples
	for _, x := range s {
		if f(x) {
			out = append(out, x)
		}
	}
	return out
}

func ok(x sample) bool { return x.code >= 200 && x.code < 300 }
func refusal(x sample) bool {
	return x.code == http.StatusTooManyRequests || x.code == http.StatusServiceUnavailable
}

func (s samples) successPct() float64 {
	if len(s) == 0 {
		return 0
	}
	return 100 * float64(s.count(ok)) / float64(len(s))
}

// phaseStats are the samples of one phase.
type phaseStats struct {
	start        time.Time
	all          samples
	noisy, quiet samples
}

// split divides the samples at the send time at: before, and after (their
// times then counted from at).
func (ps phaseStats) split(at time.Duration) (phaseStats, phaseStats) {
	var a, b phaseStats
	a.start, b.start = ps.start, ps.start.Add(at)
	for _, x := range ps.all {
		dst := &a
		if x.at >= at {
			dst = &b
			x.at -= at
		}
		dst.all.add(x)
	}
	for _, x := range ps.noisy {
		if x.at >= at {
			x.at -= at
			b.noisy.add(x)
		} else {
			a.noisy.add(x)
		}
	}
	for _, x := range ps.quiet {
		if x.at >= at {
			x.at -= at
			b.quiet.add(x)
		} else {
			a.quiet.add(x)
		}
	}
	return a, b
}

// recoveredAfter returns the end of the first 1 s window whose quiet
// tenants' p99 is within limit, since the phase started; -1 if none.
func (ps phaseStats) recoveredAfter(limit time.Duration) time.Duration {
	var end time.Duration
	for _, x := range ps.quiet {
		end = max(end, x.at)
	}
	for w := time.Duration(0); w <= end; w += time.Second {
		win := ps.quiet.filter(func(x sample) bool { return x.at >= w && x.at < w+time.Second })
		if len(win) > 0 && win.count(ok) == len(win) && win.p(0.99) <= limit {
			return w + time.Second
		}
	}
	return -1
}
