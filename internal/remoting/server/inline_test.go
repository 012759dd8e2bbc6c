package server

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/remoting"
)

const (
	codeInline      int32 = 1010
	codeInlinePanic int32 = 1011
	codeInlineBlock int32 = 1012
	codeInlineDefer int32 = 1013
)

// always lets every request run inline.
func always(*Conn, *remoting.Command) bool { return true }

// encodeAll is the frames of reqs back to back, for one write.
func encodeAll(t *testing.T, reqs []*remoting.Command) []byte {
	t.Helper()
	var b []byte
	for _, r := range reqs {
		var err error
		if b, err = r.AppendFrame(b); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// TestServerInlineAnswersInOrder: requests of one connection that run inline are answered in the
// order they came, even when the earlier ones take longer; on the pool (4 workers) the handler's
// decreasing delays would let the later ones overtake them. Run with the pool instead (remove
// SetInline) the test fails.
func TestServerInlineAnswersInOrder(t *testing.T) {
	const n = 12
	f := startServer(t, Config{}, func(s *Server) {
		s.HandleRaw(codeInline, PoolSend, func(_ context.Context, _ *Conn, req *remoting.Command) *remoting.Command {
			i, _ := strconv.Atoi(req.ExtValue("i"))
			time.Sleep(time.Duration(n-i) * 2 * time.Millisecond)
			resp := remoting.NewResponse(req, remoting.Success, "")
			resp.Body = req.Body
			return resp
		})
		s.SetInline(codeInline, always)
	})
	r := dialRaw(t, f.srv.Addr())
	reqs := make([]*remoting.Command, n)
	for i := range reqs {
		reqs[i] = remoting.NewRequest(codeInline, map[string]string{"i": strconv.Itoa(i)}, []byte("body"+strconv.Itoa(i)))
	}
	r.write(encodeAll(t, reqs))
	for i, req := range reqs {
		got := r.read()
		if got.Opaque != req.Opaque || got.Code != remoting.Success || !bytes.Equal(got.Body, req.Body) {
			t.Fatalf("answer %d: opaque %d code %d body %q, want opaque %d body %q", i, got.Opaque, got.Code, got.Body, req.Opaque, req.Body)
		}
	}
	if got := f.srv.Inline(); got != n {
		t.Fatalf("Inline() = %d, want %d", got, n)
	}
}

// TestServerInlinePredicateFallsBackToThePool: a request the predicate refuses runs on its pool,
// whose bounded queue still answers SYSTEM_BUSY when full; the loop itself never blocks on it.
func TestServerInlinePredicateFallsBackToThePool(t *testing.T) {
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	f := startServer(t, Config{PoolConfigs: map[string]PoolConfig{"tiny": {Workers: 1, Queue: 1}}}, func(s *Server) {
		s.HandleRaw(codeInline, "tiny", func(_ context.Context, _ *Conn, req *remoting.Command) *remoting.Command {
			if req.ExtValue("block") == "1" {
				entered <- struct{}{}
				<-release
			}
			return remoting.NewResponse(req, remoting.Success, "")
		})
		s.SetInline(codeInline, func(_ *Conn, req *remoting.Command) bool { return req.ExtValue("inline") == "1" })
	})
	defer close(release)
	r := dialRaw(t, f.srv.Addr())
	r.send(remoting.NewRequest(codeInline, map[string]string{"block": "1"}, nil))
	<-entered // the only worker is busy
	queued := remoting.NewRequest(codeInline, nil, nil)
	busy := remoting.NewRequest(codeInline, nil, nil)
	inline := remoting.NewRequest(codeInline, map[string]string{"inline": "1"}, nil)
	r.write(encodeAll(t, []*remoting.Command{queued, busy, inline}))
	want := map[int32]int32{busy.Opaque: remoting.SystemBusy, inline.Opaque: remoting.Success}
	for range 2 {
		got := r.read()
		code, ok := want[got.Opaque]
		if !ok || got.Code != code {
			t.Fatalf("answer %+v; want SYSTEM_BUSY for %d and SUCCESS for %d (the queued one waits)", got, busy.Opaque, inline.Opaque)
		}
		delete(want, got.Opaque)
	}
	if got := f.srv.Inline(); got != 1 {
		t.Fatalf("Inline() = %d, want 1", got)
	}
}

// TestServerInlinePanicAnswersSystemError: a panicking inline handler is answered SYSTEM_ERROR
// and the event loop goes on serving the same and other connections.
func TestServerInlinePanicAnswersSystemError(t *testing.T) {
	f := startServer(t, Config{NumEventLoop: 1}, func(s *Server) {
		s.HandleRaw(codeInlinePanic, PoolSend, func(context.Context, *Conn, *remoting.Command) *remoting.Command { panic("inline boom") })
		s.HandleRaw(codeInline, PoolSend, func(_ context.Context, _ *Conn, req *remoting.Command) *remoting.Command {
			return remoting.NewResponse(req, remoting.Success, "after")
		})
		s.SetInline(codeInlinePanic, always)
		s.SetInline(codeInline, always)
	})
	r := dialRaw(t, f.srv.Addr())
	boom := remoting.NewRequest(codeInlinePanic, nil, nil)
	after := remoting.NewRequest(codeInline, nil, nil)
	r.write(encodeAll(t, []*remoting.Command{boom, after}))
	if got := r.read(); got.Opaque != boom.Opaque || got.Code != remoting.SystemError {
		t.Fatalf("answer to the panic %+v, want SYSTEM_ERROR", got)
	}
	if got := r.read(); got.Opaque != after.Opaque || got.Code != remoting.Success {
		t.Fatalf("answer after the panic %+v", got)
	}
	if !f.logs.contains("handler panic") || !f.logs.contains("inline boom") {
		t.Fatal("panic not logged")
	}
	if resp := invoke(t, f.cli, f.srv.Addr(), remoting.NewRequest(codeInline, nil, nil)); resp.Code != remoting.Success {
		t.Fatalf("another connection after the panic: %+v", resp)
	}
}

// TestServerInlineOnewayNotAnswered: a oneway request runs inline and gets no answer.
func TestServerInlineOnewayNotAnswered(t *testing.T) {
	ran := make(chan string, 2)
	f := startServer(t, Config{}, func(s *Server) {
		s.HandleRaw(codeInline, PoolSend, func(_ context.Context, _ *Conn, req *remoting.Command) *remoting.Command {
			ran <- req.ExtValue("v")
			return remoting.NewResponse(req, remoting.Success, req.ExtValue("v"))
		})
		s.SetInline(codeInline, always)
	})
	r := dialRaw(t, f.srv.Addr())
	ow := remoting.NewRequest(codeInline, map[string]string{"v": "oneway"}, nil)
	ow.MarkOneway()
	normal := remoting.NewRequest(codeInline, map[string]string{"v": "normal"}, nil)
	r.write(encodeAll(t, []*remoting.Command{ow, normal}))
	// Inline requests are answered in order, so an answer to the oneway one would come first.
	if got := r.read(); got.Opaque != normal.Opaque || got.Remark != "normal" {
		t.Fatalf("first frame %+v, want the answer to the normal request", got)
	}
	if a, b := <-ran, <-ran; a != "oneway" || b != "normal" {
		t.Fatalf("handler ran for %q, %q", a, b)
	}
	if got := f.srv.Inline(); got != 2 {
		t.Fatalf("Inline() = %d, want 2", got)
	}
}

// TestServerDrainWaitsForInlineRequest: Drain does not return while an inline handler runs,
// returns once its answer is written, and a request after StopAccepting is refused.
func TestServerDrainWaitsForInlineRequest(t *testing.T) {
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	f := startServer(t, Config{NumEventLoop: 2}, func(s *Server) {
		s.HandleRaw(codeInlineBlock, PoolSend, func(_ context.Context, _ *Conn, req *remoting.Command) *remoting.Command {
			entered <- struct{}{}
			<-release
			return remoting.NewResponse(req, remoting.Success, "inline done")
		})
		s.SetInline(codeInlineBlock, always)
	})
	r := dialRaw(t, f.srv.Addr())
	req := remoting.NewRequest(codeInlineBlock, nil, nil)
	r.send(req)
	<-entered
	short, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := f.srv.Drain(short); !errors.Is(err, context.DeadlineExceeded) {
		close(release)
		t.Fatalf("Drain with an inline request running = %v, want a deadline error", err)
	}
	drained := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		drained <- f.srv.Drain(ctx)
	}()
	close(release)
	if got := r.read(); got.Opaque != req.Opaque || got.Code != remoting.Success || got.Remark != "inline done" {
		t.Fatalf("answer %+v", got)
	}
	if err := <-drained; err != nil {
		t.Fatalf("Drain: %v", err)
	}
	late := remoting.NewRequest(codeInlineBlock, nil, nil)
	r.send(late)
	if got := r.read(); got.Opaque != late.Opaque || got.Code != remoting.ServiceNotAvailable {
		t.Fatalf("request after Drain %+v, want SERVICE_NOT_AVAILABLE", got)
	}
}

// TestServerInlineDeferredAnswer: an inline handler that defers its answer (the SYNC_FLUSH send
// path) returns at once; the answer written later from another goroutine reaches the client,
// and the loop serves the next request meanwhile.
func TestServerInlineDeferredAnswer(t *testing.T) {
	owed := make(chan deferredReq, 1)
	f := startServer(t, Config{}, func(s *Server) {
		s.HandleRaw(codeInlineDefer, PoolSend, func(_ context.Context, c *Conn, req *remoting.Command) *remoting.Command {
			owed <- deferredReq{c.Defer(req), req.Own()}
			return nil
		})
		s.HandleRaw(codeInline, PoolSend, func(_ context.Context, _ *Conn, req *remoting.Command) *remoting.Command {
			return remoting.NewResponse(req, remoting.Success, "now")
		})
		s.SetInline(codeInlineDefer, always)
		s.SetInline(codeInline, always)
	})
	r := dialRaw(t, f.srv.Addr())
	later := remoting.NewRequest(codeInlineDefer, nil, nil)
	now := remoting.NewRequest(codeInline, nil, nil)
	r.write(encodeAll(t, []*remoting.Command{later, now}))
	if got := r.read(); got.Opaque != now.Opaque || got.Remark != "now" {
		t.Fatalf("first answer %+v, want the one not deferred", got)
	}
	d := <-owed
	if n := f.srv.Owed(); n != 1 {
		t.Fatalf("owed %d, want 1", n)
	}
	go d.d.Answer(remoting.NewResponse(d.req, remoting.Success, "later"))
	if got := r.read(); got.Opaque != later.Opaque || got.Remark != "later" {
		t.Fatalf("deferred answer %+v", got)
	}
}
