package rpc

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skiffmq/skiff/internal/remoting"
)

// Sentinel errors; returned errors wrap them and name the address.
var (
	// ErrTimeout is returned when no response arrived before the context was done.
	ErrTimeout = errors.New("rpc: timeout")
	// ErrConnect is returned when the connection to the address could not be established.
	ErrConnect = errors.New("rpc: connect failed")
	// ErrConnClosed is returned when the connection closed (or a write failed) before the
	// response arrived.
	ErrConnClosed = errors.New("rpc: connection closed")
	// ErrClosed is returned by calls on a Client after Close.
	ErrClosed = errors.New("rpc: client closed")
)

// Handler answers a request the server started over the connection to addr. A nil result sends
// no answer.
type Handler func(addr string, req *remoting.Command) *remoting.Command

// Config configures a Client. Zero values take the defaults given on each field.
type Config struct {
	Logger         *slog.Logger  // default: discard
	DialTimeout    time.Duration // default 5 s
	MaxFrameSize   int           // largest accepted frame length; default 16 MiB
	IdleTimeout    time.Duration // read deadline per frame; default 120 s
	WriteTimeout   time.Duration // write deadline when the context has none; default 10 s
	DefaultTimeout time.Duration // call timeout when the context has no deadline; default 30 s
	HandlerWorkers int           // concurrent server-initiated requests per Client; default 16
	// TLS, when set, makes every connection a TLS client connection; ServerName defaults to the
	// host of the address dialled. nil: plain TCP.
	TLS *tls.Config
	// Sign, when set, is called with every request just before it is encoded (ACL credentials);
	// it may add extFields. nil: requests go out as they are.
	Sign func(req *remoting.Command)
	// Serialize is the header serialization of the requests this Client sends: remoting.SerializeJSON
	// (0, the default; what the official Go client sends; a request may still ask for the binary
	// form itself) or remoting.SerializeRocketMQ (1, the binary
	// header every RocketMQ 4.x broker and name server accepts; cheaper to encode and decode on both
	// sides). A server answers in the request's serialization.
	Serialize byte
}

// Client multiplexes requests over one connection per address. It is safe for concurrent use.
//
// Lock order: Client.mu, then conn.mu. Client.mu guards conns, handlers and hooks.
type Client struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	conns    map[string]*entry
	handlers map[int32]Handler
	hooks    []func(addr string, err error)
	closed   bool

	sem chan struct{} // bounds server-initiated request handlers
	wg  sync.WaitGroup

	// Async callbacks run on reused goroutines (see runCallback): cbWork queues them for the
	// workers; cbWorkers counts the workers; closing stops them.
	cbWork    chan *call
	cbWorkers atomic.Int32
	closing   chan struct{}
	sweepOnce sync.Once
}

// maxCallbackWorkers bounds the reused callback goroutines and callbackQueue the callbacks
// waiting for one. When the queue is full (every worker busy for long, for example in slow user
// callbacks) a callback gets a goroutine of its own, so the reader never blocks. A callback can
// wait behind running ones only while all maxCallbackWorkers workers are busy.
const (
	maxCallbackWorkers = 64
	callbackQueue      = 1024
)

// runCallback runs cl's callback on a reused worker goroutine (starting one when the queue is not
// empty and fewer than maxCallbackWorkers run), or on a goroutine of its own when the queue is
// full. It never blocks. Reusing goroutines spares each async response a fresh goroutine, whose
// stack grows again on every callback (runtime.morestack was 7 % of a publishing SDK's CPU). The
// queue holds the calls themselves (their outcome is in them): no closure per response.
func (c *Client) runCallback(cl *call) {
	select {
	case <-c.closing: // the workers are leaving (calls failed by Close)
		go cl.run()
		return
	default:
	}
	select {
	case c.cbWork <- cl:
	default:
		go cl.run()
		return
	}
	select {
	case <-c.closing: // Close raced the enqueue: the workers may be gone; take one back out
		select {
		case f := <-c.cbWork:
			go f.run()
		default:
		}
		return
	default:
	}
	if n := c.cbWorkers.Load(); n < maxCallbackWorkers && (n == 0 || len(c.cbWork) > 1) && c.cbWorkers.CompareAndSwap(n, n+1) {
		go c.callbackWorker()
	}
}

