package main

import (
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// balancer is a TCP load balancer: round robin over the edges whose
// /healthz answered 200 at the last check (every 200 ms); a connect that
// fails is tried on the next edge.
type balancer struct {
	ln    net.Listener
	edges []*edge
	next  atomic.Uint64
	stop  chan struct{}
	wg    sync.WaitGroup
}

func newBalancer(addr string, edges []*edge) (*balancer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	b := &balancer{ln: ln, edges: edges, stop: make(chan struct{})}
	for _, e := range edges {
		e.healthy.Store(healthy(e))
	}
	b.wg.Add(2)
	go b.check()
	go b.accept()
	return b, nil
}

func (b *balancer) Close() {
	close(b.stop)
	b.ln.Close()
	b.wg.Wait()
}

func (b *balancer) check() {
	defer b.wg.Done()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			for _, e := range b.edges {
				e.healthy.Store(healthy(e))
			}
		}
	}
}

func (b *balancer) accept() {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		go b.forward(c)
	}
}

func (b *balancer) forward(c net.Conn) {
	defer c.Close()
	n := len(b.edges)
	start := int(b.next.Add(1))
	var up net.Conn
	for i := range 2 * n { // each edge, healthy ones first, twice
		e := b.edges[(start+i)%n]
		if i < n && !e.healthy.Load() {
			continue
		}
		var err error
		up, err = net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(e.https), time.Second)
		if err == nil {
			break
		}
	}
	if up == nil {
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); up.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); c.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	<-done
	<-done
}
