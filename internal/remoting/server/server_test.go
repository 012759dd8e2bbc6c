package server

import (
	"bytes"
	"context"
	"log/slog"
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
