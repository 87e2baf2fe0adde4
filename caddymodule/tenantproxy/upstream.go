package tenantproxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// upstream is one appserver: its kept-open connections, its requests in
// flight (least_conn) and whether it is up.
type upstream struct {
	idx      uint
	addr     string
	pool     pool
	inFlight atomic.Int64
	// healthy is the active health check's verdict (true until one fails).
	healthy atomic.Bool
	// downUntil (Unix nanoseconds, 0 = not down) is set when a dial fails.
	downUntil atomic.Int64
}

// available reports whether u may be sent a request now; with
// ignorePassive, whether its health check passes, whatever its dials did.
func (u *upstream) available(ignorePassive bool) bool {
	if !u.healthy.Load() {
		return false
	}
	if ignorePassive {
		return true
	}
	d := u.downUntil.Load()
	return d == 0 || time.Now().UnixNano() >= d
}

// markDown skips u for d after a dial failure.
func (u *upstream) markDown(d time.Duration) {
	u.downUntil.Store(time.Now().Add(d).UnixNano())
}

// pick chooses an available upstream not in tried (a bit set of idx), or
// returns nil. When every untried upstream is down only because a dial
// failed within fail_duration, one of them is tried all the same: a 502
// is certain otherwise, and an appserver that restarted answers again
// before fail_duration is over.
func (h *Handler) pick(tried uint64) *upstream {
	if u := h.pickFrom(tried, false); u != nil {
		return u
	}
	return h.pickFrom(tried, true)
}

func (h *Handler) pickFrom(tried uint64, ignorePassive bool) *upstream {
	n := len(h.ups)
	if n == 1 {
		if u := h.ups[0]; tried == 0 && u.available(ignorePassive) {
			return u
		}
		return nil
	}
	start := int(atomic.AddUint32(&h.rr, 1) % uint32(n))
	var best *upstream
	for i := range n {
		u := h.ups[(start+i)%n]
		if tried&(1<<u.idx) != 0 || !u.available(ignorePassive) {
			continue
		}
		if h.roundRob {
			return u
		}
		// least_conn; ties go to the first from a rotating start.
		if best == nil || u.inFlight.Load() < best.inFlight.Load() {
			best = u
		}
	}
	return best
}

// healthLoop checks every upstream now and then every HealthInterval until
// ctx ends.
func (h *Handler) healthLoop(ctx context.Context) {
	defer h.wg.Done()
	client := &http.Client{
		Timeout: time.Duration(h.HealthTimeout),
		Transport: &http.Transport{
			DialContext:       h.dialer.DialContext,
			DisableKeepAlives: true,
			Proxy:             nil,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	tick := time.NewTicker(time.Duration(h.HealthInterval))
	defer tick.Stop()
	for {
		for _, u := range h.ups {
			err := h.check(ctx, client, u)
			if ctx.Err() != nil {
				return
			}
			was := u.healthy.Swap(err == nil)
			switch {
			case was && err != nil:
				h.logger.Warn("upstream down: health check failed", zap.String("upstream", u.addr), zap.Error(err))
			case !was && err == nil:
				h.logger.Info("upstream up: health check passed", zap.String("upstream", u.addr))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// check sends one health check to u: nil when it answers 2xx.
func (h *Handler) check(ctx context.Context, client *http.Client, u *upstream) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+u.addr+h.HealthURI, nil)
	if err != nil {
		return fmt.Errorf("health check request: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("health check: status %d", resp.StatusCode)
	}
	return nil
}
