package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/skiffmq/skiff/internal/remoting"
)

// Sentinel errors.
var (
	// ErrConnClosed is returned by Conn methods after the connection closed.
	ErrConnClosed = errors.New("server: connection closed")
	// ErrTimeout is returned by Conn.Invoke when the context is done before the client answered.
	ErrTimeout = errors.New("server: timeout")
	// ErrNotRunning is returned by Start after Shutdown or on a second Start.
	ErrNotRunning = errors.New("server: not running")
)

// Handler processes one request. It returns the response, or nil when the request is answered
// later with Conn.WriteResponse (long polling) or needs no answer. The server sets the response's
// opaque, response flag and serialization from the request.
type Handler func(ctx context.Context, c *Conn, req *remoting.Command) *remoting.Command

// PoolConfig sizes one worker pool.
type PoolConfig struct {
	Workers int // goroutines; default 4
	Queue   int // queued requests before SYSTEM_BUSY; default 4096
}

// Default pool names and sizes, used when Config names no pools.
const (
	PoolSend   = "send"
	PoolPull   = "pull"
	PoolAdmin  = "admin"
	PoolClient = "client"
)

// DefaultPools are the pools created when Config.Pools and Config.PoolConfigs are both empty.
// Pull has its own workers so pulls never wait behind slow disk sends.
var DefaultPools = map[string]PoolConfig{
	PoolSend:   {Workers: 4, Queue: 10000},
	PoolPull:   {Workers: 8, Queue: 10000},
	PoolAdmin:  {Workers: 2, Queue: 1000},
	PoolClient: {Workers: 4, Queue: 5000},
}

const (
	defaultWorkers = 4
	defaultQueue   = 4096
)

// Config configures a Server. Zero values take the defaults given on each field.
type Config struct {
	Addr         string                // "host:port"; port 0 picks a free port (see Addr)
	MaxFrameSize int                   // largest accepted frame length field; default 16 MiB
	Logger       *slog.Logger          // default: discard
	Pools        map[string]int        // pool name -> worker count (queue: 4096)
	PoolConfigs  map[string]PoolConfig // pool name -> workers and queue size; wins over Pools
	IdleTimeout  time.Duration         // close connections that send nothing for this long; default 120 s, < 0 disables
	NumEventLoop int                   // gnet event loops; default min(GOMAXPROCS, 4)
	// TLSMode is disabled (default: gnet, plain TCP), permissive (TLS and plain on one port: the
	// first byte 0x16 starts a TLS handshake, anything else is a plain frame) or enforcing (TLS
	// only). The TLS modes serve connections with the standard library (gnet has no TLS).
	TLSMode string
	TLS     *tls.Config // certificate for the TLS modes
}

// TLS modes of Config.TLSMode.
const (
	TLSDisabled   = "disabled"
	TLSPermissive = "permissive"
	TLSEnforcing  = "enforcing"
)

// Authorizer checks a request before its handler runs, on the worker. It returns nil to let the
// request through, or the response that refuses it (code and remark; the server fills opaque,
// flag and serialization). It may read every ext field and the body.
type Authorizer func(c *Conn, req *remoting.Command) *remoting.Command

// Server is the remoting server both daemons use. Handle and OnConnClose must be called before
// Start.
//
// Concurrency: gnet event loops decode frames and hand them to bounded pools; handlers run on pool
// workers. Server.mu guards conns; handlers and hooks are read-only after Start.
type Server struct {
	cfg Config
	log *slog.Logger

	handlers map[int32]route
	pools    map[string]*pool
	hooks    []func(*Conn)
	auth     Authorizer
	writes   atomic.Int64 // write calls on sockets (one per event-loop turn with queued frames)
	owing    atomic.Int64 // connections that owe deferred answers (deferred.go)
	running  atomic.Int64 // requests running inline on an event loop (SetInline)
	inlined  atomic.Int64 // requests run inline so far

	mu          sync.Mutex
	conns       map[uint64]*Conn
	closedOwing []*Conn // closed connections that owed answers when they closed (Owed)
	nextID      atomic.Uint64

	ctx    context.Context
	cancel context.CancelFunc

	eng      gnet.Engine
	ln       net.Listener   // TLS modes only
	netWG    sync.WaitGroup // TLS modes: accept loop and connection goroutines
	booted   chan struct{}
	runDone  chan struct{}
	runErr   error
	addr     string
	started  atomic.Bool
	shutdown atomic.Bool
	draining atomic.Bool // StopAccepting was called
	hookWG   sync.WaitGroup
}

type route struct {
	h      Handler
	pool   *pool
	raw    bool       // the handler reads the custom header as a list (no ExtFields map)
	inline InlineFunc // nil: always on the pool (SetInline)
}

