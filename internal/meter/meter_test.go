package meter

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// memSink stores rows in memory, failing while fail is set.
type memSink struct {
	mu   sync.Mutex
	rows []tenantstore.UsageRow
	fail bool
}

func (s *memSink) AddUsage(_ context.Context, rows []tenantstore.UsageRow) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return errors.New("control plane down")
	}
	s.rows = append(s.rows, rows...)
	return nil
}

func (s *memSink) total() (requests, latency int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.rows {
		requests += r.Requests
		for _, v := range r.Latency {
			latency += v
		}
	}
	return requests, latency
}

// TestFlusherLosesNothing: requests recorded from several goroutines while
// the flusher drains again and again all reach the sink, in the histogram
// too, once Stop has flushed the rest; a failed write is kept and retried.
func TestFlusherLosesNothing(t *testing.T) {
	e := new(Edge)
	sink := &memSink{}
	f := NewFlusher(FlusherConfig{Source: e, Sink: func() Sink { return sink }})
	const workers, each = 4, 5000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				e.Record([]string{"a", "b"}[(w+i)%2], 200+100*(i%4), 10, time.Duration(i)*time.Microsecond, false)
			}
		})
	}
	stop := make(chan struct{})
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			sink.mu.Lock()
			sink.fail = n%3 == 1 // every third flush fails: its rows wait for the next
			sink.mu.Unlock()
			_ = f.Flush(context.Background())
		}
	}()
	wg.Wait()
	close(stop)
	<-flushed
	sink.mu.Lock()
	sink.fail = false
	sink.mu.Unlock()
	if err := f.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	req, lat := sink.total()
	if req != workers*each || lat != workers*each {
		t.Errorf("sink holds %d requests (%d in the histogram), want %d", req, lat, workers*each)
	}
}

// TestFlusherStopFlushes: what is counted when Stop is called reaches the
// sink, attributed to the minute its interval began in.
func TestFlusherStopFlushes(t *testing.T) {
	start := time.Date(2026, 5, 6, 7, 8, 50, 0, time.UTC)
	var now atomic.Int64
	now.Store(start.UnixNano())
	a := new(App)
	sink := &memSink{}
	f := NewFlusher(FlusherConfig{Source: a, Sink: func() Sink { return sink }, Now: func() time.Time { return time.Unix(0, now.Load()) }})
	f.Start()
	a.Seen("t1", "u1", 1)
	a.Seen("t1", "u1", 0)
	a.Seen("t1", "u2", 2)
	a.DatabaseSize("t1", 4096)
	a.Seen("t2", "", 0) // nothing to count
	now.Store(start.Add(15 * time.Second).UnixNano())
	if err := f.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(sink.rows) != 1 {
		t.Fatalf("sink = %+v, want one row", sink.rows)
	}
	r := sink.rows[0]
	if r.TenantID != "t1" || r.InvoicesCreated != 3 || len(r.ActiveUserIDs) != 2 || r.DatabaseBytes == nil || *r.DatabaseBytes != 4096 ||
		!r.Minute.Equal(start.Truncate(time.Minute)) {
		t.Errorf("row = %+v, want t1 with 3 invoices, users u1 and u2, 4096 bytes, minute %v", r, start.Truncate(time.Minute))
	}
}

// TestFlusherWaitsForSink: while the sink is not reachable the counts stay
// in memory.
func TestFlusherWaitsForSink(t *testing.T) {
	e := new(Edge)
	var sink Sink
	f := NewFlusher(FlusherConfig{Source: e, Sink: func() Sink { return sink }})
	e.Record("a", 204, 0, time.Millisecond, false)
	if err := f.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	ms := &memSink{}
	sink = ms
	e.Record("a", 429, 0, time.Millisecond, true)
	if err := f.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(ms.rows) != 1 || ms.rows[0].Requests != 2 || ms.rows[0].Status2xx != 1 || ms.rows[0].Status4xx != 1 || ms.rows[0].RateLimited != 1 {
		t.Errorf("rows = %+v, want one with both requests", ms.rows)
	}
}
