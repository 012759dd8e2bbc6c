package server

import (
	"sync/atomic"

	"github.com/skiffmq/skiff/internal/remoting"
)

// Deferred is an answer a handler owes and writes later, from any goroutine: the handler calls
// Conn.Defer, returns nil, and some other goroutine calls Answer exactly once (the SYNC_FLUSH
// send path answers from the store's answering goroutine after the covering msync). The server
// counts owed answers: Drain waits until every one is written.
type Deferred struct {
	c        *Conn
	code     int32 // the request's code, opaque, flag and serialization (copied: an inline
	opaque   int32 // request is lent only until its handler returns)
	flag     int32
	serType  byte
	answered atomic.Bool
}

// Defer promises an answer to req (a request this connection delivered to the handler). The
// handler then returns nil. The Deferred keeps no reference to req; a handler whose answer reads
// req later keeps req.Own() (an inline request is lent only until the handler returns). Every Deferred must be answered once, even when the connection has
// closed meanwhile (the answer is then dropped), or Drain waits for it until its deadline.
func (c *Conn) Defer(req *remoting.Command) *Deferred {
	d := new(Deferred)
	c.DeferInto(d, req)
	return d
}

// DeferInto is Defer with the caller's Deferred: it makes *d a new promise of an answer to req
// (no allocation; the send processor keeps d in its pooled per-send state). d may be reused
// for another request once its Answer has returned: Answer reads nothing of d afterwards.
func (c *Conn) DeferInto(d *Deferred, req *remoting.Command) {
	c.owe()
	// A plain store, not answered.Store (an xchg, a full barrier): d is not shared yet.
	*d = Deferred{c: c, code: req.Code, opaque: req.Opaque, flag: req.Flag, serType: req.SerializeType}
}

// Owed answers are counted per connection (Conn.owed, on the cache line of the outbound
// buffer's mutex, which an answer takes anyway), and the server counts the connections that owe
// any (Server.owing, changed only when a connection's count leaves or reaches 0): a count shared
// by every send would move between the event loop's core and the answering goroutine's twice
// per deferred send. Deferreds are made only by handlers, which Drain has stopped (workers) or
// counts as running (inline) before it reads owing, so a connection's 0 -> 1 step, whose owing
// increment follows its own, cannot be missed.

func (c *Conn) owe() {
	if c.owed.Add(1) == 1 {
		c.srv.owing.Add(1)
	}
}

func (c *Conn) settle() {
	if c.owed.Add(-1) == 0 {
		c.srv.owing.Add(-1)
	}
}

// Answer writes resp as the answer to the deferred request, as the server does for a handler's
// return value: it fills opaque, the response flag and the serialization from the request. It
// never blocks the caller: on a gnet connection the frame is queued for the event loop's next
// write; a TLS connection (whose writes block) is written on a goroutine of its own. A oneway
// request is not answered. Only the first call (since Defer or DeferInto) does anything. resp has been encoded when Answer
// returns, so its memory may be reused then (the send processor pools it).
func (d *Deferred) Answer(resp *remoting.Command) {
	if !d.answered.CompareAndSwap(false, true) {
		return
	}
	if resp == nil || d.flag&remoting.FlagOneway != 0 {
		d.c.settle()
		return
	}
	resp.Opaque = d.opaque
	resp.MarkResponse()
	resp.SerializeType = d.serType
	c := d.c
	if c.nc != nil {
		// Encoded here, written on a goroutine: neither resp nor d is read after Answer returns.
		frame, err := resp.Encode()
		if err != nil {
			c.dropped(d.code, d.opaque, err)
			c.settle()
			return
		}
		code, opaque := d.code, d.opaque
		go func() {
			defer c.settle()
			if err := c.writeFrame(frame); err != nil {
				c.dropped(code, opaque, err)
			}
		}()
		return
	}
	if err := c.WriteResponse(resp); err != nil {
		c.dropped(d.code, d.opaque, err)
	}
	c.settle()
}

func (c *Conn) dropped(code, opaque int32, err error) {
	c.srv.log.Debug("deferred response dropped", "addr", c.remote, "code", code, "opaque", opaque, "err", err)
}

// Owed is the number of deferred answers not written yet (Conn.Defer without Answer): those of
// the open connections and of the closed ones that owed answers when they closed (an answer
// deferred by a worker after its connection closed is not counted here, though Drain waits
// for it).
func (s *Server) Owed() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, c := range s.conns {
		n += c.owed.Load()
	}
	still := s.closedOwing[:0]
	for _, c := range s.closedOwing {
		if o := c.owed.Load(); o > 0 {
			n += o
			still = append(still, c)
		}
	}
	clear(s.closedOwing[len(still):])
	s.closedOwing = still
	return n
}
