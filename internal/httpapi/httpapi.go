// Package httpapi is the HTTP surface of the daemons, on fasthttp: /healthz (the process is up),
// /readyz (recovered and registered), /metrics (Prometheus text), read-only JSON endpoints
// under /api/ that the daemon supplies, handlers mounted under path prefixes (the dashboard,
// which also answers form POSTs), and /debug/pprof/ (Go's profiles, to loopback clients unless
// Config.PprofRemote). Every handler runs under a panic guard (fasthttp does not recover panics)
// and the server stops gracefully.
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
	"github.com/valyala/fasthttp/pprofhandler"
)

// Config describes one HTTP server.
type Config struct {
	Addr    string                                               // "host:port"; port 0 picks a free one
	Ready   func() bool                                          // /readyz
	Reason  func() string                                        // optional: why /readyz answers 503 (the response body)
	Metrics func(w io.Writer)                                    // /metrics
	API     map[string]func(args map[string]string) (any, error) // GET /api/<name>?k=v → JSON
	Mounts  Mounts                                               // path prefix → handler (any method)
	Logger  *slog.Logger
	// PprofRemote also serves /debug/pprof/ to clients that are not on the loopback interface.
	// By default the profiles (net/http/pprof's pages: profile, heap, goroutine, trace, ...)
	// answer only 127.0.0.1 and ::1; others get 403.
	PprofRemote bool
}

// Handler serves one request. It is fasthttp's handler type, named here so that daemon packages
// can carry handlers in their Config without importing fasthttp.
type Handler = fasthttp.RequestHandler

// Mounts maps path prefixes to handlers that serve every method below them. A prefix that ends
// in "/" matches every path under it, except "/" itself, which matches only the root; any other
// prefix matches only itself. The longest match
// wins; /healthz, /readyz, /metrics and the names in Config.API are never shadowed.
type Mounts map[string]Handler

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
	path := string(ctx.Path())
	if h := s.mounted(path); h != nil {
		h(ctx)
		return
	}
	if !ctx.IsGet() && !ctx.IsHead() {
		ctx.Error("method not allowed", fasthttp.StatusMethodNotAllowed)
		return
	}
	switch {
	case path == "/healthz":
		ctx.SetContentType("text/plain")
		ctx.WriteString("ok\n")
	case path == "/readyz":
		ctx.SetContentType("text/plain")
		if s.cfg.Ready != nil && !s.cfg.Ready() {
			ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
			reason := "not ready"
			if s.cfg.Reason != nil {
				if r := s.cfg.Reason(); r != "" {
					reason = "not ready: " + r
				}
			}
			ctx.WriteString(reason + "\n")
			return
		}
		ctx.WriteString("ready\n")
	case path == "/metrics" && s.cfg.Metrics != nil:
		ctx.SetContentType("text/plain; version=0.0.4")
		s.cfg.Metrics(ctx)
	case strings.HasPrefix(path, "/debug/pprof"):
		if !s.cfg.PprofRemote && !ctx.RemoteIP().IsLoopback() {
			ctx.Error("/debug/pprof is served to loopback clients only (set debugPprofRemote to allow others)", fasthttp.StatusForbidden)
			return
		}
		pprofhandler.PprofHandler(ctx)
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

// mounted returns the handler mounted for path, or nil when a built-in endpoint or an API name
// owns it or no prefix matches.
func (s *Server) mounted(path string) Handler {
	if len(s.cfg.Mounts) == 0 {
		return nil
	}
	switch path {
	case "/healthz", "/readyz", "/metrics":
		return nil
	}
	if name, ok := strings.CutPrefix(path, "/api/"); ok {
		if _, ok := s.cfg.API[name]; ok {
			return nil
		}
	}
	best := ""
	for p := range s.cfg.Mounts {
		if (p == path || (p != "/" && strings.HasSuffix(p, "/") && strings.HasPrefix(path, p))) && len(p) > len(best) {
			best = p
		}
	}
	if best == "" {
		return nil
	}
	return s.cfg.Mounts[best]
}

type fhLogger struct{ l *slog.Logger }

func (f fhLogger) Printf(format string, args ...any) { f.l.Debug(fmt.Sprintf(format, args...)) }