// InlineFunc reports, on the event loop and per request, whether a request may run right there
// instead of on its pool: only when its handler cannot block (no disk wait, no replica wait, no
// Invoke, no metadata file written). It must be cheap and must not block itself.
type InlineFunc func(c *Conn, req *remoting.Command) bool

// New returns a server; it binds nothing until Start.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxFrameSize <= 0 {
		cfg.MaxFrameSize = remoting.DefaultMaxFrameSize
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 120 * time.Second
	}
	if cfg.NumEventLoop <= 0 {
		cfg.NumEventLoop = min(runtime.GOMAXPROCS(0), 4)
	}
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "remoting"),
		handlers: map[int32]route{},
		pools:    map[string]*pool{},
		conns:    map[uint64]*Conn{},
		booted:   make(chan struct{}),
		runDone:  make(chan struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	specs := map[string]PoolConfig{}
	for name, w := range cfg.Pools {
		specs[name] = PoolConfig{Workers: w}
	}
	for name, pc := range cfg.PoolConfigs {
		specs[name] = pc
	}
	if len(specs) == 0 {
		for name, pc := range DefaultPools {
			specs[name] = pc
		}
	}
	for name, pc := range specs {
		s.pools[name] = newPool(name, pc, s.log)
	}
	return s
}

// Handle routes requests with code to h, run on the named pool. A pool not named in Config is
// created with the default sizes (4 workers, queue 4096).
func (s *Server) Handle(code int32, poolName string, h Handler) {
	p := s.pools[poolName]
	if p == nil {
		p = newPool(poolName, PoolConfig{}, s.log)
		s.pools[poolName] = p
	}
	s.handlers[code] = route{h: h, pool: p}
}

// HandleRaw is Handle for a handler that reads the custom header through the Command's Ext*
// methods or RawExt (typed headers in package protocol): the request keeps its header as a list
// and no ExtFields map is built. The send and pull paths use it.
func (s *Server) HandleRaw(code int32, poolName string, h Handler) {
	s.Handle(code, poolName, h)
	r := s.handlers[code]
	r.raw = true
	s.handlers[code] = r
}

// SetInline lets requests with code (already registered with Handle or HandleRaw) run on the
// event loop that decoded them whenever ok says so, and on their pool otherwise. An inline
// request saves the hand-off to a worker and the wake of the loop for the answer: the handler
// runs, the Authorizer first, and the answer goes into the connection's outbound buffer, written
// at the end of the same loop turn together with every other answer of the turn. Inline requests
// of one connection are answered in the order they arrived. While a handler runs inline, the
// loop serves none of its other connections, so ok must say no whenever the handler could wait.
//
// An inline request is lent, not given (Command.Borrowed): it is decoded straight from the
// connection's read buffer, and its strings, header list and Body alias that buffer, which the
// next frame overwrites as soon as the handler returns. Neither ok nor the handler (nor the
// Authorizer) may keep req or anything it holds past its return: whatever must outlive it is
// copied (strings.Clone, a topic name the topic table owns), or the handler keeps req.Own(), an
// owned copy of the whole request; a handler that answers later (Conn.Defer) and reads the
// request then must do that. The answer a handler returns may alias req: it is encoded before
// the buffer moves on. A panic is recovered and answered SYSTEM_ERROR as on a worker. Connections of the TLS modes
// always use the pools. Call it before Start.
func (s *Server) SetInline(code int32, ok InlineFunc) {
	r, found := s.handlers[code]
	if !found {
		panic(fmt.Sprintf("server: SetInline for code %d without a handler", code))
	}
	r.inline = ok
	s.handlers[code] = r
}

// Inline returns the number of requests run on the event loop so far (SetInline).
func (s *Server) Inline() int64 { return s.inlined.Load() }

// SetAuthorizer installs the per-request check that runs before every handler (ACL). Call it
// before Start.
func (s *Server) SetAuthorizer(a Authorizer) { s.auth = a }

// Writes returns the number of socket writes so far (each carries every response queued for the
// connection since the previous one).
func (s *Server) Writes() int64 { return s.writes.Load() }

// OnConnClose registers fn, called off the event loop after a connection closed.
func (s *Server) OnConnClose(fn func(*Conn)) { s.hooks = append(s.hooks, fn) }

