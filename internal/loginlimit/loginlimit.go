// Package loginlimit throttles login attempts with fixed-window counters:
// one per key (a tenant's e-mail address, a client IP), kept in Redis so
// that every appserver of a deployment shares them, and in process memory
// whenever Redis does not answer, so a Redis outage never turns throttling
// off.
//
// A fixed window (INCR, and PEXPIRE on the first hit, in one script) is all
// login throttling needs: the question is "more than N attempts in this
// window?", not a smooth request rate, and attempts must be counted before
// the password is checked (so parallel guesses cannot all pass) and given
// back when the login succeeds. Rate libraries such as redis_rate answer a
// different question (GCRA) and have no per-process fallback.
package loginlimit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults of Config.
const (
	DefaultRedisTimeout = 500 * time.Millisecond
	DefaultMaxLocalKeys = 100_000
)

// Rule is a limit: at most Max attempts per Window.
type Rule struct {
	Max    int
	Window time.Duration
}

// Key is one counter: Name (unique within the Limiter's prefix) under Rule.
type Key struct {
	Name string
	Rule Rule
}

// ErrLimited is what a refused attempt's error matches (errors.Is).
var ErrLimited = errors.New("too many attempts")

// LimitedError refuses an attempt; RetryAfter is when the fullest window
// ends.
type LimitedError struct {
	Key        string
	RetryAfter time.Duration
}

// Error implements error.
func (e *LimitedError) Error() string {
	return fmt.Sprintf("too many attempts for %s; retry after %s", e.Key, e.RetryAfter.Round(time.Second))
}

// Is makes errors.Is(err, ErrLimited) true.
func (e *LimitedError) Is(target error) bool { return target == ErrLimited }

// Config configures a Limiter.
type Config struct {
	// Redis holds the shared counters; nil keeps them in memory only.
	Redis redis.UniversalClient
	// KeyPrefix starts every Redis key (REDIS_KEY_PREFIX), followed by
	// "login:" and the key's name.
	KeyPrefix string
	// RedisTimeout bounds one Redis call; DefaultRedisTimeout when 0.
	RedisTimeout time.Duration
	// MaxLocalKeys bounds the in-memory counters; beyond it, new keys of a
	// rule share one counter (throttled together, never unlimited).
	// DefaultMaxLocalKeys when 0.
	MaxLocalKeys int
	// OnRedisError, when set, hears every Redis failure after which the
	// in-memory counters answered.
	OnRedisError func(error)
	// Now is the clock of the in-memory counters; time.Now when nil.
	Now func() time.Time
}

// Limiter counts attempts; it is safe for concurrent use.
type Limiter struct {
	cfg Config

	mu    sync.Mutex
	local map[string]*window
}

type window struct {
	count int
	ends  time.Time
}

// New returns a Limiter.
func New(cfg Config) *Limiter {
	if cfg.RedisTimeout <= 0 {
		cfg.RedisTimeout = DefaultRedisTimeout
	}
	if cfg.MaxLocalKeys <= 0 {
		cfg.MaxLocalKeys = DefaultMaxLocalKeys
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Limiter{cfg: cfg, local: map[string]*window{}}
}

// hit counts one attempt and returns the count so far in the window and
// the time left in it. PEXPIRE is set on the first hit only (a fixed window
// that attempts cannot extend), and again if the key lost its expiry.
var hit = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if n == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}`)

// giveBack uncounts one attempt, deleting a counter that reaches zero.
var giveBack = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local n = redis.call('DECR', KEYS[1])
if n <= 0 then redis.call('DEL', KEYS[1]) end
return n`)

// Attempt counts one attempt against every key and returns a *LimitedError
// when any of them is now over its rule. A refused attempt stays counted
// only against the keys over their rule (it cannot extend their window),
// so being refused for one key does not use up another. Call Succeeded with
// the same keys when the attempt turns out to be a successful login.
func (l *Limiter) Attempt(ctx context.Context, keys ...Key) error {
	var worst *LimitedError
	var within []Key
	for _, k := range keys {
		n, left := l.hit(ctx, k)
		if n <= k.Rule.Max {
			within = append(within, k)
		} else if worst == nil || left > worst.RetryAfter {
			worst = &LimitedError{Key: k.Name, RetryAfter: left}
		}
	}
	if worst != nil {
		l.Succeeded(ctx, within...)
		return worst
	}
	return nil
}

// Succeeded gives back the attempt counted by Attempt against every key:
// only failures use up a rule.
func (l *Limiter) Succeeded(ctx context.Context, keys ...Key) {
	for _, k := range keys {
		if l.cfg.Redis != nil {
			ctx, cancel := context.WithTimeout(ctx, l.cfg.RedisTimeout)
			err := giveBack.Run(ctx, l.cfg.Redis, []string{l.cfg.KeyPrefix + "login:" + k.Name}).Err()
			cancel()
			if err == nil {
				continue
			}
			l.redisFailed(err)
		}
		l.mu.Lock()
		if w := l.local[k.Name]; w != nil && w.count > 0 {
			w.count--
		}
		l.mu.Unlock()
	}
}

func (l *Limiter) hit(ctx context.Context, k Key) (count int, left time.Duration) {
	if l.cfg.Redis != nil {
		ctx, cancel := context.WithTimeout(ctx, l.cfg.RedisTimeout)
		res, err := hit.Run(ctx, l.cfg.Redis, []string{l.cfg.KeyPrefix + "login:" + k.Name},
			strconv.FormatInt(max(k.Rule.Window.Milliseconds(), 1), 10)).Int64Slice()
		cancel()
		if err == nil && len(res) == 2 {
			return int(res[0]), time.Duration(res[1]) * time.Millisecond
		}
		if err == nil {
			err = fmt.Errorf("unexpected answer %v", res)
		}
		l.redisFailed(err)
	}
	return l.hitLocal(k)
}

func (l *Limiter) redisFailed(err error) {
	if l.cfg.OnRedisError != nil {
		l.cfg.OnRedisError(fmt.Errorf("login limiter: redis: %w", err))
	}
}

// hitLocal is hit in process memory.
func (l *Limiter) hitLocal(k Key) (int, time.Duration) {
	now := l.cfg.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	name := k.Name
	w := l.local[name]
	if w != nil && !now.Before(w.ends) {
		delete(l.local, name)
		w = nil
	}
	if w == nil && len(l.local) >= l.cfg.MaxLocalKeys {
		for n, x := range l.local {
			if !now.Before(x.ends) {
				delete(l.local, n)
			}
		}
		if len(l.local) >= l.cfg.MaxLocalKeys {
			// Full of live counters (a flood of distinct keys): the rest
			// share one counter per rule rather than go unlimited.
			name = fmt.Sprintf("overflow:%d/%s", k.Rule.Max, k.Rule.Window)
			w = l.local[name]
			if w != nil && !now.Before(w.ends) {
				w = nil
			}
		}
	}
	if w == nil {
		w = &window{ends: now.Add(k.Rule.Window)}
		l.local[name] = w
	}
	w.count++
	return w.count, w.ends.Sub(now)
}
