package testutil

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/skiffmq/skiff/internal/remoting"
)

// FixedServer is the least a broker can do, for the SDK's benchmarks: a TCP server on 127.0.0.1
// that answers every request in RocketMQ's binary header with a frame encoded once per request
// code (SUCCESS with nothing for codes it was not given), the request's opaque patched in, so the
// server allocates nothing per request. Answers to requests read together go out in one write.
// A request in another serialization closes the connection.
type FixedServer struct {
	l  net.Listener
	wg sync.WaitGroup

	frames map[int32][]byte
	empty  []byte
}

// NewFixedServer starts a FixedServer; answers gets its address (a route body names it) and
// returns the responses by request code. The test's cleanup closes it.
func NewFixedServer(tb testing.TB, answers func(addr string) map[int32]*remoting.Command) *FixedServer {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &FixedServer{l: l, frames: map[int32][]byte{}}
	encode := func(resp *remoting.Command) []byte {
		resp.MarkResponse()
		resp.SerializeType = remoting.SerializeRocketMQ
		f, err := resp.Encode()
		if err != nil {
			tb.Fatal(err)
		}
		return f
	}
	for code, resp := range answers(l.Addr().String()) {
		s.frames[code] = encode(resp)
	}
	s.empty = encode(remoting.NewResponse(&remoting.Command{}, remoting.Success, ""))
	var mu sync.Mutex
	var conns []net.Conn
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.serve(c) }()
		}
	}()
	tb.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		s.wg.Wait()
	})
	return s
}

// Addr is the server's host:port.
func (s *FixedServer) Addr() string { return s.l.Addr().String() }

func (s *FixedServer) serve(c net.Conn) {
	br := bufio.NewReaderSize(c, 64<<10)
	var frame, out []byte
	for {
		var lb [4]byte
		if _, err := io.ReadFull(br, lb[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint32(lb[:]))
		if n < 4+9 || n > 64<<20 {
			return
		}
		if cap(frame) < n {
			frame = make([]byte, n)
		}
		frame = frame[:n]
		if _, err := io.ReadFull(br, frame); err != nil || frame[0] != remoting.SerializeRocketMQ {
			return
		}
		hdr := frame[4:] // code(2) language(1) version(2) opaque(4)
		a, ok := s.frames[int32(int16(binary.BigEndian.Uint16(hdr)))]
		if !ok {
			a = s.empty
		}
		start := len(out)
		out = append(out, a...)
		// length(4), serialization + header length(4), code(2), language(1), version(2): opaque
		binary.BigEndian.PutUint32(out[start+4+4+5:], binary.BigEndian.Uint32(hdr[5:]))
		if br.Buffered() == 0 || len(out) > 64<<10 {
			if _, err := c.Write(out); err != nil {
				return
			}
			out = out[:0]
		}
	}
}
