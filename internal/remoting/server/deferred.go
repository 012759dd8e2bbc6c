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
	c.srv.owed.Add(1)
	d.c, d.code, d.opaque, d.flag, d.serType = c, req.Code, req.Opaque, req.Flag, req.SerializeType
	d.answered.Store(false)
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
	s := d.c.srv
	if resp == nil || d.flag&remoting.FlagOneway != 0 {
		s.owed.Add(-1)
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
			s.owed.Add(-1)
			return
		}
		code, opaque := d.code, d.opaque
		go func() {
			defer s.owed.Add(-1)
			if err := c.writeFrame(frame); err != nil {
				c.dropped(code, opaque, err)
			}
		}()
		return
	}
	if err := c.WriteResponse(resp); err != nil {
		c.dropped(d.code, d.opaque, err)
	}
	s.owed.Add(-1)
}

func (c *Conn) dropped(code, opaque int32, err error) {
	c.srv.log.Debug("deferred response dropped", "addr", c.remote, "code", code, "opaque", opaque, "err", err)
}

// Owed is the number of deferred answers not written yet (Conn.Defer without Answer).
func (s *Server) Owed() int64 { return s.owed.Load() }