// callbackWorker runs queued callbacks until the Client closes (at most maxCallbackWorkers of
// them park between bursts).
func (c *Client) callbackWorker() {
	defer c.cbWorkers.Add(-1)
	for {
		select {
		case cl := <-c.cbWork:
			cl.run()
		case <-c.closing:
			for { // run what is still queued, then leave
				select {
				case cl := <-c.cbWork:
					cl.run()
				default:
					return
				}
			}
		}
	}
}

// entry serializes dialing for one address.
type entry struct {
	mu   sync.Mutex // held while dialing (serializes dials to one address)
	conn atomic.Pointer[conn]
}

// New returns a Client; it dials nothing until the first call.
func New(cfg Config) *Client {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	if cfg.MaxFrameSize <= 0 {
		cfg.MaxFrameSize = remoting.DefaultMaxFrameSize
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 120 * time.Second
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	if cfg.DefaultTimeout <= 0 {
		cfg.DefaultTimeout = 30 * time.Second
	}
	if cfg.HandlerWorkers <= 0 {
		cfg.HandlerWorkers = 16
	}
	return &Client{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "rpc"),
		conns:    map[string]*entry{},
		handlers: map[int32]Handler{},
		sem:      make(chan struct{}, cfg.HandlerWorkers),
		cbWork:   make(chan *call, callbackQueue),
		closing:  make(chan struct{}),
	}
}

// Handle registers h for requests with code that servers send to this client.
func (c *Client) Handle(code int32, h Handler) {
	c.mu.Lock()
	c.handlers[code] = h
	c.mu.Unlock()
}

// OnConnClose registers fn, called (from the connection's reader goroutine) after the connection
// to addr has closed for any reason, with the reason.
func (c *Client) OnConnClose(fn func(addr string, err error)) {
	c.mu.Lock()
	c.hooks = append(c.hooks, fn)
	c.mu.Unlock()
}

// Invoke sends req to addr and waits for the response, until ctx is done.
func (c *Client) Invoke(ctx context.Context, addr string, req *remoting.Command) (*remoting.Command, error) {
	return c.invoke(ctx, addr, req, false)
}

// InvokeRaw is Invoke returning the response with its custom header kept as a list (ExtFields
// nil; read it with the Command's Ext* methods or RawExt): no map per response. The SDK's pull
// path uses it.
func (c *Client) InvokeRaw(ctx context.Context, addr string, req *remoting.Command) (*remoting.Command, error) {
	return c.invoke(ctx, addr, req, true)
}

func (c *Client) invoke(ctx context.Context, addr string, req *remoting.Command, raw bool) (*remoting.Command, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.DefaultTimeout)
		defer cancel()
	}
	cn, err := c.getConn(ctx, addr)
	if err != nil {
		return nil, err
	}
	cl := &call{done: make(chan result, 1), raw: raw}
	if err := cn.send(ctx, req, cl); err != nil {
		return nil, err
	}
	select {
	case r := <-cl.done:
		return r.resp, r.err
	case <-ctx.Done():
		if cn.remove(req.Opaque, cl) {
			return nil, fmt.Errorf("rpc: %s code %d opaque %d: %w (%w)", addr, req.Code, req.Opaque, ErrTimeout, ctx.Err())
		}
		r := <-cl.done // the response won the race
		return r.resp, r.err
	}
}

// InvokeAsync sends req to addr and returns once it is written. cb is called exactly once, from
// its own goroutine, with the response, or with an error when ctx is done first or the connection
// drops. When InvokeAsync returns an error, cb is not called.
func (c *Client) InvokeAsync(ctx context.Context, addr string, req *remoting.Command, cb func(*remoting.Command, error)) error {
	return c.invokeAsync(ctx, addr, req, CallbackFunc(cb), false)
}

// Callback receives the outcome of an async call: the response, or the error, exactly once.
// InvokeAsyncRawCallback and InvokeAsyncRawUntilCallback take one instead of a func, so that a
// caller's own per-request object can be the callback (no closure allocated per call).
type Callback interface {
	Answered(resp *remoting.Command, err error)
}

// CallbackFunc adapts a func to a Callback.
type CallbackFunc func(*remoting.Command, error)

// Answered calls f.
func (f CallbackFunc) Answered(resp *remoting.Command, err error) { f(resp, err) }