// Start binds Config.Addr and returns once the server is listening. A port already in use is an
// error (ReusePort is off).
func (s *Server) Start() error {
	if s.shutdown.Load() || !s.started.CompareAndSwap(false, true) {
		return ErrNotRunning
	}
	for _, p := range s.pools {
		p.start(s)
	}
	if s.cfg.TLSMode != "" && s.cfg.TLSMode != TLSDisabled {
		return s.startNet()
	}
	h := &handler{s: s}
	opts := []gnet.Option{
		gnet.WithNumEventLoop(s.cfg.NumEventLoop),
		gnet.WithReusePort(false),
		// SO_REUSEADDR (not SO_REUSEPORT): a server restarted after a crash can bind its port
		// while connections of the dead process linger in TIME_WAIT; a second live server on
		// the same port still fails with "address in use".
		gnet.WithReuseAddr(true),
		gnet.WithLogger(gnetLogger{s.cfg.Logger.With("component", "gnet")}),
		gnet.WithTicker(s.cfg.IdleTimeout > 0),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
	}
	go func() {
		defer close(s.runDone)
		s.runErr = gnet.Run(h, "tcp://"+s.cfg.Addr, opts...)
	}()
	select {
	case <-s.booted:
	case <-s.runDone:
		s.stopPools(context.Background())
		return fmt.Errorf("server: listen on %s: %w", s.cfg.Addr, s.runErr)
	}
	s.addr = s.cfg.Addr
	if a, err := boundAddr(s.eng); err == nil {
		s.addr = a
	} else {
		s.log.Warn("cannot read the bound address", "addr", s.cfg.Addr, "err", err)
	}
	s.log.Info("remoting server listening", "addr", s.addr)
	return nil
}

// boundAddr reads the listener's real address (for port 0) from a duplicate of its descriptor.
func boundAddr(eng gnet.Engine) (string, error) {
	fd, err := eng.Dup()
	if err != nil {
		return "", err
	}
	defer syscall.Close(fd)
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		return "", err
	}
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port)), nil
	case *syscall.SockaddrInet6:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port)), nil
	}
	return "", fmt.Errorf("server: unexpected socket address %T", sa)
}

// Addr returns the address the server listens on, with the real port when Config.Addr had port 0.
// It is valid after Start returned nil.
func (s *Server) Addr() string { return s.addr }

// Conns returns a snapshot of the open connections.
func (s *Server) Conns() []*Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Conn, 0, len(s.conns))
	for _, c := range s.conns {
		out = append(out, c)
	}
	return out
}

// StopAccepting is the first step of a graceful stop. From now on a new connection is closed at
// once and a request is answered SERVICE_NOT_AVAILABLE (a oneway one is dropped), while the open
// connections stay up: requests already queued or held still get their answers, and answers to
// requests the server sent still arrive. Drain and Shutdown do the rest. It is idempotent.
func (s *Server) StopAccepting() {
	if s.draining.CompareAndSwap(false, true) {
		s.log.Info("remoting server stopped accepting requests", "addr", s.addr)
	}
}

// Drain stops accepting (StopAccepting) and waits until every queued and running request has
// finished and its answer is written, deferred answers (Conn.Defer) included, or until ctx is
// done. Connections stay open.
func (s *Server) Drain(ctx context.Context) error {
	s.StopAccepting()
	if !s.started.Load() {
		return nil
	}
	if err := s.stopPools(ctx); err != nil {
		return err
	}
	return s.waitWritten(ctx)
}

