package server

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/skiffmq/skiff/internal/remoting"
)

// Conn is one client connection. Its methods are safe from any goroutine.
type Conn struct {
	id     uint64
	remote string
	peer   netip.AddrPort // remote parsed once (IPv4-mapped addresses unmapped); invalid when unknown
	gc     gnet.Conn      // the gnet connection (plain mode)
	nc     *netConn       // the crypto/tls or plain net.Conn (TLS modes); exactly one of gc, nc is set
	srv    *Server

	lastRead atomic.Int64 // unix ns of the last read, for idle closing
	closed   atomic.Bool
	done     chan struct{} // closed when the connection closed

	scratch remoting.DecodeBuffer // the request being decoded on the event loop (handler.decode); lent to dispatch
	turnAt  time.Time             // when the event loop's current turn read its bytes (OnTraffic; event loop only)

	// memo is the handlers' per-connection state (Memo); the server never reads it.
	memo atomic.Value

	mu      sync.Mutex
	pending map[int32]chan *remoting.Command // server-to-client requests waiting for an answer

	// Outbound frames are appended to out by any goroutine and written by the event loop in one
	// write per turn (flushOut); spare is the other half of the double buffer.
	outMu       sync.Mutex
	owed        atomic.Int64 // deferred answers owed on this connection (deferred.go)
	out         []byte
	spare       []byte
	flushQueued bool // a Wake is on its way to the event loop, or the loop is in a turn (beginTurn)
}

// maxSpareBuffer is the largest outbound buffer kept for reuse after a flush.
const maxSpareBuffer = 1 << 20

// ID returns the connection's id, unique within the server.
func (c *Conn) ID() uint64 { return c.id }

// RemoteAddr returns the peer's address ("ip:port"), saved when the connection opened.
func (c *Conn) RemoteAddr() string { return c.remote }

// RemoteAddrPort returns the peer's address parsed once when the connection opened (an IPv4
// address mapped into IPv6 is unmapped); the zero AddrPort when it is unknown.
func (c *Conn) RemoteAddrPort() netip.AddrPort { return c.peer }

// TurnStart is the time at which the event loop read the bytes of the request an inline
// handler is running (one clock read per read turn, which may carry many requests: the send
// processor's latency starts there). Only an inline handler may call it (its request is lent:
// Command.Borrowed); elsewhere it is meaningless and racy.
func (c *Conn) TurnStart() time.Time { return c.turnAt }

// Memo is a slot for a handler's per-connection state (the send processor's cache of the
// producer groups and topics it recorded): any goroutine may Load and Store it, always with
// the same type; the server never reads it and drops it with the connection.
func (c *Conn) Memo() *atomic.Value { return &c.memo }

// Closed reports whether the connection has closed.
func (c *Conn) Closed() bool { return c.closed.Load() }

// Done returns a channel closed when the connection closes.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Close closes the connection; the close hooks run afterwards.
func (c *Conn) Close() {
	if c.closed.Load() {
		return
	}
	if c.nc != nil {
		_ = c.nc.c.Close()
		return
	}
	_ = c.gc.Close()
}

// WriteResponse writes cmd as one frame. It may be called from any goroutine; an error means the
// client has gone and the response is dropped.
func (c *Conn) WriteResponse(cmd *remoting.Command) error {
	return c.write(cmd)
}

// write encodes cmd straight into the connection's outbound buffer and, when no flush is
// pending yet, wakes the event loop, which writes everything queued so far in one write(2).
// Frames never interleave: each is appended whole under outMu.
func (c *Conn) write(cmd *remoting.Command) error {
	if c.closed.Load() {
		return fmt.Errorf("server: write to %s: %w", c.remote, ErrConnClosed)
	}
	if c.nc != nil { // the TLS / net.Conn path writes each frame itself
		frame, err := cmd.Encode()
		if err != nil {
			return fmt.Errorf("server: encode for %s: %w", c.remote, err)
		}
		return c.writeFrame(frame)
	}
	c.outMu.Lock()
	out, err := cmd.AppendFrame(c.out)
	c.out = out
	if err != nil {
		c.outMu.Unlock()
		return fmt.Errorf("server: encode for %s: %w", c.remote, err)
	}
	wake := !c.flushQueued
	c.flushQueued = true
	c.outMu.Unlock()
	if wake {
		if err := c.gc.Wake(nil); err != nil {
			c.outMu.Lock()
			c.flushQueued = false
			c.outMu.Unlock()
			return fmt.Errorf("server: write to %s: %w: %w", c.remote, ErrConnClosed, err)
		}
	}
	return nil
}