// InvokeAsyncRaw is InvokeAsync delivering the response with its custom header kept as a list
// (ExtFields nil; read it with the Command's Ext* methods or RawExt): no map per response. The
// SDK's send path uses it.
func (c *Client) InvokeAsyncRaw(ctx context.Context, addr string, req *remoting.Command, cb func(*remoting.Command, error)) error {
	return c.invokeAsync(ctx, addr, req, CallbackFunc(cb), true)
}

// InvokeAsyncRawCallback is InvokeAsyncRaw delivering the outcome to cb.
func (c *Client) InvokeAsyncRawCallback(ctx context.Context, addr string, req *remoting.Command, cb Callback) error {
	return c.invokeAsync(ctx, addr, req, cb, true)
}

func (c *Client) invokeAsync(ctx context.Context, addr string, req *remoting.Command, cb Callback, raw bool) error {
	var cancel context.CancelFunc = func() {}
	if _, ok := ctx.Deadline(); !ok {
		ctx, cancel = context.WithTimeout(ctx, c.cfg.DefaultTimeout)
	}
	cn, err := c.getConn(ctx, addr)
	if err != nil {
		cancel()
		return err
	}
	cl := &call{client: c, cb: cb, cancel: cancel, raw: raw}
	if err := cn.send(ctx, req, cl); err != nil {
		cancel()
		return err
	}
	opaque := req.Opaque
	stop := context.AfterFunc(ctx, func() {
		if cn.remove(opaque, cl) {
			cl.finish(nil, fmt.Errorf("rpc: %s code %d opaque %d: %w (%w)", addr, req.Code, opaque, ErrTimeout, ctx.Err()))
		}
	})
	cl.setStop(stop)
	return nil
}

// InvokeAsyncRawUntil is InvokeAsyncRaw for a caller whose only limit is a deadline (no context
// that can be cancelled): no context, timer or AfterFunc per call. The call is failed with
// ErrTimeout by the Client's sweeper, which checks pending deadlines every sweepInterval, so it
// may end up to that much after deadline. The SDK's async producer uses it for sends whose
// context cannot be cancelled.
func (c *Client) InvokeAsyncRawUntil(deadline time.Time, addr string, req *remoting.Command, cb func(*remoting.Command, error)) error {
	return c.InvokeAsyncRawUntilCallback(deadline, addr, req, CallbackFunc(cb))
}

// InvokeAsyncRawUntilCallback is InvokeAsyncRawUntil delivering the outcome to cb.
func (c *Client) InvokeAsyncRawUntilCallback(deadline time.Time, addr string, req *remoting.Command, cb Callback) error {
	cn := c.live(addr)
	if cn == nil {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		var err error
		cn, err = c.getConn(ctx, addr)
		cancel()
		if err != nil {
			return err
		}
	}
	c.startSweeper()
	cl := &call{client: c, cb: cb, cancel: noCancel, raw: true, deadline: deadline.UnixNano()}
	return cn.sendUntil(deadline, req, cl)
}

func noCancel() {}

// sweepInterval is how often the sweeper looks for calls past their deadline.
const sweepInterval = 20 * time.Millisecond

func (c *Client) startSweeper() {
	c.sweepOnce.Do(func() { go c.sweep() })
}

// sweep fails calls made with InvokeAsyncRawUntil whose deadline passed, until the Client closes.
func (c *Client) sweep() {
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	var late []*call
	var opaques []int32
	for {
		select {
		case <-c.closing:
			return
		case now := <-t.C:
			c.mu.Lock()
			conns := make([]*conn, 0, len(c.conns))
			for _, e := range c.conns {
				if cn := e.current(); cn != nil {
					conns = append(conns, cn)
				}
			}
			c.mu.Unlock()
			for _, cn := range conns {
				late, opaques = late[:0], opaques[:0]
				cn.mu.Lock()
				for op, cl := range cn.pending {
					if cl.deadline != 0 && now.UnixNano() > cl.deadline {
						delete(cn.pending, op)
						late, opaques = append(late, cl), append(opaques, op)
					}
				}
				cn.mu.Unlock()
				for i, cl := range late {
					cl.finish(nil, fmt.Errorf("rpc: %s opaque %d: %w (deadline passed)", cn.addr, opaques[i], ErrTimeout))
				}
			}
		}
	}
}

// InvokeOneway sets the oneway flag on req and writes it to addr; no response is expected.
func (c *Client) InvokeOneway(ctx context.Context, addr string, req *remoting.Command) error {
	cn, err := c.getConn(ctx, addr)
	if err != nil {
		return err
	}
	req.MarkOneway()
	return cn.send(ctx, req, nil)
}

