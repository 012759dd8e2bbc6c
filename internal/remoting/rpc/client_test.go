package rpc

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/remoting"
)

// fakeServer accepts connections and hands every frame to fn with a way to write back.
type fakeServer struct {
	ln      net.Listener
	mu      sync.Mutex
	conns   []net.Conn
	accepts chan net.Conn
	wg      sync.WaitGroup
}

type peer struct {
	nc net.Conn
	mu *sync.Mutex
}

func (p peer) send(c *remoting.Command) error {
	b, err := c.Encode()
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_, err = p.nc.Write(b)
	return err
}

func startFake(t *testing.T, fn func(p peer, cmd *remoting.Command)) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeServer{ln: ln, accepts: make(chan net.Conn, 16)}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.conns = append(f.conns, nc)
			f.mu.Unlock()
			select {
			case f.accepts <- nc:
			default:
			}
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				p := peer{nc: nc, mu: &sync.Mutex{}}
				for {
					cmd, err := remoting.ReadCommand(nc, 0)
					if err != nil {
						_ = nc.Close()
						return
					}
					fn(p, cmd)
				}
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		f.dropAll()
		f.wg.Wait()
	})
	return f
}

func (f *fakeServer) addr() string { return f.ln.Addr().String() }

func (f *fakeServer) dropAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.conns {
		_ = c.Close()
	}
	f.conns = nil
}

func echoFn(p peer, cmd *remoting.Command) {
	if cmd.IsResponse() || cmd.IsOneway() {
		return
	}
	resp := remoting.NewResponse(cmd, remoting.Success, "")
	resp.ExtFields["v"] = cmd.ExtFields["v"]
	_ = p.send(resp)
}

func newClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := New(cfg)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func ctx10(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestRPCInvokeMatchesByOpaque(t *testing.T) {
	// The server answers every second request first: order must not matter.
	var mu sync.Mutex
	var held *remoting.Command
	f := startFake(t, func(p peer, cmd *remoting.Command) {
		mu.Lock()
		defer mu.Unlock()
		if held == nil {
			held = cmd
			return
		}
		echoFn(p, cmd)
		echoFn(p, held)
		held = nil
	})
	c := newClient(t, Config{})
	var wg sync.WaitGroup
	for _, v := range []string{"a", "b", "c", "d", "e", "f"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Invoke(ctx10(t), f.addr(), remoting.NewRequest(1, map[string]string{"v": v}, nil))
			if err != nil || resp.ExtFields["v"] != v {
				t.Errorf("%s: %+v %v", v, resp, err)
			}
		}()
	}
	wg.Wait()
	f.mu.Lock()
	n := len(f.conns)
	f.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d connections, want 1", n)
	}
}

func TestRPCTimeoutDropsLateResponse(t *testing.T) {
	gate := make(chan struct{})
	f := startFake(t, func(p peer, cmd *remoting.Command) {
		if cmd.Code == 2 {
			go func() { <-gate; echoFn(p, cmd) }() // answered only after the caller gave up
			return
		}
		echoFn(p, cmd)
	})
	c := newClient(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Invoke(ctx, f.addr(), remoting.NewRequest(2, nil, nil))
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), f.addr()) {
		t.Fatalf("err %v", err)
	}
	close(gate)
	// The late answer is dropped; the connection keeps working.
	resp, err := c.Invoke(ctx10(t), f.addr(), remoting.NewRequest(1, map[string]string{"v": "next"}, nil))
	if err != nil || resp.ExtFields["v"] != "next" {
		t.Fatalf("%+v %v", resp, err)
	}
}

