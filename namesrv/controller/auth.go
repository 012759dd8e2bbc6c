package controller

import (
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/skiffmq/skiff/internal/auth"
)

// authStream is the Raft transport's stream layer when a cluster secret is set: every connection
// between controller nodes starts with the cluster handshake of package auth (the accepting node
// sends a nonce, the dialling node proves the secret, the accepting node proves it back), so a
// node without the secret cannot join the Raft group or feed it entries, and a recorded handshake
// cannot be replayed.
type authStream struct {
	ln      net.Listener
	secret  []byte
	timeout time.Duration
}

func newAuthStream(addr string, secret []byte, timeout time.Duration) (*authStream, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &authStream{ln: ln, secret: secret, timeout: timeout}, nil
}

// Accept returns at once with a connection whose handshake runs on its own goroutine (so a slow
// peer never blocks Accept); its reads and writes wait for the handshake and fail if it failed.
func (s *authStream) Accept() (net.Conn, error) {
	c, err := s.ln.Accept()
	if err != nil {
		return nil, err
	}
	ac := &authConn{Conn: c, s: s}
	go func() { _ = ac.handshake() }()
	return ac, nil
}

func (s *authStream) Close() error   { return s.ln.Close() }
func (s *authStream) Addr() net.Addr { return s.ln.Addr() }

// Dial connects and runs the dialling side of the handshake before returning.
func (s *authStream) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", string(address), timeout)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(timeout))
	var hello [auth.HAHelloSize]byte
	if _, err := io.ReadFull(c, hello[:]); err != nil {
		c.Close()
		return nil, fmt.Errorf("controller: handshake with %s: read hello: %w", address, err)
	}
	resp, want, err := auth.HARespond(s.secret, hello[:])
	if err == nil {
		_, err = c.Write(resp[:])
	}
	var proof [auth.HAProofSize]byte
	if err == nil {
		_, err = io.ReadFull(c, proof[:])
	}
	if err == nil {
		err = auth.HACheckProof(want, proof[:])
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("controller: handshake with %s (is clusterSecret the same on every node?): %w", address, err)
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

// authConn runs the accepting side of the handshake once, before any Raft byte moves.
type authConn struct {
	net.Conn
	s    *authStream
	once sync.Once
	err  error
}

func (c *authConn) handshake() error {
	c.once.Do(func() {
		_ = c.Conn.SetDeadline(time.Now().Add(c.s.timeout))
		hello := auth.NewHAHello()
		_, err := c.Conn.Write(hello.Bytes[:])
		var resp [auth.HAResponseSize]byte
		if err == nil {
			_, err = io.ReadFull(c.Conn, resp[:])
		}
		var proof [auth.HAProofSize]byte
		if err == nil {
			proof, err = hello.Verify(c.s.secret, resp[:])
		}
		if err == nil {
			_, err = c.Conn.Write(proof[:])
		}
		if err != nil {
			c.err = fmt.Errorf("controller: peer %s failed the cluster handshake: %w", c.Conn.RemoteAddr(), err)
			_ = c.Conn.Close()
			return
		}
		_ = c.Conn.SetDeadline(time.Time{})
	})
	return c.err
}

func (c *authConn) Read(p []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

func (c *authConn) Write(p []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}