// CloseAddr closes the connection to addr, if any; the next call dials again.
func (c *Client) CloseAddr(addr string) {
	c.mu.Lock()
	e := c.conns[addr]
	c.mu.Unlock()
	if e == nil {
		return
	}
	e.mu.Lock() // a dial under way finishes first, so its connection is the one closed
	cn := e.conn.Load()
	e.mu.Unlock()
	if cn != nil {
		cn.close(fmt.Errorf("rpc: %s: %w (closed by caller)", addr, ErrConnClosed))
	}
}

// Close closes every connection, fails pending calls with ErrConnClosed and waits for the reader
// and handler goroutines. Later calls return ErrClosed. Close is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.closing)
	entries := make([]*entry, 0, len(c.conns))
	for _, e := range c.conns {
		entries = append(entries, e)
	}
	c.mu.Unlock()
	for _, e := range entries {
		e.mu.Lock()
		cn := e.conn.Load()
		e.mu.Unlock()
		if cn != nil {
			cn.close(fmt.Errorf("rpc: %s: %w (client closed)", cn.addr, ErrConnClosed))
		}
	}
	c.wg.Wait()
	return nil
}

// current returns the entry's connection (nil while none was dialled). It never waits for a dial
// in progress: the deadline sweeper calls it holding c.mu, while a dial that finishes takes c.mu
// with the entry's lock held (waiting on e.mu here deadlocked the whole client once a sweeper
// tick met a new connection's dial).
func (e *entry) current() *conn { return e.conn.Load() }

// live returns the open connection to addr, or nil when there is none (or the Client closed).
func (c *Client) live(addr string) *conn {
	c.mu.Lock()
	e := c.conns[addr]
	closed := c.closed
	c.mu.Unlock()
	if e == nil || closed {
		return nil
	}
	if cn := e.current(); cn != nil && !cn.isClosed() {
		return cn
	}
	return nil
}

// testHookAfterDial, when set (tests only), runs in getConn after a dial succeeded, with the
// entry's lock held and before c.mu is taken.
var testHookAfterDial func()

// getConn returns the live connection to addr, dialing it if needed.
func (c *Client) getConn(ctx context.Context, addr string) (*conn, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, fmt.Errorf("rpc: %s: %w", addr, ErrClosed)
	}
	e := c.conns[addr]
	if e == nil {
		e = &entry{}
		c.conns[addr] = e
	}
	c.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	if cn := e.conn.Load(); cn != nil && !cn.isClosed() {
		return cn, nil
	}
	d := net.Dialer{Timeout: c.cfg.DialTimeout}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("rpc: dial %s: %w: %w", addr, ErrConnect, err)
	}
	if c.cfg.TLS != nil {
		tc := c.cfg.TLS.Clone()
		if tc.ServerName == "" {
			tc.ServerName, _, _ = net.SplitHostPort(addr)
		}
		tconn := tls.Client(nc, tc)
		hctx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
		err := tconn.HandshakeContext(hctx)
		cancel()
		if err != nil {
			_ = nc.Close()
			return nil, fmt.Errorf("rpc: TLS handshake with %s: %w: %w", addr, ErrConnect, err)
		}
		nc = tconn
	}
	if testHookAfterDial != nil {
		testHookAfterDial()
	}
	cn := &conn{client: c, addr: addr, nc: nc, pending: map[int32]*call{}, closedCh: make(chan struct{}), kick: make(chan struct{}, 1)}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		_ = nc.Close()
		return nil, fmt.Errorf("rpc: %s: %w", addr, ErrClosed)
	}
	c.wg.Add(2)
	c.mu.Unlock()
	e.conn.Store(cn)
	go cn.readLoop()
	go cn.flushLoop()
	c.log.Debug("connected", "addr", addr)
	return cn, nil
}

type result struct {
	resp *remoting.Command
	err  error
}

// call is one outstanding request: sync calls wait on done, async calls have cb.
type call struct {
	client   *Client
	deadline int64 // unix ns; set for InvokeAsyncRawUntil calls, which the sweeper times out
	raw      bool  // deliver the response with its custom header as a list (no ExtFields map)
	done     chan result
	cb       Callback
	cancel   context.CancelFunc
	mu       sync.Mutex
	stop     func() bool
	fired    atomic.Bool
	// The outcome of an async call, set by finish before the call is queued for run.
	resp *remoting.Command
	err  error
}