func TestRPCAsyncAndOneway(t *testing.T) {
	oneway := make(chan *remoting.Command, 1)
	f := startFake(t, func(p peer, cmd *remoting.Command) {
		if cmd.IsOneway() {
			oneway <- cmd
			return
		}
		echoFn(p, cmd)
	})
	c := newClient(t, Config{})
	got := make(chan *remoting.Command, 1)
	if err := c.InvokeAsync(ctx10(t), f.addr(), remoting.NewRequest(1, map[string]string{"v": "async"}, nil), func(r *remoting.Command, err error) {
		if err != nil {
			t.Errorf("async: %v", err)
		}
		got <- r
	}); err != nil {
		t.Fatal(err)
	}
	if r := <-got; r == nil || r.ExtFields["v"] != "async" {
		t.Fatalf("async resp %+v", r)
	}
	if err := c.InvokeOneway(ctx10(t), f.addr(), remoting.NewRequest(7, nil, nil)); err != nil {
		t.Fatal(err)
	}
	if r := <-oneway; r.Flag != remoting.FlagOneway || r.Code != 7 {
		t.Fatalf("oneway arrived as %+v", r)
	}
	// An async call that gets no answer ends with ErrTimeout, exactly once.
	done := make(chan error, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	fSilent := startFake(t, func(peer, *remoting.Command) {})
	if err := c.InvokeAsync(ctx, fSilent.addr(), remoting.NewRequest(1, nil, nil), func(_ *remoting.Command, err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrTimeout) {
		t.Fatalf("async timeout: %v", err)
	}
}

func TestRPCConnectionDropFailsPendingAndRedials(t *testing.T) {
	var drop sync.Once
	srv := startFake(t, func(p peer, cmd *remoting.Command) {
		if cmd.Code == 2 {
			drop.Do(func() { _ = p.nc.Close() })
			return
		}
		echoFn(p, cmd)
	})
	c := newClient(t, Config{})
	hook := make(chan string, 4)
	c.OnConnClose(func(addr string, err error) {
		if !errors.Is(err, ErrConnClosed) {
			t.Errorf("hook err %v", err)
		}
		hook <- addr
	})
	_, err := c.Invoke(ctx10(t), srv.addr(), remoting.NewRequest(2, nil, nil))
	if !errors.Is(err, ErrConnClosed) || !strings.Contains(err.Error(), srv.addr()) {
		t.Fatalf("err %v", err)
	}
	if a := <-hook; a != srv.addr() {
		t.Fatalf("hook addr %s", a)
	}
	resp, err := c.Invoke(ctx10(t), srv.addr(), remoting.NewRequest(1, map[string]string{"v": "again"}, nil))
	if err != nil || resp.ExtFields["v"] != "again" {
		t.Fatalf("after redial: %+v %v", resp, err)
	}
}

func TestRPCConnectErrorAndClosed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	c := New(Config{})
	_, err = c.Invoke(ctx10(t), addr, remoting.NewRequest(1, nil, nil))
	if !errors.Is(err, ErrConnect) || !strings.Contains(err.Error(), addr) {
		t.Fatalf("err %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Invoke(ctx10(t), addr, remoting.NewRequest(1, nil, nil)); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

func TestRPCCloseFailsPendingCalls(t *testing.T) {
	f := startFake(t, func(peer, *remoting.Command) {})
	c := New(Config{})
	errCh := make(chan error, 1)
	go func() {
		_, err := c.Invoke(ctx10(t), f.addr(), remoting.NewRequest(1, nil, nil))
		errCh <- err
	}()
	<-f.accepts
	// Close may run before the request is written; either way the call must end with an error.
	_ = c.Close()
	if err := <-errCh; !errors.Is(err, ErrConnClosed) && !errors.Is(err, ErrClosed) {
		t.Fatalf("err %v", err)
	}
}

func TestRPCServerInitiatedRequests(t *testing.T) {
	answers := make(chan *remoting.Command, 4)
	f := startFake(t, func(p peer, cmd *remoting.Command) {
		if cmd.IsResponse() {
			answers <- cmd
			return
		}
		echoFn(p, cmd)
	})
	c := newClient(t, Config{})
	c.Handle(40, func(addr string, req *remoting.Command) *remoting.Command { return nil })
	c.Handle(307, func(addr string, req *remoting.Command) *remoting.Command {
		r := remoting.NewResponse(req, remoting.Success, addr)
		r.Opaque = 0 // the client must fix the opaque
		r.Flag = 0   // and the response flag
		return r
	})
	c.Handle(309, func(string, *remoting.Command) *remoting.Command { panic("boom") })
	if _, err := c.Invoke(ctx10(t), f.addr(), remoting.NewRequest(1, nil, nil)); err != nil {
		t.Fatal(err)
	}
	nc := <-f.accepts
	p := peer{nc: nc, mu: &sync.Mutex{}}
	// 40 with a nil answer and an oneway 307 get no answer; the next three do, in some order.
	for _, cmd := range []*remoting.Command{
		{Code: 40, Opaque: 100, Language: "JAVA"},
		{Code: 307, Opaque: 101, Flag: remoting.FlagOneway, Language: "JAVA"},
		{Code: 307, Opaque: 102, Language: "JAVA"},
		{Code: 309, Opaque: 103, Language: "JAVA"},
		{Code: 999, Opaque: 104, Language: "JAVA"},
	} {
		if err := p.send(cmd); err != nil {
			t.Fatal(err)
		}
	}
	got := map[int32]*remoting.Command{}
	for range 3 {
		r := <-answers
		got[r.Opaque] = r
	}
	if r := got[102]; r == nil || r.Code != remoting.Success || !r.IsResponse() || r.Remark != f.addr() {
		t.Fatalf("307 answer %+v", r)
	}
	if r := got[103]; r == nil || r.Code != remoting.SystemError {
		t.Fatalf("panic answer %+v", r)
	}
	if r := got[104]; r == nil || r.Code != remoting.RequestCodeNotSupported || r.Remark != " request type 999 not supported" {
		t.Fatalf("unknown answer %+v", r)
	}
	select {
	case r := <-answers:
		t.Fatalf("unexpected answer %+v", r)
	default:
	}
}

func TestRPCOversizedFrameClosesConnection(t *testing.T) {
	f := startFake(t, func(p peer, cmd *remoting.Command) {
		b := binary.BigEndian.AppendUint32(nil, 1<<20) // announces 1 MiB > MaxFrameSize
		p.mu.Lock()
		_, _ = p.nc.Write(b)
		p.mu.Unlock()
	})
	c := newClient(t, Config{MaxFrameSize: 1024})
	_, err := c.Invoke(ctx10(t), f.addr(), remoting.NewRequest(1, nil, nil))
	if !errors.Is(err, ErrConnClosed) || !errors.Is(err, remoting.ErrFrameTooLarge) {
		t.Fatalf("err %v", err)
	}
}

func TestRPCIdleTimeoutClosesConnection(t *testing.T) {
	f := startFake(t, echoFn)
	c := newClient(t, Config{IdleTimeout: 50 * time.Millisecond})
	closed := make(chan error, 1)
	c.OnConnClose(func(_ string, err error) { closed <- err })
	// A oneway call only dials and writes, so no answer can race the short idle limit.
	if err := c.InvokeOneway(ctx10(t), f.addr(), remoting.NewRequest(1, nil, nil)); err != nil {
		t.Fatal(err)
	}
	var ne net.Error
	if err := <-closed; !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("closed with %v, want a read timeout", err)
	}
}

// TestRPCDeferredFramesAreFlushed: frames sent while earlier calls await answers are handed to
// the connection's flusher. The server answers nothing until it has read all of them, so the
// test hangs (and fails on its deadline) if a deferred frame is left in the buffer, and every
// callback must see its own answer.
func TestRPCDeferredFramesAreFlushed(t *testing.T) {
	const n = 200
	var mu sync.Mutex
	var held []*remoting.Command
	var p0 peer
	f := startFake(t, func(p peer, cmd *remoting.Command) {
		mu.Lock()
		held = append(held, cmd)
		all := len(held) == n
		p0 = p
		mu.Unlock()
		if !all {
			return
		}
		for _, c := range held {
			resp := remoting.NewResponse(c, remoting.Success, "")
			resp.ExtFields["v"] = c.ExtFields["v"]
			_ = p0.send(resp)
		}
	})
	c := newClient(t, Config{})
	errs := make(chan error, n)
	for i := range n {
		v := strconv.Itoa(i)
		err := c.InvokeAsync(ctx10(t), f.addr(), remoting.NewRequest(1, map[string]string{"v": v}, nil), func(r *remoting.Command, err error) {
			switch {
			case err != nil:
				errs <- err
			case r.ExtFields["v"] != v:
				errs <- fmt.Errorf("call %s got the answer of %s", v, r.ExtFields["v"])
			default:
				errs <- nil
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestRPCAsyncUntil: a deadline-only async call gets its answer, or ErrTimeout from the sweeper
// exactly once when none comes; a late answer after the timeout is dropped.
func TestRPCAsyncUntil(t *testing.T) {
	f := startFake(t, echoFn)
	c := newClient(t, Config{})
	got := make(chan *remoting.Command, 1)
	if err := c.InvokeAsyncRawUntil(time.Now().Add(5*time.Second), f.addr(), remoting.NewRequest(1, map[string]string{"v": "x"}, nil), func(r *remoting.Command, err error) {
		if err != nil {
			t.Errorf("until: %v", err)
		}
		got <- r
	}); err != nil {
		t.Fatal(err)
	}
	if r := <-got; r == nil || r.ExtValue("v") != "x" {
		t.Fatalf("until resp %+v", r)
	}

	release := make(chan struct{})
	fSlow := startFake(t, func(p peer, cmd *remoting.Command) {
		<-release // answer only after the caller timed out
		echoFn(p, cmd)
	})
	done := make(chan error, 2)
	if err := c.InvokeAsyncRawUntil(time.Now().Add(30*time.Millisecond), fSlow.addr(), remoting.NewRequest(1, nil, nil), func(_ *remoting.Command, err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrTimeout) {
		t.Fatalf("until timeout: %v", err)
	}
	close(release)
	// The late answer must not call back a second time; a later call on the same connection
	// still works.
	if err := c.InvokeAsyncRawUntil(time.Now().Add(5*time.Second), fSlow.addr(), remoting.NewRequest(1, map[string]string{"v": "y"}, nil), func(r *remoting.Command, err error) {
		if err != nil {
			t.Errorf("after timeout: %v", err)
		}
		got <- r
	}); err != nil {
		t.Fatal(err)
	}
	if r := <-got; r == nil || r.ExtValue("v") != "y" {
		t.Fatalf("after timeout resp %+v", r)
	}
	select {
	case err := <-done:
		t.Fatalf("timed-out call called back twice: %v", err)
	default:
	}
}

// TestRPCDialWhileTheSweeperRuns: a dial that takes longer than a sweeper tick (the hook holds it
// after connecting, with the entry's lock held) must not deadlock with the deadline sweeper,
// which reads every entry's connection holding the client's lock. It hung (getConn, the sweeper
// and every connection's reader blocked on locks) when entry.current took the entry's lock;
// mqbench e2e's ASYNC_MASTER row met it when the producer dialled the new master.
func TestRPCDialWhileTheSweeperRuns(t *testing.T) {
	f := startFake(t, echoFn)
	c := newClient(t, Config{})
	got := make(chan error, 1)
	// A call with a deadline starts the sweeper (and dials f).
	if err := c.InvokeAsyncRawUntil(time.Now().Add(5*time.Second), f.addr(), remoting.NewRequest(1, nil, nil), func(_ *remoting.Command, err error) { got <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	testHookAfterDial = func() { time.Sleep(10 * sweepInterval) } // several sweeper ticks
	defer func() { testHookAfterDial = nil }()
	f2 := startFake(t, echoFn)
	done := make(chan error, 1)
	go func() {
		_, err := c.Invoke(ctx10(t), f2.addr(), remoting.NewRequest(1, nil, nil))
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("invoke over the new connection: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the dial and the deadline sweeper deadlocked")
	}
}
