package server

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/remoting"
)

// rawConn is a plain TCP connection for sending hand-made bytes.
type rawConn struct {
	t  *testing.T
	nc net.Conn
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	return &rawConn{t: t, nc: nc}
}

func (r *rawConn) write(b []byte) {
	r.t.Helper()
	if _, err := r.nc.Write(b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

func (r *rawConn) send(c *remoting.Command) {
	r.t.Helper()
	b, err := c.Encode()
	if err != nil {
		r.t.Fatal(err)
	}
	r.write(b)
}

// read returns the next command; the deadline only stops a broken test from hanging.
func (r *rawConn) read() *remoting.Command {
	r.t.Helper()
	_ = r.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	c, err := remoting.ReadCommand(r.nc, 0)
	if err != nil {
		r.t.Fatalf("read: %v", err)
	}
	return c
}

// expectClosed asserts the server closes the connection (EOF or reset, no data).
func (r *rawConn) expectClosed() {
	r.t.Helper()
	_ = r.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	var b [1]byte
	n, err := r.nc.Read(b[:])
	var ne net.Error
	if n != 0 || err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		r.t.Fatalf("connection not closed by the server: n=%d err=%v", n, err)
	}
}

func TestServerConcurrentCallsOneConnection(t *testing.T) {
	f := startServer(t, Config{}, func(s *Server) { s.Handle(codeEcho, PoolClient, echo) })
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := strconv.Itoa(i)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			req := remoting.NewRequest(codeEcho, map[string]string{"v": v}, []byte(v))
			resp, err := f.cli.Invoke(ctx, f.srv.Addr(), req)
			if err != nil {
				errs <- err
				return
			}
			if resp.ExtFields["echo"] != v || string(resp.Body) != v || resp.Opaque != req.Opaque {
				errs <- fmt.Errorf("call %s got %+v", v, resp)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(f.srv.Conns()); n != 1 {
		t.Fatalf("%d server connections, want 1", n)
	}
}

func TestServerSlowHandlerDoesNotBlockFastOnSameConnection(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	f := startServer(t, Config{}, func(s *Server) {
		s.Handle(codeSlow, PoolPull, func(_ context.Context, _ *Conn, req *remoting.Command) *remoting.Command {
			close(entered)
			<-release
			return remoting.NewResponse(req, remoting.Success, "slow")
		})
		s.Handle(codeEcho, PoolPull, echo) // same pool: other workers must take it
	})
	slowDone := make(chan *remoting.Command, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := f.cli.InvokeAsync(ctx, f.srv.Addr(), remoting.NewRequest(codeSlow, nil, nil), func(r *remoting.Command, err error) {
		if err != nil {
			t.Errorf("slow: %v", err)
		}
		slowDone <- r
	})
	if err != nil {
		t.Fatal(err)
	}
	<-entered
	resp := invoke(t, f.cli, f.srv.Addr(), remoting.NewRequest(codeEcho, map[string]string{"v": "fast"}, nil))
	if resp.ExtFields["echo"] != "fast" {
		t.Fatalf("fast resp %+v", resp)
	}
	select {
	case <-slowDone:
		t.Fatal("slow call finished before release")
	default:
	}
	close(release)
	if r := <-slowDone; r == nil || r.Remark != "slow" {
		t.Fatalf("slow resp %+v", r)
	}
}

func TestServerAnswerLaterWithWriteResponse(t *testing.T) {
	held := make(chan func(), 1)
	f := startServer(t, Config{}, func(s *Server) {
		s.Handle(codeLater, PoolPull, func(_ context.Context, c *Conn, req *remoting.Command) *remoting.Command {
			held <- func() {
				if err := c.WriteResponse(remoting.NewResponse(req, remoting.PullNotFound, "later")); err != nil {
					t.Errorf("WriteResponse: %v", err)
				}
			}
			return nil
		})
		s.Handle(codeEcho, PoolClient, echo)
	})
	got := make(chan *remoting.Command, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := f.cli.InvokeAsync(ctx, f.srv.Addr(), remoting.NewRequest(codeLater, nil, nil), func(r *remoting.Command, err error) {
		if err != nil {
			t.Errorf("later: %v", err)
		}
		got <- r
	}); err != nil {
		t.Fatal(err)
	}
	answer := <-held
	invoke(t, f.cli, f.srv.Addr(), remoting.NewRequest(codeEcho, nil, nil)) // heartbeat-like call passes the held one
	answer()
	if r := <-got; r == nil || r.Code != remoting.PullNotFound || r.Remark != "later" {
		t.Fatalf("held resp %+v", r)
	}
}

func TestServerInvokeClient(t *testing.T) {
	conns := make(chan *Conn, 1)
	f := startServer(t, Config{}, func(s *Server) {
		s.Handle(codeEcho, PoolClient, func(ctx context.Context, c *Conn, req *remoting.Command) *remoting.Command {
			conns <- c
			return echo(ctx, c, req)
		})
	})
	oneway := make(chan *remoting.Command, 1)
	f.cli.Handle(codeAsk, func(addr string, req *remoting.Command) *remoting.Command {
		if req.IsOneway() {
			oneway <- req
			return remoting.NewResponse(req, remoting.Success, "must not be sent")
		}
		resp := remoting.NewResponse(req, remoting.Success, "from client")
		resp.ExtFields["addr"] = addr
		resp.ExtFields["q"] = req.ExtFields["q"]
		return resp
	})
	invoke(t, f.cli, f.srv.Addr(), remoting.NewRequest(codeEcho, nil, nil))
	c := <-conns
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range 20 {
		req := remoting.NewRequest(codeAsk, map[string]string{"q": strconv.Itoa(i)}, nil)
		resp, err := c.Invoke(ctx, req)
		if err != nil {
			t.Fatalf("server invoke: %v", err)
		}
		if resp.Remark != "from client" || resp.Opaque != req.Opaque || resp.ExtFields["q"] != strconv.Itoa(i) ||
			resp.ExtFields["addr"] != f.srv.Addr() {
			t.Fatalf("resp %+v", resp)
		}
	}
	if err := c.InvokeOneway(remoting.NewRequest(codeAsk, map[string]string{"q": "ow"}, nil)); err != nil {
		t.Fatal(err)
	}
	if r := <-oneway; r.ExtFields["q"] != "ow" {
		t.Fatalf("oneway %+v", r)
	}
	// A client request code the client has no handler for is answered with code 3.
	resp, err := c.Invoke(ctx, remoting.NewRequest(codeSlow, nil, nil))
	if err != nil || resp.Code != remoting.RequestCodeNotSupported {
		t.Fatalf("unknown client code: %+v %v", resp, err)
	}
}

func TestServerOnewayNotAnswered(t *testing.T) {
	f := startServer(t, Config{PoolConfigs: map[string]PoolConfig{"one": {Workers: 1, Queue: 10}}},
		func(s *Server) { s.Handle(codeEcho, "one", echo) })
	r := dialRaw(t, f.srv.Addr())
	ow := remoting.NewRequest(codeEcho, map[string]string{"v": "oneway"}, nil)
	ow.MarkOneway()
	r.send(ow)
	normal := remoting.NewRequest(codeEcho, map[string]string{"v": "normal"}, nil)
	r.send(normal)
	// One worker runs the two in order, so an answer to the oneway request would come first.
	if got := r.read(); got.Opaque != normal.Opaque || got.ExtFields["echo"] != "normal" {
		t.Fatalf("first frame %+v, want the answer to the normal request", got)
	}
	// Same through the rpc client: the call returns without waiting for an answer.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.cli.InvokeOneway(ctx, f.srv.Addr(), remoting.NewRequest(codeEcho, nil, nil)); err != nil {
		t.Fatal(err)
	}
}

func TestServerAnswersInRequestSerialization(t *testing.T) {
	f := startServer(t, Config{}, func(s *Server) { s.Handle(codeEcho, PoolClient, echo) })
	r := dialRaw(t, f.srv.Addr())
	for _, st := range []byte{remoting.SerializeRocketMQ, remoting.SerializeJSON} {
		req := remoting.NewRequest(codeEcho, map[string]string{"v": "x"}, nil)
		req.SerializeType = st
		r.send(req)
		got := r.read()
		if got.SerializeType != st || got.Opaque != req.Opaque || got.ExtFields["echo"] != "x" || got.Version != remoting.CurrentVersion {
			t.Fatalf("serType %d: resp %+v", st, got)
		}
	}
}

func TestServerPanicAnswersSystemError(t *testing.T) {
	f := startServer(t, Config{}, func(s *Server) {
		s.Handle(codePanic, PoolClient, func(context.Context, *Conn, *remoting.Command) *remoting.Command { panic("boom") })
		s.Handle(codeEcho, PoolClient, echo)
	})
	resp := invoke(t, f.cli, f.srv.Addr(), remoting.NewRequest(codePanic, nil, nil))
	if resp.Code != remoting.SystemError {
		t.Fatalf("resp %+v", resp)
	}
	if !f.logs.contains("handler panic") || !f.logs.contains("boom") {
		t.Fatal("panic not logged")
	}
	invoke(t, f.cli, f.srv.Addr(), remoting.NewRequest(codeEcho, nil, nil))
}

func TestServerFullPoolAnswersSystemBusy(t *testing.T) {
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	f := startServer(t, Config{PoolConfigs: map[string]PoolConfig{"tiny": {Workers: 1, Queue: 1}}}, func(s *Server) {
		s.Handle(codeSlow, "tiny", func(_ context.Context, _ *Conn, req *remoting.Command) *remoting.Command {
			entered <- struct{}{}
			<-release
			return remoting.NewResponse(req, remoting.Success, "")
		})
	})
	defer close(release)
	r := dialRaw(t, f.srv.Addr())
	first := remoting.NewRequest(codeSlow, nil, nil)
	r.send(first)
	<-entered // the only worker is busy
	queued := remoting.NewRequest(codeSlow, nil, nil)
	busy := remoting.NewRequest(codeSlow, nil, nil)
	r.send(queued)
	r.send(busy)
	got := r.read()
	if got.Opaque != busy.Opaque || got.Code != remoting.SystemBusy {
		t.Fatalf("resp %+v, want SYSTEM_BUSY for opaque %d", got, busy.Opaque)
	}
}

func TestServerUnknownCode(t *testing.T) {
	f := startServer(t, Config{}, func(s *Server) { s.Handle(codeEcho, PoolClient, echo) })
	r := dialRaw(t, f.srv.Addr())
	req := remoting.NewRequest(999, nil, nil)
	r.send(req)
	got := r.read()
	if got.Code != remoting.RequestCodeNotSupported || got.Remark != " request type 999 not supported" || got.Opaque != req.Opaque || !got.IsResponse() {
		t.Fatalf("resp %+v", got)
	}
	// The connection stays usable.
	ok := remoting.NewRequest(codeEcho, map[string]string{"v": "still"}, nil)
	r.send(ok)
	if got := r.read(); got.ExtFields["echo"] != "still" {
		t.Fatalf("resp %+v", got)
	}
}

func TestServerSplitAndCoalescedFrames(t *testing.T) {
	f := startServer(t, Config{}, func(s *Server) { s.Handle(codeEcho, PoolClient, echo) })
	r := dialRaw(t, f.srv.Addr())
	a, _ := remoting.NewRequest(codeEcho, map[string]string{"v": "a"}, []byte("body-a")).Encode()
	for i := range a { // one byte per write
		r.write(a[i : i+1])
	}
	if got := r.read(); got.ExtFields["echo"] != "a" || string(got.Body) != "body-a" {
		t.Fatalf("split frame resp %+v", got)
	}
	var both []byte
	for _, v := range []string{"b", "c", "d"} {
		b, _ := remoting.NewRequest(codeEcho, map[string]string{"v": v}, nil).Encode()
		both = append(both, b...)
	}
	r.write(both)
	seen := map[string]bool{}
	for range 3 {
		seen[r.read().ExtFields["echo"]] = true
	}
	if !seen["b"] || !seen["c"] || !seen["d"] {
		t.Fatalf("coalesced frames answered: %v", seen)
	}
}

func TestServerBadFramesCloseOnlyThatConnection(t *testing.T) {
	prefix := func(length uint32, second uint32, rest ...byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, length)
		b = binary.BigEndian.AppendUint32(b, second)
		return append(b, rest...)
	}
	cases := []struct {
		name   string
		bytes  []byte
		reason string
	}{
		{"length below minimum", []byte{0, 0, 0, 2, 0, 0}, "frame too short"},
		{"negative length", []byte{0x80, 0, 0, 0}, "frame too short"},
		{"oversized frame", prefix(4096, 20), "frame too large"},
		{"header longer than frame", prefix(10, 200, '{', '}'), "bad header length"},
		{"unknown serialization type", prefix(6, 5<<24|2, '{', '}'), "unknown serialize type"},
		{"garbage header", prefix(12, 8, 'n', 'o', 't', ' ', 'j', 's', 'o', 'n'), "bad header"},
	}
	f := startServer(t, Config{MaxFrameSize: 1024}, func(s *Server) { s.Handle(codeEcho, PoolClient, echo) })
	good := dialRaw(t, f.srv.Addr())
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bad := dialRaw(t, f.srv.Addr())
			bad.write(tc.bytes)
			bad.expectClosed()
			if !f.logs.contains(tc.reason) {
				t.Fatalf("no log line with reason %q", tc.reason)
			}
			// The other connections keep working.
			req := remoting.NewRequest(codeEcho, map[string]string{"v": tc.name}, nil)
			good.send(req)
			if got := good.read(); got.ExtFields["echo"] != tc.name {
				t.Fatalf("good connection got %+v", got)
			}
			invoke(t, f.cli, f.srv.Addr(), remoting.NewRequest(codeEcho, nil, nil))
		})
	}
}