func (cl *call) setStop(stop func() bool) {
	cl.mu.Lock()
	cl.stop = stop
	cl.mu.Unlock()
}

// finish delivers the outcome. The caller must have removed cl from the pending table, which
// guarantees finish runs once.
func (cl *call) finish(resp *remoting.Command, err error) {
	if !cl.fired.CompareAndSwap(false, true) {
		return
	}
	if resp != nil && !cl.raw {
		resp.MaterializeExt()
	}
	if cl.cb == nil {
		cl.done <- result{resp, err}
		return
	}
	cl.resp, cl.err = resp, err
	cl.client.runCallback(cl)
}

// run delivers an async call's outcome (set by finish) to its callback, on a callback worker.
func (cl *call) run() {
	cl.mu.Lock()
	stop := cl.stop
	cl.mu.Unlock()
	if stop != nil {
		stop()
	}
	cl.cancel()
	resp, err := cl.resp, cl.err
	cl.resp, cl.err = nil, nil
	cl.cb.Answered(resp, err)
}

// conn is one TCP connection and its pending calls.
type conn struct {
	client *Client
	addr   string
	nc     net.Conn

	// Writes are combined: a sender appends its whole frame to wbuf under wmu; the first sender
	// that finds no write in progress becomes the writer and loops, writing everything queued
	// (one write(2) for many frames), until wbuf is empty. Frames never interleave.
	//
	// An async frame sent while other calls on the connection still await their answers does
	// not write itself: it wakes the connection's flusher goroutine (kick) and returns, so the
	// frames that an async sender queues meanwhile go out in the same write(2) (a one-at-a-time
	// sender, and every sync caller, still writes its own frame at once: no added latency). One write per frame was 20 % of a
	// publishing SDK's CPU, and as many reads on the broker.
	wmu     sync.Mutex
	wbuf    []byte
	wspare  []byte
	writing bool
	queued  bool          // the flusher was kicked and has not taken the buffer yet
	kick    chan struct{} // capacity 1

	mu       sync.Mutex // guards pending, err
	pending  map[int32]*call
	err      error
	closedCh chan struct{}
}

func (cn *conn) isClosed() bool {
	select {
	case <-cn.closedCh:
		return true
	default:
		return false
	}
}

// send registers cl (when not nil) under req.Opaque and writes the frame; the write deadline is
// ctx's, or WriteTimeout from now.
func (cn *conn) send(ctx context.Context, req *remoting.Command, cl *call) error {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(cn.client.cfg.WriteTimeout)
	}
	return cn.sendUntil(deadline, req, cl)
}

// sendUntil is send with the write deadline given (InvokeAsyncRawUntil: the call's).
func (cn *conn) sendUntil(deadline time.Time, req *remoting.Command, cl *call) error {
	if !req.IsResponse() {
		if st := cn.client.cfg.Serialize; st != remoting.SerializeJSON {
			req.SerializeType = st
		}
		if sign := cn.client.cfg.Sign; sign != nil {
			sign(req)
		}
	}
	deferred := false
	if cl != nil {
		cn.mu.Lock()
		if cn.err != nil {
			err := cn.err
			cn.mu.Unlock()
			return err
		}
		for {
			if _, dup := cn.pending[req.Opaque]; !dup {
				break
			}
			req.Opaque = remoting.NextOpaque()
		}
		cn.pending[req.Opaque] = cl
		// An async call's frame, while answers are on their way, goes to the flusher, which may
		// batch it with the frames its sender queues meanwhile. A sync caller waits for its answer
		// anyway, so it writes its own frame (or leaves it to the write in progress): handing it to
		// the flusher only added a goroutine wake-up to each pull's latency.
		deferred = cl.cb != nil && len(cn.pending) > 1
		cn.mu.Unlock()
	}
	return cn.writeCall(req, cl, deadline, deferred)
}

func (cn *conn) writeCall(req *remoting.Command, cl *call, deadline time.Time, deferred bool) error {
	if err := cn.write(req, deadline, deferred); err != nil {
		if cl != nil {
			cn.remove(req.Opaque, cl)
		}
		return err
	}
	return nil
}

// maxWriteBuffer is the largest combined write buffer kept for reuse.
const maxWriteBuffer = 1 << 20

