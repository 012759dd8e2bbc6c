package server

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/rpc"
)

// logWriter sends log lines to t.Log until the test ends, and keeps them for assertions.
type logWriter struct {
	t    *testing.T
	done atomic.Bool
	mu   sync.Mutex
	buf  bytes.Buffer
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.buf.Write(p)
	w.mu.Unlock()
	if !w.done.Load() {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *logWriter) contains(s string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Contains(w.buf.String(), s)
}

func newLogger(t *testing.T) (*slog.Logger, *logWriter) {
	w := &logWriter{t: t}
	t.Cleanup(func() { w.done.Store(true) })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})), w
}

const (
	codeEcho  int32 = 1000
	codeSlow  int32 = 1001
	codePanic int32 = 1002
	codeLater int32 = 1003
	codeAsk   int32 = 1004
)

type fixture struct {
	srv  *Server
	logs *logWriter
	cli  *rpc.Client
}

func startServer(t *testing.T, cfg Config, setup func(*Server)) *fixture {
	t.Helper()
	log, w := newLogger(t)
	cfg.Addr = "127.0.0.1:0"
	cfg.Logger = log
	s := New(cfg)
	if setup != nil {
		setup(s)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("start: %v", err)
	}
	cli := rpc.New(rpc.Config{Logger: log, DialTimeout: 5 * time.Second})
	t.Cleanup(func() {
		_ = cli.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return &fixture{srv: s, logs: w, cli: cli}
}

func echo(_ context.Context, _ *Conn, req *remoting.Command) *remoting.Command {
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.ExtFields["echo"] = req.ExtFields["v"]
	resp.Body = req.Body
	return resp
}

func invoke(t *testing.T, cli *rpc.Client, addr string, req *remoting.Command) *remoting.Command {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := cli.Invoke(ctx, addr, req)
	if err != nil {
		t.Fatalf("invoke code %d: %v", req.Code, err)
	}
	return resp
}

func TestServerEchoAndPort0(t *testing.T) {
	f := startServer(t, Config{}, func(s *Server) { s.Handle(codeEcho, PoolClient, echo) })
	if strings.HasSuffix(f.srv.Addr(), ":0") {
		t.Fatalf("Addr %q does not report the bound port", f.srv.Addr())
	}
	req := remoting.NewRequest(codeEcho, map[string]string{"v": "hello"}, []byte("body"))
	resp := invoke(t, f.cli, f.srv.Addr(), req)
	if resp.Opaque != req.Opaque || !resp.IsResponse() || resp.Code != remoting.Success ||
		resp.ExtFields["echo"] != "hello" || string(resp.Body) != "body" {
		t.Fatalf("resp %+v", resp)
	}
}

// TestServerStopAcceptingThenDrain: after StopAccepting a request on an open connection is
// answered SERVICE_NOT_AVAILABLE and a new connection is closed at once, while a request that was
// already running still gets its answer; Drain returns once it has.
func TestServerStopAcceptingThenDrain(t *testing.T) {
	release := make(chan struct{})
	running := make(chan struct{}, 1)
	f := startServer(t, Config{}, func(s *Server) {
		s.Handle(codeEcho, PoolAdmin, echo)
		s.Handle(codeSlow, PoolSend, func(ctx context.Context, c *Conn, req *remoting.Command) *remoting.Command {
			running <- struct{}{}
			<-release
			return remoting.NewResponse(req, remoting.Success, "slow done")
		})
	})
	addr := f.srv.Addr()
	if r := invoke(t, f.cli, addr, remoting.NewRequest(codeEcho, nil, []byte("x"))); r.Code != remoting.Success {
		t.Fatalf("echo before = %d", r.Code)
	}
	slow := make(chan *remoting.Command, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		r, err := f.cli.Invoke(ctx, addr, remoting.NewRequest(codeSlow, nil, nil))
		if err != nil {
			t.Errorf("slow request: %v", err)
		}
		slow <- r
	}()
	<-running
	f.srv.StopAccepting()
	if r := invoke(t, f.cli, addr, remoting.NewRequest(codeEcho, nil, []byte("x"))); r.Code != remoting.ServiceNotAvailable {
		t.Fatalf("request after StopAccepting = %d %q, want SERVICE_NOT_AVAILABLE", r.Code, r.Remark)
	}
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err == nil {
		_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, rerr := nc.Read(make([]byte, 1))
		_ = nc.Close()
		if rerr == nil || errors.Is(rerr, os.ErrDeadlineExceeded) {
			t.Fatalf("a connection opened after StopAccepting stayed open (read: %v)", rerr)
		}
	}
	// Drain waits for the running request: with a short deadline it gives up with an error.
	short, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := f.srv.Drain(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Drain with a request still running = %v, want a deadline error", err)
	}
	select {
	case r := <-slow:
		t.Fatalf("the running request was answered before it finished: %+v", r)
	default:
	}
	drained := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		drained <- f.srv.Drain(ctx)
	}()
	close(release)
	if r := <-slow; r == nil || r.Code != remoting.Success || r.Remark != "slow done" {
		t.Fatalf("the request running at StopAccepting got %+v, want its own answer", r)
	}
	if err := <-drained; err != nil {
		t.Fatalf("Drain: %v", err)
	}
}
