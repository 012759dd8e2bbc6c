package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/skiffmq/skiff/internal/remoting"
)

// The TLS modes run on the standard library: gnet v2.10.0 has no TLS, and wrapping a gnet
// connection in crypto/tls would need a blocking reader on the event loop. One goroutine per
// connection reads and decodes frames and hands them to the same dispatch and pools as the gnet
// path; responses are written under a per-connection mutex with a write deadline. Default
// (disabled) deployments keep gnet and pay nothing for this file.
//
// Permissive mode sniffs the first byte: a TLS record starts with 0x16 (handshake), a remoting
// frame starts with the high byte of its length, which is 0 for every frame up to 16 MiB, so the
// two never collide.

const (
	tlsRecordHandshake = 0x16
	netWriteTimeout    = 10 * time.Second
	sniffTimeout       = 10 * time.Second
)

// netConn is a connection served by the standard library.
type netConn struct {
	c  net.Conn
	mu sync.Mutex
}

func (n *netConn) write(frame []byte) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	_ = n.c.SetWriteDeadline(time.Now().Add(netWriteTimeout))
	_, err := n.c.Write(frame)
	return err
}

// sniffedConn replays the bytes read while sniffing.
type sniffedConn struct {
	net.Conn
	r *bufio.Reader
}

func (s *sniffedConn) Read(p []byte) (int, error) { return s.r.Read(p) }

func (s *Server) startNet() error {
	if s.cfg.TLS == nil {
		s.stopPools(context.Background())
		return fmt.Errorf("server: TLS mode %s without a certificate", s.cfg.TLSMode)
	}
	if s.cfg.TLSMode != TLSPermissive && s.cfg.TLSMode != TLSEnforcing {
		s.stopPools(context.Background())
		return fmt.Errorf("server: TLS mode %q: want disabled, permissive or enforcing", s.cfg.TLSMode)
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		s.stopPools(context.Background())
		return fmt.Errorf("server: listen on %s: %w", s.cfg.Addr, err)
	}
	s.ln = ln
	s.addr = ln.Addr().String()
	close(s.runDone)
	s.netWG.Add(1)
	go s.acceptNet()
	s.log.Info("remoting server listening", "addr", s.addr, "tls", s.cfg.TLSMode)
	return nil
}

func (s *Server) acceptNet() {
	defer s.netWG.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if s.shutdown.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("accept failed", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if s.draining.Load() { // StopAccepting: new connections are closed at once
			_ = c.Close()
			continue
		}
		s.netWG.Add(1)
		go s.serveNet(c)
	}
}

// serveNet owns one connection: it settles plain or TLS, then reads frames until an error.
func (s *Server) serveNet(raw net.Conn) {
	defer s.netWG.Done()
	var nc net.Conn = raw
	remote := raw.RemoteAddr().String()
	if s.cfg.TLSMode == TLSPermissive {
		br := bufio.NewReader(raw)
		_ = raw.SetReadDeadline(time.Now().Add(sniffTimeout))
		first, err := br.Peek(1)
		if err != nil {
			_ = raw.Close()
			return
		}
		nc = &sniffedConn{Conn: raw, r: br}
		if first[0] == tlsRecordHandshake {
			nc = tls.Server(nc, s.cfg.TLS)
		}
	} else {
		nc = tls.Server(raw, s.cfg.TLS)
	}
	if tc, ok := nc.(*tls.Conn); ok {
		_ = raw.SetDeadline(time.Now().Add(sniffTimeout))
		if err := tc.Handshake(); err != nil {
			s.log.Warn("closing connection: TLS handshake failed", "addr", remote, "mode", s.cfg.TLSMode, "err", err)
			_ = raw.Close()
			return
		}
		_ = raw.SetDeadline(time.Time{})
	}
	c := &Conn{id: s.nextID.Add(1), remote: remote, nc: &netConn{c: nc}, srv: s, done: make(chan struct{})}
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		c.peer = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	c.lastRead.Store(time.Now().UnixNano())
	s.mu.Lock()
	s.conns[c.id] = c
	s.mu.Unlock()
	err := s.readFrames(c, nc)
	_ = nc.Close()
	s.connClosed(c, err)
}

func (s *Server) readFrames(c *Conn, nc net.Conn) error {
	br := bufio.NewReaderSize(nc, 64<<10)
	var prefix [remoting.PrefixSize]byte
	for {
		if s.cfg.IdleTimeout > 0 {
			_ = nc.SetReadDeadline(time.Now().Add(s.cfg.IdleTimeout))
		}
		if _, err := io.ReadFull(br, prefix[:4]); err != nil {
			return err
		}
		c.lastRead.Store(time.Now().UnixNano())
		length := int64(int32(binary.BigEndian.Uint32(prefix[:4])))
		if err := remoting.CheckLength(length, s.cfg.MaxFrameSize); err != nil {
			s.log.Warn("closing connection: bad frame", "addr", c.remote, "err", err)
			return err
		}
		if _, err := io.ReadFull(br, prefix[4:]); err != nil {
			return err
		}
		if _, err := remoting.CheckPrefix(prefix[:], s.cfg.MaxFrameSize); err != nil {
			s.log.Warn("closing connection: bad frame", "addr", c.remote, "err", err)
			return err
		}
		frame := make([]byte, length)
		copy(frame, prefix[4:])
		if _, err := io.ReadFull(br, frame[4:]); err != nil {
			return err
		}
		cmd, err := remoting.DecodeFrame(frame)
		if err != nil {
			s.log.Warn("closing connection: bad frame", "addr", c.remote, "err", err)
			return err
		}
		s.dispatch(c, cmd)
	}
}

func (s *Server) stopNet(ctx context.Context) error {
	_ = s.ln.Close()
	for _, c := range s.Conns() {
		c.Close()
	}
	done := make(chan struct{})
	go func() { s.netWG.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("server: wait for connections: %w", ctx.Err())
	}
}