// write appends req's frame to the combined write buffer and, unless another sender is already
// writing or deferred hands it to the flusher, writes the buffer out (see conn.wmu). An encoding
// error concerns req alone; a socket error closes the connection, which fails every pending call
// (a deferred frame's call included).
func (cn *conn) write(req *remoting.Command, deadline time.Time, deferred bool) error {
	cn.wmu.Lock()
	out, err := req.AppendFrame(cn.wbuf)
	cn.wbuf = out
	if err != nil {
		cn.wmu.Unlock()
		return fmt.Errorf("rpc: %s code %d: %w", cn.addr, req.Code, err)
	}
	if cn.writing {
		cn.wmu.Unlock()
		return nil
	}
	if deferred {
		if !cn.queued {
			cn.queued = true
			select {
			case cn.kick <- struct{}{}:
			default:
			}
		}
		cn.wmu.Unlock()
		return nil
	}
	cn.writing = true
	if err := cn.drainLocked(deadline); err != nil {
		return fmt.Errorf("rpc: write to %s code %d: %w", cn.addr, req.Code, err)
	}
	cn.wmu.Unlock()
	return nil
}

// flushLoop writes what deferred senders queued, until the connection closes.
func (cn *conn) flushLoop() {
	defer cn.client.wg.Done()
	for {
		select {
		case <-cn.kick:
		case <-cn.closedCh:
			return
		}
		// Let the goroutines that are ready to run (senders woken by answers, callbacks) queue
		// their frames first, so that this write carries them too: BenchmarkSendAsync made 34k
		// write(2) calls for 200k sends without the yield, 8-15k with it, and the baseline row of
		// mqbench e2e halved the server's CPU per message (fewer, larger reads).
		runtime.Gosched()
		cn.wmu.Lock()
		cn.queued = false
		if cn.writing || len(cn.wbuf) == 0 {
			cn.wmu.Unlock()
			continue
		}
		cn.writing = true
		if err := cn.drainLocked(time.Now().Add(cn.client.cfg.WriteTimeout)); err != nil {
			cn.client.log.Debug("write failed", "addr", cn.addr, "err", err)
			continue
		}
		cn.wmu.Unlock()
	}
}

// drainLocked writes wbuf until it is empty; cn.wmu is held (released around each write) and
// cn.writing is set by the caller. It clears cn.writing. On a socket error it closes the
// connection and returns with cn.wmu released; otherwise cn.wmu is still held.
func (cn *conn) drainLocked(deadline time.Time) error {
	for len(cn.wbuf) > 0 {
		buf := cn.wbuf
		cn.wbuf = cn.wspare[:0]
		cn.wspare = nil
		cn.wmu.Unlock()
		_ = cn.nc.SetWriteDeadline(deadline)
		_, werr := cn.nc.Write(buf)
		cn.wmu.Lock()
		if cap(buf) <= maxWriteBuffer {
			cn.wspare = buf[:0]
		}
		if werr != nil {
			cn.wbuf = cn.wbuf[:0]
			cn.writing = false
			cn.wmu.Unlock()
			err := fmt.Errorf("%w: %w", ErrConnClosed, werr)
			cn.close(fmt.Errorf("rpc: write to %s: %w", cn.addr, err))
			return err
		}
		deadline = time.Now().Add(cn.client.cfg.WriteTimeout)
	}
	cn.writing = false
	return nil
}

// remove deletes cl from the pending table and reports whether it was still there.
func (cn *conn) remove(opaque int32, cl *call) bool {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.pending[opaque] == cl {
		delete(cn.pending, opaque)
		return true
	}
	return false
}

// close closes the socket; the reader goroutine then fails pending calls and runs the hooks.
func (cn *conn) close(reason error) {
	cn.mu.Lock()
	if cn.err == nil {
		cn.err = reason
	}
	cn.mu.Unlock()
	_ = cn.nc.Close()
}