// waitWritten waits until no deferred answer is owed and no connection has responses queued for
// the event loop (see Conn.write), or until ctx is done. The workers have stopped, so no new
// answer can be deferred.
func (s *Server) waitWritten(ctx context.Context) error {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for {
		if n := s.owing.Load() + s.running.Load(); n > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("server: wait for %d owed (%d connections owing) or running answers: %w", s.Owed(), s.owing.Load(), ctx.Err())
			case <-t.C:
			}
			continue
		}
		pending := false
		for _, c := range s.Conns() {
			if c.hasQueuedOutput() {
				pending = true
				break
			}
		}
		if !pending {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("server: wait for queued responses: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// Shutdown stops accepting, closes every connection (running the close hooks), cancels the
// handlers' context and waits for the workers, or until ctx is done. It is idempotent.
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.shutdown.CompareAndSwap(false, true) {
		return nil
	}
	if !s.started.Load() {
		s.cancel()
		return nil
	}
	var firstErr error
	if s.ln != nil {
		firstErr = s.stopNet(ctx)
	} else {
		if err := s.eng.Stop(ctx); err != nil {
			firstErr = fmt.Errorf("server: stop engine: %w", err)
		}
		select {
		case <-s.runDone:
		case <-ctx.Done():
			if firstErr == nil {
				firstErr = fmt.Errorf("server: wait for event loops: %w", ctx.Err())
			}
		}
	}
	s.cancel()
	if err := s.stopPools(ctx); err != nil && firstErr == nil {
		firstErr = err
	}
	hooksDone := make(chan struct{})
	go func() { s.hookWG.Wait(); close(hooksDone) }()
	select {
	case <-hooksDone:
	case <-ctx.Done():
		if firstErr == nil {
			firstErr = fmt.Errorf("server: wait for close hooks: %w", ctx.Err())
		}
	}
	s.log.Info("remoting server stopped", "addr", s.addr)
	return firstErr
}

func (s *Server) stopPools(ctx context.Context) error {
	for _, p := range s.pools {
		p.close()
	}
	for _, p := range s.pools {
		if err := p.wait(ctx); err != nil {
			return err
		}
	}
	return nil
}

// dispatch runs on the event loop: it routes responses to waiting Invokes and queues requests.
// cmd may be Borrowed (a view of the connection's read buffer, valid until dispatch returns):
// whatever leaves the loop (a response for an Invoke, a request for a pool) is cmd.Own(); an
// inline handler runs on the view itself and must not keep it or anything it holds (SetInline).
func (s *Server) dispatch(c *Conn, cmd *remoting.Command) {
	if cmd.IsResponse() {
		c.deliver(cmd.Own().MaterializeExt())
		return
	}
	r, ok := s.handlers[cmd.Code]
	inline := ok && r.inline != nil && c.gc != nil
	if inline {
		// Counted before draining is read: Drain sets draining first and then waits for running
		// to reach 0, so either this request sees draining or Drain sees it running.
		s.running.Add(1)
		defer s.running.Add(-1)
	}
	if s.draining.Load() {
		if !cmd.IsOneway() {
			_ = c.WriteResponse(remoting.NewResponse(cmd, remoting.ServiceNotAvailable, "the server is shutting down"))
		}
		return
	}
	if !ok {
		s.log.Debug("request code not supported", "addr", c.remote, "code", cmd.Code)
		if !cmd.IsOneway() {
			_ = c.WriteResponse(remoting.NewResponse(cmd, remoting.RequestCodeNotSupported,
				fmt.Sprintf(" request type %d not supported", cmd.Code)))
		}
		return
	}
	if inline && r.inline(c, cmd) {
		s.inlined.Add(1)
		s.run(task{conn: c, req: cmd, h: r.h, raw: r.raw})
		return
	}
	if !r.pool.submit(task{conn: c, req: cmd.Own(), h: r.h, raw: r.raw}) {
		if !cmd.IsOneway() {
			_ = c.WriteResponse(remoting.NewResponse(cmd, remoting.SystemBusy,
				fmt.Sprintf("[REJECTREQUEST]system busy, pool %s is full", r.pool.name)))
		}
	}
}

// run executes one request on a worker, or on the event loop for an inline request.
func (s *Server) run(t task) {
	if t.conn.Closed() {
		return
	}
	if !t.raw {
		t.req.MaterializeExt()
	}
	resp := s.call(t)
	if resp == nil || t.req.IsOneway() {
		return
	}
	resp.Opaque = t.req.Opaque
	resp.MarkResponse()
	resp.SerializeType = t.req.SerializeType
	if err := t.conn.WriteResponse(resp); err != nil {
		s.log.Debug("response dropped", "addr", t.conn.remote, "code", t.req.Code, "opaque", t.req.Opaque, "err", err)
	}
}

func (s *Server) call(t task) (resp *remoting.Command) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("handler panic", "addr", t.conn.remote, "code", t.req.Code, "opaque", t.req.Opaque,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			resp = remoting.NewResponse(t.req, remoting.SystemError, fmt.Sprintf("handler panic: %v", p))
		}
	}()
	if s.auth != nil {
		if resp := s.auth(t.conn, t.req); resp != nil {
			return resp
		}
	}
	return t.h(s.ctx, t.conn, t.req)
}

// connClosed runs on the event loop; the hooks run on their own goroutine.
func (s *Server) connClosed(c *Conn, err error) {
	s.mu.Lock()
	delete(s.conns, c.id)
	if c.owed.Load() > 0 { // Owed still counts its answers
		s.closedOwing = append(s.closedOwing, c)
	}
	s.mu.Unlock()
	c.markClosed()
	if err != nil {
		s.log.Debug("connection closed", "addr", c.remote, "err", err)
	}
	if len(s.hooks) == 0 {
		return
	}
	s.hookWG.Add(1)
	go func() {
		defer s.hookWG.Done()
		for _, h := range s.hooks {
			s.runHook(h, c)
		}
	}()
}

func (s *Server) runHook(h func(*Conn), c *Conn) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("connection close hook panic", "addr", c.remote, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		}
	}()
	h(c)
}

// closeIdle closes connections that have read nothing for IdleTimeout.
func (s *Server) closeIdle() {
	limit := time.Now().Add(-s.cfg.IdleTimeout).UnixNano()
	s.mu.Lock()
	var idle []*Conn
	for _, c := range s.conns {
		if c.lastRead.Load() < limit {
			idle = append(idle, c)
		}
	}
	s.mu.Unlock()
	for _, c := range idle {
		s.log.Info("closing idle connection", "addr", c.remote, "idle", s.cfg.IdleTimeout)
		c.Close()
	}
}
