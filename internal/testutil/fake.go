package testutil

import (
	"net"
	"sync"
	"testing"

	"github.com/skiffmq/skiff/internal/remoting"
)

// FakeServer is a scripted remoting server for client tests: it answers requests with the
// handler registered for their code and leaves other requests unanswered. It records every
// request. It stops when the test ends.
type FakeServer struct {
	l        net.Listener
	mu       sync.Mutex
	handlers map[int32]func(*remoting.Command) *remoting.Command
	got      []*remoting.Command
}

// NewFakeServer listens on a free 127.0.0.1 port.
func NewFakeServer(t testing.TB) *FakeServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testutil: fake server listen: %v", err)
	}
	s := &FakeServer{l: l, handlers: map[int32]func(*remoting.Command) *remoting.Command{}}
	var wg sync.WaitGroup
	var cmu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			cmu.Lock()
			conns = append(conns, c)
			cmu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		cmu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		cmu.Unlock()
		wg.Wait()
	})
	return s
}

func (s *FakeServer) serve(c net.Conn) {
	for {
		req, err := remoting.ReadCommand(c, 0)
		if err != nil {
			return
		}
		s.mu.Lock()
		s.got = append(s.got, req)
		h := s.handlers[req.Code]
		s.mu.Unlock()
		if h == nil {
			continue
		}
		resp := h(req)
		if resp == nil {
			continue
		}
		f, err := resp.Encode()
		if err != nil {
			return
		}
		if _, err := c.Write(f); err != nil {
			return
		}
	}
}

// Addr is the server's "127.0.0.1:port".
func (s *FakeServer) Addr() string { return s.l.Addr().String() }

// HandleFunc answers requests with code by calling h (a nil result sends nothing).
func (s *FakeServer) HandleFunc(code int32, h func(*remoting.Command) *remoting.Command) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[code] = h
}

// Handle answers requests with code with respCode, remark and body.
func (s *FakeServer) Handle(code, respCode int32, remark, body string) {
	s.HandleFunc(code, func(req *remoting.Command) *remoting.Command {
		r := remoting.NewResponse(req, respCode, remark)
		if body != "" {
			r.Body = []byte(body)
		}
		return r
	})
}

// Requests returns the requests received with code, in arrival order.
func (s *FakeServer) Requests(code int32) []*remoting.Command {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*remoting.Command
	for _, r := range s.got {
		if r.Code == code {
			out = append(out, r)
		}
	}
	return out
}

// DeadAddr returns a 127.0.0.1 address on which nothing listens (a port that was just free).
func DeadAddr(t testing.TB) string {
	return Addr(FreePort(t))
}