func (cn *conn) readLoop() {
	c := cn.client
	defer c.wg.Done()
	var readErr error
	br := bufio.NewReaderSize(cn.nc, 64<<10)
	var lastDeadline time.Time
	for {
		// Moving the read deadline costs a timer update; once a second is precise enough for a
		// 120 s idle timeout.
		if now := time.Now(); now.Sub(lastDeadline) > time.Second {
			_ = cn.nc.SetReadDeadline(now.Add(c.cfg.IdleTimeout))
			lastDeadline = now
		}
		cmd, err := readCommandRaw(br, c.cfg.MaxFrameSize)
		if err != nil {
			readErr = err
			break
		}
		if cmd.IsResponse() {
			cn.mu.Lock()
			cl := cn.pending[cmd.Opaque]
			delete(cn.pending, cmd.Opaque)
			cn.mu.Unlock()
			if cl == nil {
				c.log.Debug("response without a waiting call dropped", "addr", cn.addr, "opaque", cmd.Opaque, "code", cmd.Code)
				continue
			}
			cl.finish(cmd, nil)
			continue
		}
		cn.dispatch(cmd.MaterializeExt())
	}
	_ = cn.nc.Close()
	cn.mu.Lock()
	if cn.err == nil {
		cn.err = fmt.Errorf("rpc: %s: %w: %w", cn.addr, ErrConnClosed, readErr)
	}
	reason := cn.err
	pending := cn.pending
	cn.pending = map[int32]*call{}
	close(cn.closedCh)
	cn.mu.Unlock()
	for _, cl := range pending {
		cl.finish(nil, reason)
	}
	lvl := slog.LevelInfo
	if errors.Is(readErr, io.EOF) || errors.Is(readErr, net.ErrClosed) {
		lvl = slog.LevelDebug
	}
	c.log.Log(context.Background(), lvl, "connection closed", "addr", cn.addr, "err", readErr)
	c.mu.Lock()
	hooks := append([]func(string, error){}, c.hooks...)
	c.mu.Unlock()
	for _, h := range hooks {
		h(cn.addr, reason)
	}
}

// dispatch runs the handler for a server-initiated request on a bounded goroutine.
func (cn *conn) dispatch(req *remoting.Command) {
	c := cn.client
	c.mu.Lock()
	h := c.handlers[req.Code]
	c.mu.Unlock()
	if h == nil {
		if !req.IsOneway() {
			cn.reply(req, remoting.NewResponse(req, remoting.RequestCodeNotSupported, fmt.Sprintf(" request type %d not supported", req.Code)))
		}
		return
	}
	select {
	case c.sem <- struct{}{}:
	default:
		c.log.Warn("server request dropped: handlers busy", "addr", cn.addr, "code", req.Code)
		if !req.IsOneway() {
			cn.reply(req, remoting.NewResponse(req, remoting.SystemBusy, "client handlers busy"))
		}
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer func() { <-c.sem }()
		resp := cn.runHandler(h, req)
		if resp != nil && !req.IsOneway() {
			cn.reply(req, resp)
		}
	}()
}

func (cn *conn) runHandler(h Handler, req *remoting.Command) (resp *remoting.Command) {
	defer func() {
		if p := recover(); p != nil {
			cn.client.log.Error("handler panic", "addr", cn.addr, "code", req.Code, "panic", p, "stack", string(debug.Stack()))
			resp = remoting.NewResponse(req, remoting.SystemError, fmt.Sprintf("handler panic: %v", p))
		}
	}()
	return h(cn.addr, req)
}

func (cn *conn) reply(req, resp *remoting.Command) {
	resp.Opaque = req.Opaque
	resp.MarkResponse()
	ctx, cancel := context.WithTimeout(context.Background(), cn.client.cfg.WriteTimeout)
	defer cancel()
	if err := cn.send(ctx, resp, nil); err != nil {
		cn.client.log.Debug("answer to server request not sent", "addr", cn.addr, "code", req.Code, "err", err)
	}
}

// readCommandRaw reads one frame from r and decodes it with its custom header as a list; the
// frame gets its own buffer (the decoded strings and the body alias it). A frame that fits in
// r's buffer is copied out of it into a buffer that is not zeroed first (append of the peeked
// bytes); a larger one is read into a new buffer, straight from the connection once r's
// buffered bytes are used up.
func readCommandRaw(r *bufio.Reader, maxFrame int) (*remoting.Command, error) {
	lb, err := r.Peek(4)
	if err != nil {
		if err == io.EOF && len(lb) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	length := int64(int32(binary.BigEndian.Uint32(lb)))
	if err := remoting.CheckLength(length, maxFrame); err != nil {
		return nil, err
	}
	_, _ = r.Discard(4)
	n := int(length)
	var frame []byte
	if n <= r.Size() {
		b, err := r.Peek(n)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		frame = append([]byte(nil), b...)
		_, _ = r.Discard(n)
	} else {
		frame = make([]byte, n)
		if _, err := io.ReadFull(r, frame); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return remoting.DecodeFrameRaw(frame)
}
