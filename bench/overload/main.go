// Command overload is bench/overload (issue 15): an open-loop overload of
// the edge, with limits off and then on, printed side by side.
//
// It starts the real stack: bin/caddy with the project Caddyfile (tenant
// handler, control plane in PostgreSQL, Redis) in front of an upstream in
// this process that answers after a fixed delay (-upstream-delay). The
// upstream has no capacity limit of its own, so the knee is the edge's:
// what is measured is how the edge behaves past its capacity, not how an
// appserver does. It creates 10 tenants (noisy, quiet1…quiet9), then for
// each mode (limits off: every knob 0; limits on: a per-tenant rate sized
// from the knee and the edge's in-flight bound):
//
//  1. the unloaded p99 at a low rate (-low-rate), all tenants alike;
//  2. the knee (limits off only; reused for on): the highest rate whose p99
//     stays ≤ 2× the unloaded p99, found by raising the rate by half until
//     it does not, then one bisection;
//  3. 3× the knee for -overload, the noisy tenant sending 90 % of requests;
//  4. straight on (one attack, whatever backlog there is), 0.5× the knee
//     for -recovery, measuring how long until the quiet tenants' p99 (per
//     1 s window, every request answered 2xx) is back within 1.5×
//     unloaded.
//
// Load comes from github.com/tsenart/vegeta/v12 used as a library: a
// constant request rate whatever the latency (open loop), with as many
// workers and connections as the rate needs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tenantgate/tenantgate/bench/internal/seed"
)

type config struct {
	caddy, caddyfile string
	basePort         int
	upstreamDelay    time.Duration
	lowRate          int
	step             time.Duration
	overload         time.Duration
	recovery         time.Duration
	knee             int
	accessLog        string
}

func main() {
	var c config
	flag.StringVar(&c.caddy, "caddy", "bin/caddy", "the caddy binary")
	flag.StringVar(&c.caddyfile, "caddyfile", "Caddyfile", "the Caddyfile (its limits and shed knobs are set through TENANT_* and EDGE_* variables)")
	flag.IntVar(&c.basePort, "base-port", 25000, "caddy HTTP on this port, its HTTPS, admin and the upstream on the next ones")
	flag.DurationVar(&c.upstreamDelay, "upstream-delay", time.Millisecond, "how long the upstream takes to answer")
	flag.IntVar(&c.lowRate, "low-rate", 100, "requests per second of the unloaded measurement")
	flag.DurationVar(&c.step, "step", 5*time.Second, "duration of each rate of the knee search and of the unloaded measurement")
	flag.DurationVar(&c.overload, "overload", 30*time.Second, "duration of the 3× knee overload")
	flag.DurationVar(&c.recovery, "recovery", 15*time.Second, "duration of the 0.5× knee phase after the overload")
	flag.IntVar(&c.knee, "knee", 0, "skip the knee search and use this rate (requests per second)")
	flag.StringVar(&c.accessLog, "access-log", "discard", "caddy's access log output (ACCESS_LOG)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "overload:", err)
		os.Exit(1)
	}
}

// Tenants: one noisy, nine quiet.
const noisy = "noisy"

var quiet = []string{"quiet1", "quiet2", "quiet3", "quiet4", "quiet5", "quiet6", "quiet7", "quiet8", "quiet9"}

