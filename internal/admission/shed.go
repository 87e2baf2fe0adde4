package admission

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// ErrOverloaded is Shedder.Acquire's answer when no slot came free in time,
// the queue was full, or the request was pushed out of the queue to make
// room for a key with fewer waiting.
var ErrOverloaded = errors.New("overloaded")

// Shedder bounds the requests in flight of the whole process. Past the
// bound a request waits, at most Timeout, in a queue of at most MaxQueue
// requests; each key has its own FIFO and free slots go to the keys in
// turn (round robin), so a key with a thousand requests waiting delays one
// with a single request by at most one turn. When the queue is full a
// newcomer takes the place of the newest waiter of the key with the most
// waiting, if that key has more than the newcomer's would; otherwise the
// newcomer is refused. Safe for concurrent use.
type Shedder struct {
	max      int64
	maxQueue int64
	timeout  time.Duration

	inFlight atomic.Int64
	queued   atomic.Int64

	mu    sync.Mutex
	flows map[string]*flow
	next  *flow // the flow served next; flows with waiters form a ring
}

// flow is one key's waiters, oldest first, and its place in the ring.
type flow struct {
	key        string
	head, tail *waiter
	n          int
	prev, nxt  *flow
}

// waiter states.
const (
	waiting = iota
	granted
	pushedOut
)

type waiter struct {
	ch         chan struct{} // closed when state leaves waiting
	state      int
	f          *flow
	prev, next *waiter
}

// NewShedder returns a Shedder admitting max requests at once (max <= 0:
// no bound; Acquire only counts), queueing at most maxQueue (<= 0: max) for
// at most timeout each.
func NewShedder(max, maxQueue int, timeout time.Duration) *Shedder {
	if maxQueue <= 0 {
		maxQueue = max
	}
	return &Shedder{max: int64(max), maxQueue: int64(maxQueue), timeout: timeout, flows: make(map[string]*flow)}
}

// InFlight returns the requests admitted and not yet released.
func (s *Shedder) InFlight() int64 { return s.inFlight.Load() }

// Queued returns the requests waiting.
func (s *Shedder) Queued() int64 { return s.queued.Load() }

// tryTake takes a slot if one is free.
func (s *Shedder) tryTake() bool {
	for {
		n := s.inFlight.Load()
		if n >= s.max {
			return false
		}
		if s.inFlight.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Acquire admits a request of key, waiting for a slot when every slot is
// taken. It returns nil when admitted (the caller must Release),
// ErrOverloaded when refused, or ctx's error when ctx ended while waiting
// (the request left the queue; nothing to release).
func (s *Shedder) Acquire(ctx context.Context, key string) error {
	if s.max <= 0 {
		s.inFlight.Add(1)
		return nil
	}
	// Nobody waiting: take a free slot without the lock. With waiters, a
	// newcomer queues behind them.
	if s.queued.Load() == 0 && s.tryTake() {
		return nil
	}
	s.mu.Lock()
	if s.queued.Load() == 0 && s.tryTake() {
		s.mu.Unlock()
		return nil
	}
	w := s.enqueueLocked(key)
	if w == nil {
		s.mu.Unlock()
		return ErrOverloaded
	}
	// A Release between the failed tryTake and the enqueue saw no waiter;
	// serve the queue now so the freed slot is not lost.
	s.dispatchLocked()
	s.mu.Unlock()

	timer := time.NewTimer(s.timeout)
	defer timer.Stop()
	var err error
	select {
	case <-w.ch:
	case <-timer.C:
		err = ErrOverloaded
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.mu.Lock()
	state := w.state
	if state == waiting {
		s.removeLocked(w)
	}
	s.mu.Unlock()
	switch {
	case state == granted && err != nil && ctx.Err() != nil:
		// Granted as the client left: give the slot on.
		s.Release()
		return err
	case state == granted:
		return nil
	case state == pushedOut:
		return ErrOverloaded
	}
	return err
}

// Release gives back a slot that Acquire granted, to the next waiter if
// there is one.
func (s *Shedder) Release() {
	s.inFlight.Add(-1)
	if s.max > 0 && s.queued.Load() > 0 {
		s.mu.Lock()
		s.dispatchLocked()
		s.mu.Unlock()
	}
}

// dispatchLocked grants free slots to waiters, one key after another.
func (s *Shedder) dispatchLocked() {
	for s.next != nil && s.tryTake() {
		f := s.next
		w := f.head
		s.removeLocked(w) // moves s.next on, or drops f from the ring
		if s.next == f {
			s.next = f.nxt
		}
		w.state = granted
		close(w.ch)
	}
}

// enqueueLocked adds a waiter for key, pushing out the newest waiter of the
// longest flow when the queue is full; nil when the newcomer is refused.
func (s *Shedder) enqueueLocked(key string) *waiter {
	f := s.flows[key]
	if s.queued.Load() >= s.maxQueue {
		longest := s.next
		for g := s.next; g != nil; {
			if g.n > longest.n {
				longest = g
			}
			if g = g.nxt; g == s.next {
				break
			}
		}
		mine := 0
		if f != nil {
			mine = f.n
		}
		if longest == nil || longest.n <= mine+1 {
			return nil
		}
		victim := longest.tail
		s.removeLocked(victim)
		victim.state = pushedOut
		close(victim.ch)
	}
	if f == nil {
		f = &flow{key: key}
		s.flows[key] = f
		// Join the ring just before next: served after everyone waiting.
		if s.next == nil {
			f.prev, f.nxt = f, f
			s.next = f
		} else {
			f.prev, f.nxt = s.next.prev, s.next
			s.next.prev.nxt = f
			s.next.prev = f
		}
	}
	w := &waiter{ch: make(chan struct{}), f: f, prev: f.tail}
	if f.tail != nil {
		f.tail.next = w
	} else {
		f.head = w
	}
	f.tail = w
	f.n++
	s.queued.Add(1)
	return w
}

// removeLocked takes w out of its flow, and the flow out of the ring when
// it is left empty.
func (s *Shedder) removeLocked(w *waiter) {
	f := w.f
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		f.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		f.tail = w.prev
	}
	w.prev, w.next = nil, nil
	f.n--
	s.queued.Add(-1)
	if f.n > 0 {
		return
	}
	delete(s.flows, f.key)
	if f.nxt == f {
		s.next = nil
	} else {
		f.prev.nxt = f.nxt
		f.nxt.prev = f.prev
		if s.next == f {
			s.next = f.nxt
		}
	}
	f.prev, f.nxt = nil, nil
}
