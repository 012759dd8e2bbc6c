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
	req      *remoting.Command
	answered atomic.Bool
}

// Defer promises an answer to req (a request this connection delivered to the handler). The
// handler then returns nil. Every Deferred must be answered once, even when the connection has
// closed meanwhile (the answer is then dropped), or Drain waits for it until its deadline.
func (c *Conn) Defer(req *remoting.Command) *Deferred {
	c.srv.owed.Add(1)
	return &Deferred{c: c, req: req}
}

// Answer writes resp as the answer to the deferred request, as the server does for a handler's
// return value: it fills opaque, the response flag and the serialization from the request. It
// never blocks the caller: on a gnet connection the frame is queued for the event loop's next
// write; a TLS connection (whose writes block) is written on a goroutine of its own. A oneway
// request is not answered. Only the first call does anything.
func (d *Deferred) Answer(resp *remoting.Command) {
	if !d.answered.CompareAndSwap(false, true) {
		return
	}
	s := d.c.srv
	if resp == nil || d.req.IsOneway() {
		s.owed.Add(-1)
		return
	}
	resp.Opaque = d.req.Opaque
	resp.MarkResponse()
	resp.SerializeType = d.req.SerializeType
	if d.c.nc != nil {
		go func() {
			defer s.owed.Add(-1)
			d.write(resp)
		}()
		return
	}
	d.write(resp)
	s.owed.Add(-1)
}

func (d *Deferred) write(resp *remoting.Command) {
	if err := d.c.WriteResponse(resp); err != nil {
		d.c.srv.log.Debug("deferred response dropped", "addr", d.c.remote, "code", d.req.Code, "opaque", d.req.Opaque, "err", err)
	}
}

// Owed is the number of deferred answers not written yet (Conn.Defer without Answer).
func (s *Server) Owed() int64 { return s.owed.Load() }
