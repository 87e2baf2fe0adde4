package tenantproxy

import (
	"bufio"
	"context"
	"net"
	"sync"
	"time"
)

// Buffer sizes of an upstream connection; the answers of the appservers'
// pages and API fit the read buffer's headers comfortably.
const (
	connReadBuf  = 4096
	connWriteBuf = 4096
)

// pool holds one upstream's idle connections, the most recently used last
// (LIFO: the warm ones are reused, the cold ones expire).
type pool struct {
	addr    string
	dialer  *net.Dialer
	maxIdle int
	ttl     time.Duration

	mu     sync.Mutex
	idle   []*conn
	closed bool // after Cleanup: connections still in use are closed when done
}

// conn is one kept-open connection to an upstream with its buffers.
type conn struct {
	nc        net.Conn
	br        *bufio.Reader
	bw        *bufio.Writer
	idleSince time.Time
	// abort fails the connection's pending I/O; run by context.AfterFunc
	// when the client's request ends first.
	abort func()
}

// aLongTimeAgo is a deadline in the past: it fails pending reads and writes.
var aLongTimeAgo = time.Unix(1, 0)

// get returns an idle connection (reused true) or dials a new one.
func (p *pool) get(ctx context.Context) (c *conn, reused bool, err error) {
	now := time.Now()
	var expired []*conn
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		c = p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		if now.Sub(c.idleSince) >= p.ttl {
			// The newest has expired, so have all the older ones.
			expired = append(p.idle, c)
			p.idle = nil
			c = nil
		}
	}
	p.mu.Unlock()
	for _, old := range expired {
		old.nc.Close()
	}
	if c != nil {
		return c, true, nil
	}
	nc, err := p.dialer.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, false, err
	}
	c = &conn{nc: nc, br: bufio.NewReaderSize(nc, connReadBuf), bw: bufio.NewWriterSize(nc, connWriteBuf)}
	c.abort = func() { _ = nc.SetDeadline(aLongTimeAgo) }
	return c, false, nil
}

// put keeps c for the next request, or closes it when the pool is full.
func (p *pool) put(c *conn) {
	c.idleSince = time.Now()
	p.mu.Lock()
	if !p.closed && len(p.idle) < p.maxIdle {
		p.idle = append(p.idle, c)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	c.nc.Close()
}

// close closes every idle connection, and every other one when its
// request ends (a config reload replaces the handler while requests run).
func (p *pool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.closed = true
	p.mu.Unlock()
	for _, c := range idle {
		c.nc.Close()
	}
}