// writeFrame writes an encoded frame on a TLS / net.Conn connection (c.nc).
func (c *Conn) writeFrame(frame []byte) error {
	if c.closed.Load() {
		return fmt.Errorf("server: write to %s: %w", c.remote, ErrConnClosed)
	}
	if err := c.nc.write(frame); err != nil {
		return fmt.Errorf("server: write to %s: %w: %w", c.remote, ErrConnClosed, err)
	}
	return nil
}

// flushOut runs on the event loop: it writes every queued frame with one Write (gnet copies what
// the socket does not take into its outbound buffer, so the buffer is free again afterwards).
func (c *Conn) flushOut(gc gnet.Conn) {
	c.outMu.Lock()
	buf := c.out
	c.out, c.spare = c.spare[:0], nil
	c.flushQueued = false
	c.outMu.Unlock()
	if len(buf) == 0 {
		c.putSpare(buf)
		return
	}
	if _, err := gc.Write(buf); err != nil {
		c.srv.log.Debug("write failed", "addr", c.remote, "bytes", len(buf), "err", err)
	}
	c.srv.writes.Add(1)
	c.putSpare(buf)
}

// beginTurn runs on the event loop before it decodes a read: until the flushOut that ends the
// turn, a frame queued by write (an inline answer, or a worker's) is written by that flushOut, so
// write wakes nobody.
func (c *Conn) beginTurn() {
	c.outMu.Lock()
	c.flushQueued = true
	c.outMu.Unlock()
}

// hasQueuedOutput reports whether responses wait for the event loop to write them.
func (c *Conn) hasQueuedOutput() bool {
	if c.closed.Load() {
		return false
	}
	c.outMu.Lock()
	defer c.outMu.Unlock()
	return c.flushQueued || len(c.out) > 0
}

func (c *Conn) putSpare(buf []byte) {
	if cap(buf) > maxSpareBuffer {
		return
	}
	c.outMu.Lock()
	if c.spare == nil {
		c.spare = buf[:0]
	}
	c.outMu.Unlock()
}

// Invoke sends a request to the client over this connection and waits for its answer until ctx
// is done. The request keeps its opaque unless another Invoke on this connection uses it.
func (c *Conn) Invoke(ctx context.Context, req *remoting.Command) (*remoting.Command, error) {
	ch := make(chan *remoting.Command, 1)
	c.mu.Lock()
	if c.pending == nil {
		c.pending = map[int32]chan *remoting.Command{}
	}
	for {
		if _, dup := c.pending[req.Opaque]; !dup {
			break
		}
		req.Opaque = remoting.NextOpaque()
	}
	opaque := req.Opaque
	c.pending[opaque] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, opaque)
		c.mu.Unlock()
	}()
	if err := c.write(req); err != nil {
		return nil, err
	}
	select {
	case resp := <-ch:
		return resp, nil
	case <-c.done:
		return nil, fmt.Errorf("server: invoke %s code %d: %w", c.remote, req.Code, ErrConnClosed)
	case <-ctx.Done():
		return nil, fmt.Errorf("server: invoke %s code %d opaque %d: %w (%w)", c.remote, req.Code, opaque, ErrTimeout, ctx.Err())
	}
}

// InvokeOneway sets the oneway flag on req and writes it; the client sends no answer.
func (c *Conn) InvokeOneway(req *remoting.Command) error {
	req.MarkOneway()
	return c.write(req)
}

// deliver hands a response from the client to the waiting Invoke (event loop; never blocks).
func (c *Conn) deliver(resp *remoting.Command) {
	c.mu.Lock()
	ch := c.pending[resp.Opaque]
	delete(c.pending, resp.Opaque)
	c.mu.Unlock()
	if ch == nil {
		c.srv.log.Debug("response without a waiting invoke dropped", "addr", c.remote, "opaque", resp.Opaque, "code", resp.Code)
		return
	}
	ch <- resp
}

func (c *Conn) markClosed() {
	if c.closed.CompareAndSwap(false, true) {
		close(c.done)
	}
}
