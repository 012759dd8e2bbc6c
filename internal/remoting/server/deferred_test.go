package server

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/rpc"
)

const codeDefer int32 = 1005

type deferredReq struct {
	d   *Deferred
	req *remoting.Command
}

func startDeferring(t *testing.T) (*fixture, chan deferredReq) {
	owed := make(chan deferredReq, 16)
	f := startServer(t, Config{}, func(s *Server) {
		s.HandleRaw(codeDefer, PoolSend, func(_ context.Context, c *Conn, req *remoting.Command) *remoting.Command {
			owed <- deferredReq{c.Defer(req), req}
			return nil
		})
	})
	return f, owed
}

// TestServerDrainWaitsForDeferredAnswers: a handler that deferred its answer returns at once;
// Drain does not finish while the answer is owed, and finishes once it is written; the client
// gets the answer with its opaque, and a second Answer writes nothing more.
func TestServerDrainWaitsForDeferredAnswers(t *testing.T) {
	f, owed := startDeferring(t)
	got := make(chan *remoting.Command, 2)
	req := remoting.NewRequest(codeDefer, nil, []byte("x"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.cli.InvokeAsync(ctx, f.srv.Addr(), req, func(r *remoting.Command, err error) {
		if err != nil {
			t.Errorf("deferred request: %v", err)
		}
		got <- r
	}); err != nil {
		t.Fatal(err)
	}
	d := <-owed
	if n := f.srv.Owed(); n != 1 {
		t.Fatalf("owed %d, want 1", n)
	}
	short, cancelShort := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancelShort()
	if err := f.srv.Drain(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Drain with an answer owed = %v, want a deadline error", err)
	}
	select {
	case r := <-got:
		t.Fatalf("answered before Answer: %+v", r)
	default:
	}
	drained := make(chan error, 1)
	go func() { drained <- f.srv.Drain(ctx) }()
	d.d.Answer(remoting.NewResponse(d.req, remoting.Success, "later"))
	d.d.Answer(remoting.NewResponse(d.req, remoting.SystemError, "twice"))
	if err := <-drained; err != nil {
		t.Fatalf("Drain after the answer: %v", err)
	}
	r := <-got
	if r == nil || r.Code != remoting.Success || r.Remark != "later" || r.Opaque != req.Opaque || !r.IsResponse() {
		t.Fatalf("deferred answer %+v", r)
	}
	if n := f.srv.Owed(); n != 0 {
		t.Fatalf("owed %d after the answer (answered twice?)", n)
	}
}

// TestServerDeferredAnswerToClosedConnectionIsNotOwed: the connection goes away before the
// answer; Answer drops it and Drain does not wait for it any more. A oneway request is never
// answered but its Deferred is settled all the same.
func TestServerDeferredAnswerToClosedConnectionIsNotOwed(t *testing.T) {
	f, owed := startDeferring(t)
	cli := rpc.New(rpc.Config{DialTimeout: 5 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = cli.InvokeAsync(ctx, f.srv.Addr(), remoting.NewRequest(codeDefer, nil, nil), func(*remoting.Command, error) {})
	d := <-owed
	_ = cli.Close()
	deadline := time.Now().Add(10 * time.Second)
	for !d.d.c.Closed() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	d.d.Answer(remoting.NewResponse(d.req, remoting.Success, ""))
	oneway := remoting.NewRequest(codeDefer, nil, nil)
	oneway.MarkOneway()
	if err := f.cli.InvokeOneway(ctx, f.srv.Addr(), oneway); err != nil {
		t.Fatal(err)
	}
	o := <-owed
	o.d.Answer(remoting.NewResponse(o.req, remoting.Success, ""))
	if err := f.srv.Drain(ctx); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if n := f.srv.Owed(); n != 0 {
		t.Fatalf("owed %d", n)
	}
}

// TestServerDeferIntoReusesADeferred: one Deferred, made again with DeferInto once its Answer
// returned, promises and writes the answer of every request it is given in turn (each with its
// own opaque), and the server owes nothing after the last one.
func TestServerDeferIntoReusesADeferred(t *testing.T) {
	var d Deferred
	owed := make(chan *remoting.Command, 1)
	f := startServer(t, Config{}, func(s *Server) {
		s.HandleRaw(codeDefer, PoolSend, func(_ context.Context, c *Conn, req *remoting.Command) *remoting.Command {
			c.DeferInto(&d, req)
			owed <- req.Own()
			return nil
		})
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 3 {
		req := remoting.NewRequest(codeDefer, nil, nil)
		got := make(chan *remoting.Command, 1)
		if err := f.cli.InvokeAsync(ctx, f.srv.Addr(), req, func(r *remoting.Command, err error) {
			if err != nil {
				t.Errorf("request %d: %v", i, err)
			}
			got <- r
		}); err != nil {
			t.Fatal(err)
		}
		r := <-owed
		if n := f.srv.Owed(); n != 1 {
			t.Fatalf("request %d: owed %d, want 1", i, n)
		}
		d.Answer(remoting.NewResponse(r, remoting.Success, strconv.Itoa(i)))
		if a := <-got; a == nil || a.Remark != strconv.Itoa(i) || a.Opaque != req.Opaque {
			t.Fatalf("request %d (opaque %d) answered %+v", i, req.Opaque, a)
		}
	}
	if n := f.srv.Owed(); n != 0 {
		t.Fatalf("owed %d after the last answer", n)
	}
}

// TestServerDrainWaitsForAnAnswerOwedOnAClosedConnection: answers are counted per connection;
// one owed on a connection that then closed is still owed (Owed) and Drain still waits for it
// until it is settled.
func TestServerDrainWaitsForAnAnswerOwedOnAClosedConnection(t *testing.T) {
	f, owed := startDeferring(t)
	cli := rpc.New(rpc.Config{DialTimeout: 5 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = cli.InvokeAsync(ctx, f.srv.Addr(), remoting.NewRequest(codeDefer, nil, nil), func(*remoting.Command, error) {})
	_ = cli.InvokeAsync(ctx, f.srv.Addr(), remoting.NewRequest(codeDefer, nil, nil), func(*remoting.Command, error) {})
	d1, d2 := <-owed, <-owed
	_ = cli.Close()
	for deadline := time.Now().Add(10 * time.Second); len(f.srv.Conns()) > 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the connection did not close")
		}
	}
	d1.d.Answer(remoting.NewResponse(d1.req, remoting.Success, ""))
	if n := f.srv.Owed(); n != 1 {
		t.Fatalf("owed %d after one of two answers on a closed connection, want 1", n)
	}
	short, cancelShort := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancelShort()
	if err := f.srv.Drain(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Drain with an answer owed on a closed connection = %v, want a deadline error", err)
	}
	d2.d.Answer(remoting.NewResponse(d2.req, remoting.Success, ""))
	if err := f.srv.Drain(ctx); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if n := f.srv.Owed(); n != 0 {
		t.Fatalf("owed %d", n)
	}
}
