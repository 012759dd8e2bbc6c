package server

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/skiffmq/skiff/internal/remoting"
)

// handler is the gnet event handler. Every method runs on an event loop and must not block.
type handler struct {
	gnet.BuiltinEventEngine
	s *Server
}

func (h *handler) OnBoot(eng gnet.Engine) gnet.Action {
	h.s.eng = eng
	close(h.s.booted)
	return gnet.None
}

func (h *handler) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	s := h.s
	if s.draining.Load() {
		return nil, gnet.Close // stopping: no new connections
	}
	c := &Conn{id: s.nextID.Add(1), gc: gc, srv: s, done: make(chan struct{})}
	if ra := gc.RemoteAddr(); ra != nil {
		c.remote = ra.String()
		if ap, err := netip.ParseAddrPort(c.remote); err == nil {
			c.peer = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		}
	}
	c.lastRead.Store(time.Now().UnixNano())
	gc.SetContext(c)
	s.mu.Lock()
	s.conns[c.id] = c
	s.mu.Unlock()
	s.log.Debug("connection opened", "addr", c.remote, "conn", c.id)
	return nil, gnet.None
}

func (h *handler) OnClose(gc gnet.Conn, err error) gnet.Action {
	if c, ok := gc.Context().(*Conn); ok {
		h.s.connClosed(c, err)
	}
	return gnet.None
}

// OnTraffic decodes every whole frame in the inbound buffer, then writes in one write what the
// turn answered (inline requests) and what workers queued since the last write. Lengths
// are checked as soon as they arrive, so a garbage length closes the connection instead of
// making it buffer forever.
func (h *handler) OnTraffic(gc gnet.Conn) gnet.Action {
	c, ok := gc.Context().(*Conn)
	if !ok {
		return gnet.Close
	}
	if gc.InboundBuffered() == 0 {
		c.flushOut(gc) // a Wake for queued responses
		return gnet.None
	}
	now := time.Now()
	c.lastRead.Store(now.UnixNano())
	c.turnAt = now
	c.beginTurn()
	act := h.decode(c, gc)
	// One write for the turn: what workers queued since the last one and the inline answers.
	c.flushOut(gc)
	return act
}

// decode decodes and dispatches every whole frame in gc's inbound buffer.
func (h *handler) decode(c *Conn, gc gnet.Conn) gnet.Action {
	s := h.s
	for {
		n := gc.InboundBuffered()
		if n < 4 {
			return gnet.None
		}
		p, err := gc.Peek(4)
		if err != nil {
			return gnet.None
		}
		length := int64(int32(binary.BigEndian.Uint32(p)))
		if err := remoting.CheckLength(length, s.cfg.MaxFrameSize); err != nil {
			return h.reject(c, err)
		}
		if n < remoting.PrefixSize {
			return gnet.None
		}
		p, err = gc.Peek(remoting.PrefixSize)
		if err != nil {
			return gnet.None
		}
		if _, err := remoting.CheckPrefix(p, s.cfg.MaxFrameSize); err != nil {
			return h.reject(c, err)
		}
		if n < 4+int(length) {
			return gnet.None
		}
		p, err = gc.Peek(4 + int(length))
		if err != nil {
			return gnet.None
		}
		// The request is decoded straight from gnet's buffer into the connection's DecodeBuffer
		// (no copy of the frame, no allocation): both are lent to dispatch, which hands a copy
		// (Command.Own) to whatever outlives it (a worker, a waiting Invoke). An inline handler
		// runs on the view; the bytes are discarded only after it returned.
		cmd, err := remoting.DecodeFrameView(p[4:4+int(length)], &c.scratch)
		if err != nil {
			return h.reject(c, err)
		}
		s.dispatch(c, cmd)
		if _, err := gc.Discard(4 + int(length)); err != nil {
			return h.reject(c, fmt.Errorf("server: discard: %w", err))
		}
	}
}

func (h *handler) reject(c *Conn, err error) gnet.Action {
	h.s.log.Warn("closing connection: bad frame", "addr", c.remote, "err", err)
	return gnet.Close
}

func (h *handler) OnTick() (time.Duration, gnet.Action) {
	h.s.closeIdle()
	return min(h.s.cfg.IdleTimeout/4, time.Second) + time.Millisecond, gnet.None
}

// gnetLogger adapts gnet's logging interface to slog.
type gnetLogger struct{ l *slog.Logger }

func (g gnetLogger) Debugf(format string, args ...any) { g.l.Debug(fmt.Sprintf(format, args...)) }
func (g gnetLogger) Infof(format string, args ...any)  { g.l.Info(fmt.Sprintf(format, args...)) }
func (g gnetLogger) Warnf(format string, args ...any)  { g.l.Warn(fmt.Sprintf(format, args...)) }
func (g gnetLogger) Errorf(format string, args ...any) { g.l.Error(fmt.Sprintf(format, args...)) }
func (g gnetLogger) Fatalf(format string, args ...any) { g.l.Error(fmt.Sprintf(format, args...)) }
