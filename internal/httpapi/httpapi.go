// Package httpapi is the HTTP surface of the daemons, on fasthttp: /healthz (the process is up),
// /readyz (recovered and registered), /metrics (Prometheus text) and read-only JSON endpoints
// under /api/ that the daemon supplies. Every handler runs under a panic guard (fasthttp does
// not recover panics) and the server stops gracefully.
package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// Config describes one HTTP server.
type Config struct {
	Addr    string                                               // "host:port"; port 0 picks a free one
	Ready   func() bool                                          // /readyz
	Metrics func(w io.Writer)                                    // /metrics
	API     map[string]func(args map[string]string) (any, error) // GET /api/<name>?k=v → JSON
	Logger  *slog.Logger
}

// Server is a running HTTP server.
type Server struct {
	cfg Config
	ln  net.Listener
	srv *fasthttp.Server
	log *slog.Logger
	end chan error
}

// Start listens and serves in the background.
func Start(cfg Config) (*Server, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("httpapi: listen on %s: %w", cfg.Addr, err)
	}
	s := &Server{cfg: cfg, ln: ln, log: log.With("component", "http"), end: make(chan error, 1)}
	s.srv = &fasthttp.Server{
		Name: "skiff", Handler: s.guard(s.route), ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second,
		IdleTimeout: 60 * time.Second, MaxRequestBodySize: 64 << 10, Logger: fhLogger{s.log},
	}
	go func() { s.end <- s.srv.Serve(ln) }()
	s.log.Info("HTTP server listening", "addr", ln.Addr().String())
	return s, nil
}

// Addr is the bound address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Shutdown stops the server and waits for open requests.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.ShutdownWithContext(ctx)
	<-s.end
	return err
}

func (s *Server) guard(h fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("HTTP handler panic", "path", string(ctx.Path()), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				ctx.Error("internal error", fasthttp.StatusInternalServerError)
			}
		}()
		h(ctx)
	}
}

func (s *Server) route(ctx *fasthttp.RequestCtx) {
	if !ctx.IsGet() && !ctx.IsHead() {
		ctx.Error("method not allowed", fasthttp.StatusMethodNotAllowed)
		return
	}
	path := string(ctx.Path())
	switch {
	case path == "/healthz":
		ctx.SetContentType("text/plain")
		ctx.WriteString("ok\n")
	case path == "/readyz":
		ctx.SetContentType("text/plain")
		if s.cfg.Ready != nil && !s.cfg.Ready() {
			ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
			ctx.WriteString("not ready\n")
			return
		}
		ctx.WriteString("ready\n")
	case path == "/metrics" && s.cfg.Metrics != nil:
		ctx.SetContentType("text/plain; version=0.0.4")
		s.cfg.Metrics(ctx)
	case strings.HasPrefix(path, "/api/"):
		fn, ok := s.cfg.API[strings.TrimPrefix(path, "/api/")]
		if !ok {
			ctx.Error("unknown endpoint "+path, fasthttp.StatusNotFound)
			return
		}
		args := map[string]string{}
		ctx.QueryArgs().VisitAll(func(k, v []byte) { args[string(k)] = string(v) })
		v, err := fn(args)
		ctx.SetContentType("application/json")
		if err != nil {
			ctx.SetStatusCode(fasthttp.StatusBadRequest)
			v = map[string]string{"error": err.Error()}
		}
		_ = json.NewEncoder(ctx).Encode(v)
	default:
		ctx.Error("not found", fasthttp.StatusNotFound)
	}
}

type fhLogger struct{ l *slog.Logger }

func (f fhLogger) Printf(format string, args ...any) { f.l.Debug(fmt.Sprintf(format, args...)) }