func run(ctx context.Context, c config) error {
	dbURL := os.Getenv("DATABASE_URL")
	if dbURL == "" {
		return errors.New("DATABASE_URL is not set (bench/overload.sh sets it)")
	}
	if err := seed.ActiveTenants(ctx, dbURL, append([]string{noisy}, quiet...)...); err != nil {
		return fmt.Errorf("creating the tenants: %w", err)
	}
	dir, err := os.MkdirTemp("", "tg-overload-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	upstream, err := startUpstream(fmt.Sprintf("127.0.0.1:%d", c.basePort+3), c.upstreamDelay)
	if err != nil {
		return err
	}
	defer upstream.Close()

	fmt.Printf("upstream: fixed %s answer; caddy: %s; load: vegeta, open loop\n", c.upstreamDelay, c.caddyfile)
	off, err := runMode(ctx, c, dir, "off", c.knee, nil)
	if err != nil {
		return fmt.Errorf("limits off: %w", err)
	}
	knobs := onKnobs(off.knee, off.unloadedP99)
	on, err := runMode(ctx, c, dir, "on", off.knee, knobs)
	if err != nil {
		return fmt.Errorf("limits on: %w", err)
	}
	printReport(off, on, knobs)
	return nil
}

// offKnobs turns every limit off (the Caddyfile's 0 = unlimited / off).
var offKnobs = map[string]string{
	"TENANT_RATE": "0", "TENANT_BURST": "0", "TENANT_MAX_IN_FLIGHT": "0", "EDGE_MAX_IN_FLIGHT": "0",
}

// onKnobs sizes the limits from the knee: each tenant may send a fifth of
// what the edge serves well (the noisy one, sending 2.7× the knee, is cut
// to 0.2×; a quiet one sends 0.033×), with a fifth of a second's burst;
// the edge serves at most 4× the requests Little's law puts in flight at
// the knee (rate × unloaded p99), at least 16, and lets the rest wait
// 50 ms at most.
func onKnobs(knee int, unloadedP99 time.Duration) map[string]string {
	rate := max(1, knee/5)
	inFlight := max(16, int(4*float64(knee)*unloadedP99.Seconds()))
	return map[string]string{
		"TENANT_RATE": strconv.Itoa(rate), "TENANT_BURST": strconv.Itoa(max(1, rate/5)),
		"TENANT_MAX_IN_FLIGHT": "0",
		"EDGE_MAX_IN_FLIGHT":   strconv.Itoa(inFlight), "EDGE_QUEUE_TIMEOUT": "50ms",
		"EDGE_QUEUE_LENGTH": strconv.Itoa(4 * inFlight),
	}
}

// modeResult is what one mode measured.
type modeResult struct {
	name         string
	unloadedP99  time.Duration
	knee         int
	overloadRate int
	overload     phaseStats
	overloadSent float64 // requests per second the load generator managed
	rssPeakKB    int64
	recovered    time.Duration // -1: not within the recovery phase
}

func runMode(ctx context.Context, c config, dir, name string, knee int, knobs map[string]string) (*modeResult, error) {
	if knobs == nil {
		knobs = offKnobs
	}
	ed, err := startCaddy(c, dir, name, knobs)
	if err != nil {
		return nil, err
	}
	defer ed.stop()
	fmt.Printf("\n== limits %s (caddy pid %d; %s)\n", name, ed.cmd.Process.Pid, knobString(knobs))
	res := &modeResult{name: name}
	lg := newLoad(c.basePort)

	lg.attack(ctx, c.lowRate, 2*time.Second, evenly) // warm-up: connections, caches
	un := lg.attack(ctx, c.lowRate, c.step, evenly)
	res.unloadedP99 = un.all.p(0.99)
	fmt.Printf("unloaded: %d req/s, p99 %s, success %.2f%%\n", c.lowRate, ms(res.unloadedP99), un.all.successPct())
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}

	if knee == 0 {
		knee = findKnee(ctx, lg, c, res.unloadedP99)
	}
	res.knee = knee
	res.overloadRate = 3 * knee
	fmt.Printf("overload: %d req/s for %s, %s 90%%\n", res.overloadRate, c.overload, noisy)
	fmt.Printf("then:     %d req/s for %s\n", max(1, knee/2), c.recovery)
	rss := ed.watchRSS()
	both := lg.attackPaced(ctx, stepPacer{r1: float64(res.overloadRate), d1: c.overload, r2: float64(max(1, knee/2))},
		c.overload+c.recovery, noisyNinety)
	res.rssPeakKB = rss()
	var rec phaseStats
	res.overload, rec = both.split(c.overload)
	res.overloadSent = float64(len(res.overload.all)) / c.overload.Seconds()
	res.recovered = rec.recoveredAfter(time.Duration(1.5 * float64(res.unloadedP99)))
	return res, ctx.Err()
}