func TestServerBinaryHeaderGarbageClosesConnection(t *testing.T) {
	f := startServer(t, Config{}, func(s *Server) { s.Handle(codeEcho, PoolClient, echo) })
	hdr := make([]byte, 21)
	binary.BigEndian.PutUint32(hdr[13:], 1000) // remark runs past the header
	b := binary.BigEndian.AppendUint32(nil, uint32(4+len(hdr)))
	b = binary.BigEndian.AppendUint32(b, 1<<24|uint32(len(hdr)))
	bad := dialRaw(t, f.srv.Addr())
	bad.write(append(b, hdr...))
	bad.expectClosed()
	if !f.logs.contains("remark length 1000") {
		t.Fatal("reason not logged")
	}
	invoke(t, f.cli, f.srv.Addr(), remoting.NewRequest(codeEcho, nil, nil))
}

func TestServerConnCloseHook(t *testing.T) {
	closed := make(chan *Conn, 1)
	f := startServer(t, Config{}, func(s *Server) {
		s.Handle(codeEcho, PoolClient, echo)
		s.OnConnClose(func(c *Conn) { closed <- c })
	})
	r := dialRaw(t, f.srv.Addr())
	r.send(remoting.NewRequest(codeEcho, nil, nil))
	r.read()
	local := r.nc.LocalAddr().String()
	_ = r.nc.Close()
	c := <-closed
	if c.RemoteAddr() != local || !c.Closed() {
		t.Fatalf("hook got conn %d %s closed=%v, want %s", c.ID(), c.RemoteAddr(), c.Closed(), local)
	}
	if err := c.WriteResponse(remoting.NewResponse(remoting.NewRequest(1, nil, nil), 0, "")); !errors.Is(err, ErrConnClosed) {
		t.Fatalf("write after close: %v", err)
	}
	if _, err := c.Invoke(context.Background(), remoting.NewRequest(codeAsk, nil, nil)); !errors.Is(err, ErrConnClosed) {
		t.Fatalf("invoke after close: %v", err)
	}
}

func TestServerAddressInUse(t *testing.T) {
	f := startServer(t, Config{}, nil)
	log, _ := newLogger(t)
	s2 := New(Config{Addr: f.srv.Addr(), Logger: log})
	err := s2.Start()
	if err == nil {
		_ = s2.Shutdown(context.Background())
		t.Fatal("second server on the same port started")
	}
	if !errors.Is(err, syscallEADDRINUSE) {
		t.Fatalf("err %v, want address in use", err)
	}
}