// findKnee raises the rate by half from 4× the low rate while p99 stays
// within 2× unloaded and nearly everything succeeds (a step that fails is
// tried once more), then bisects once between the last good rate and the
// first bad one.
func findKnee(ctx context.Context, lg *load, c config, unloaded time.Duration) int {
	try := func(rate int) bool {
		s := lg.attack(ctx, rate, c.step, evenly)
		ok := s.all.p(0.99) <= 2*unloaded && s.all.successPct() >= 99.9
		fmt.Printf("  knee search: %6d req/s  p99 %8s  success %6.2f%%  %s\n", rate, ms(s.all.p(0.99)), s.all.successPct(), map[bool]string{true: "ok", false: "past the knee"}[ok])
		time.Sleep(time.Second) // let queues drain between steps
		return ok
	}
	// A rate is past the knee when it fails twice: on a shared machine one
	// step can fail because of other work, and a knee found too low makes
	// "3× the knee" no overload at all.
	good := func(rate int) bool { return try(rate) || (ctx.Err() == nil && try(rate)) }
	last, rate := 0, 4*c.lowRate
	for ctx.Err() == nil && good(rate) {
		last, rate = rate, rate*3/2
	}
	if last == 0 {
		return max(1, c.lowRate)
	}
	if mid := (last + rate) / 2; ctx.Err() == nil && good(mid) {
		last = mid
	}
	fmt.Printf("knee: %d req/s\n", last)
	return last
}

func knobString(k map[string]string) string {
	var parts []string
	for _, name := range []string{"TENANT_RATE", "TENANT_BURST", "TENANT_MAX_IN_FLIGHT", "EDGE_MAX_IN_FLIGHT", "EDGE_QUEUE_TIMEOUT", "EDGE_QUEUE_LENGTH"} {
		if v, ok := k[name]; ok {
			parts = append(parts, name+"="+v)
		}
	}
	return strings.Join(parts, " ")
}

// edge is a running caddy.
type edge struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func startCaddy(c config, dir, name string, knobs map[string]string) (*edge, error) {
	cmd := exec.Command(c.caddy, "run", "--config", c.caddyfile, "--adapter", "caddyfile")
	up := fmt.Sprintf("127.0.0.1:%d", c.basePort+3)
	cmd.Env = append(os.Environ(),
		"HTTP_PORT="+strconv.Itoa(c.basePort), "HTTPS_PORT="+strconv.Itoa(c.basePort+1),
		fmt.Sprintf("CADDY_ADMIN=127.0.0.1:%d", c.basePort+2),
		"APP_UPSTREAMS="+up, "ADMIN_UPSTREAMS="+up, "ACCESS_LOG="+c.accessLog, "BASE_DOMAIN=localhost",
		"XDG_DATA_HOME="+filepath.Join(dir, name, "data"), "XDG_CONFIG_HOME="+filepath.Join(dir, name, "config"))
	// caddy's GC target as make run sets it (CADDY_GOGC, default 400).
	gogc := os.Getenv("CADDY_GOGC")
	if gogc == "" {
		gogc = "400"
	}
	cmd.Env = append(cmd.Env, "GOGC="+gogc)
	for k, v := range knobs {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	logPath := filepath.Join(dir, "caddy-"+name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting caddy: %w", err)
	}
	e := &edge{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(e.done) }()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/", c.basePort), nil)
		req.Host = noisy + ".localhost"
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return e, nil
			}
		}
		select {
		case <-e.done:
			b, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("caddy exited: %s", tail(string(b), 2000))
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			e.stop()
			return nil, errors.New("caddy did not serve the noisy tenant within 60 s")
		}
	}
}

func (e *edge) stop() {
	_ = e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.done:
	case <-time.After(20 * time.Second):
		_ = e.cmd.Process.Kill()
		<-e.done
	}
}

// watchRSS samples caddy's resident memory every 100 ms from now on; the
// returned function stops and reports the peak in kB. VmHWM would be the
// peak since start, start-up included; sampling VmRSS is the peak of the
// phase.
func (e *edge) watchRSS() func() int64 {
	stop := make(chan struct{})
	peak := make(chan int64, 1)
	go func() {
		var p int64
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if v := vmRSS(e.cmd.Process.Pid); v > p {
				p = v
			}
			select {
			case <-stop:
				peak <- p
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 { close(stop); return <-peak }
}

// vmRSS reads VmRSS (kB) of pid from /proc; 0 when it cannot.
func vmRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
