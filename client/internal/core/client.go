// Package core is the shared client instance of the SDK: connections, name-server failover, the
// route cache and its 30 s refresh, heartbeats to every broker, and the translation of transport
// and broker errors into the sentinels of package client. Producers and consumers each own one
// Client (so each has its own client id and connections).
package core

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/rpc"
)

// Config configures a Client. Zero values take the defaults given on each field.
type Config struct {
	Name              string             // error and log prefix, e.g. "producer"
	NameServers       []string           // default: NAMESRV_ADDR
	Logger            *slog.Logger       // default: discard
	Timeout           time.Duration      // per call when the context has no deadline; default 3 s
	InstanceName      string             // part of the client id; default pid#<n>
	RouteInterval     time.Duration      // route refresh; default 30 s
	HeartbeatInterval time.Duration      // heartbeat to every broker; default 30 s
	Credentials       client.Credentials // ACL credentials signing every request; empty: unsigned
	TLS               *tls.Config        // TLS to name servers and brokers; nil: plain TCP
	// JSONHeaders sends request headers as JSON (serializeType 0, the official Go client's form)
	// instead of RocketMQ's binary header (serializeType 1), which every RocketMQ 4.x broker and
	// name server, and Skiff's, accept, and which costs both sides less per request.
	JSONHeaders bool
}

// Client is the shared client instance. It is safe for concurrent use.
type Client struct {
	cfg         Config
	name        string
	log         *slog.Logger
	nameServers []string
	rpc         *rpc.Client
	clientID    string

	mu            sync.Mutex
	routes        map[string]*TopicRoute
	brokers       map[string]map[int64]string // brokerName -> id -> addr
	routeWatchers []func(string, *TopicRoute)
	heartbeat     func() *HeartbeatData
	nsNext        int
	forced        map[string]time.Time // topic -> last RefreshRoute fetch

	started  atomic.Bool
	closed   atomic.Bool
	stop     chan struct{}
	wg       sync.WaitGroup
	hbKick   chan struct{}
	instance int64
}

var instances atomic.Int64

// serialize is the header serialization of the client's requests: RocketMQ's binary header
// unless JSONHeaders (see Config).
func (cfg Config) serialize() byte {
	if cfg.JSONHeaders {
		return remoting.SerializeJSON
	}
	return remoting.SerializeRocketMQ
}

// New returns a Client; it dials nothing until used.
func New(cfg Config) (*Client, error) {
	if cfg.Name == "" {
		cfg.Name = "client"
	}
	ns, err := client.NameServers(cfg.NameServers)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Name, err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 3 * time.Second
	}
	if cfg.RouteInterval <= 0 {
		cfg.RouteInterval = 30 * time.Second
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 30 * time.Second
	}
	n := instances.Add(1)
	if cfg.InstanceName == "" {
		cfg.InstanceName = strconv.Itoa(os.Getpid()) + "#" + strconv.FormatInt(n, 10)
	}
	log := cfg.Logger.With("component", cfg.Name)
	c := &Client{
		cfg:         cfg,
		name:        cfg.Name,
		log:         log,
		nameServers: ns,
		rpc: rpc.New(rpc.Config{Logger: log, DialTimeout: cfg.Timeout, DefaultTimeout: cfg.Timeout,
			TLS: cfg.TLS, Sign: cfg.Credentials.Signer(), Serialize: cfg.serialize()}),
		clientID: LocalIP() + "@" + cfg.InstanceName,
		routes:   map[string]*TopicRoute{},
		brokers:  map[string]map[int64]string{},
		stop:     make(chan struct{}),
		hbKick:   make(chan struct{}, 1),
		instance: n,
	}
	return c, nil
}

// ClientID returns the id this client gives brokers: ip@instanceName.
func (c *Client) ClientID() string { return c.clientID }

// Logger returns the client's logger.
func (c *Client) Logger() *slog.Logger { return c.log }

// Name returns the error prefix ("producer", "consumer", ...).
func (c *Client) Name() string { return c.name }

// Timeout returns the default call timeout.
func (c *Client) Timeout() time.Duration { return c.cfg.Timeout }

// NameServers returns the configured name servers.
func (c *Client) NameServers() []string { return slices.Clone(c.nameServers) }

// Start launches the route refresh and heartbeat loops.
func (c *Client) Start() {
	if !c.started.CompareAndSwap(false, true) {
		return
	}
	c.loop("route-refresh", c.cfg.RouteInterval, nil, func(ctx context.Context) { c.refreshRoutes(ctx) })
	c.loop("heartbeat", c.cfg.HeartbeatInterval, c.hbKick, func(ctx context.Context) { c.SendHeartbeat(ctx) })
}

// loop runs fn every interval (and when kick fires) until Shutdown.
func (c *Client) loop(name string, every time.Duration, kick chan struct{}, fn func(context.Context)) {
	c.wg.Add(1)
	go pprof.Do(context.Background(), pprof.Labels("skiff", c.name+"-"+name), func(context.Context) {
		defer c.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-c.stop:
				return
			case <-t.C:
			case <-kick:
			}
			ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
			fn(ctx)
			cancel()
		}
	})
}

// Go runs fn on a goroutine that Shutdown waits for; fn should return when Done is closed.
func (c *Client) Go(label string, fn func()) {
	c.wg.Add(1)
	go pprof.Do(context.Background(), pprof.Labels("skiff", c.name+"-"+label), func(context.Context) {
		defer c.wg.Done()
		fn()
	})
}

// Done is closed when Shutdown begins.
func (c *Client) Done() <-chan struct{} { return c.stop }

// Closed reports whether Shutdown has begun.
func (c *Client) Closed() bool { return c.closed.Load() }

// Shutdown stops the loops, waits for goroutines started with Go, and closes the connections.
// Call Unregister first to tell brokers.
func (c *Client) Shutdown() {
	if !c.closed.CompareAndSwap(false, true) {
		return
	}
	close(c.stop)
	c.wg.Wait()
	_ = c.rpc.Close()
}

// Handle registers h for requests with code that brokers send to this client.
func (c *Client) Handle(code int32, h func(addr string, req *remoting.Command) *remoting.Command) {
	c.rpc.Handle(code, h)
}

// OnConnClose registers fn, called after the connection to addr closed.
func (c *Client) OnConnClose(fn func(addr string, err error)) { c.rpc.OnConnClose(fn) }

func (c *Client) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, c.cfg.Timeout)
}

// Invoke sends req to addr and waits for the answer, translating transport errors.
func (c *Client) Invoke(ctx context.Context, addr string, req *remoting.Command) (*remoting.Command, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	resp, err := c.rpc.Invoke(ctx, addr, req)
	if err != nil {
		return nil, c.Transport(err, addr, req.Code)
	}
	return resp, nil
}

// InvokeRaw is Invoke with the response's custom header kept as a list (ExtFields nil; read it
// with the Command's Ext* methods or RawExt).
func (c *Client) InvokeRaw(ctx context.Context, addr string, req *remoting.Command) (*remoting.Command, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	resp, err := c.rpc.InvokeRaw(ctx, addr, req)
	if err != nil {
		return nil, c.Transport(err, addr, req.Code)
	}
	return resp, nil
}

// InvokeAsync sends req to addr; cb gets the answer or a translated error, exactly once, unless
// InvokeAsync itself returns an error.
func (c *Client) InvokeAsync(ctx context.Context, addr string, req *remoting.Command, cb func(*remoting.Command, error)) error {
	return c.invokeAsync(ctx, addr, req, cb, c.rpc.InvokeAsync)
}

// InvokeAsyncRaw is InvokeAsync with the response's custom header kept as a list (ExtFields
// nil; read it with the Command's Ext* methods or RawExt).
func (c *Client) InvokeAsyncRaw(ctx context.Context, addr string, req *remoting.Command, cb func(*remoting.Command, error)) error {
	return c.invokeAsync(ctx, addr, req, cb, c.rpc.InvokeAsyncRaw)
}

// InvokeAsyncRawUntil is InvokeAsyncRaw bounded by a deadline alone (no context per call; see
// rpc.Client.InvokeAsyncRawUntil).
func (c *Client) InvokeAsyncRawUntil(deadline time.Time, addr string, req *remoting.Command, cb func(*remoting.Command, error)) error {
	code := req.Code
	if err := c.rpc.InvokeAsyncRawUntil(deadline, addr, req, c.transportCallback(addr, code, cb)); err != nil {
		return c.Transport(err, addr, code)
	}
	return nil
}

// InvokeAsyncRawUntilCallback is InvokeAsyncRawUntil delivering the outcome to cb, a caller's
// per-request object (no closure per call). Unlike the func forms, cb gets transport errors as
// the rpc layer reports them: map them with Transport(err, addr, req.Code). An error returned
// by the call itself is mapped.
func (c *Client) InvokeAsyncRawUntilCallback(deadline time.Time, addr string, req *remoting.Command, cb rpc.Callback) error {
	if err := c.rpc.InvokeAsyncRawUntilCallback(deadline, addr, req, cb); err != nil {
		return c.Transport(err, addr, req.Code)
	}
	return nil
}

// InvokeAsyncRawCallback is InvokeAsyncRaw delivering the outcome to cb, with transport errors
// unmapped as for InvokeAsyncRawUntilCallback.
func (c *Client) InvokeAsyncRawCallback(ctx context.Context, addr string, req *remoting.Command, cb rpc.Callback) error {
	if err := c.rpc.InvokeAsyncRawCallback(ctx, addr, req, cb); err != nil {
		return c.Transport(err, addr, req.Code)
	}
	return nil
}

func (c *Client) invokeAsync(ctx context.Context, addr string, req *remoting.Command, cb func(*remoting.Command, error),
	invoke func(context.Context, string, *remoting.Command, func(*remoting.Command, error)) error) error {
	code := req.Code
	if err := invoke(ctx, addr, req, c.transportCallback(addr, code, cb)); err != nil {
		return c.Transport(err, addr, code)
	}
	return nil
}

// transportCallback wraps an async callback so that transport errors reach it mapped to the
// client sentinels (Transport), naming addr and code.
func (c *Client) transportCallback(addr string, code int32, cb func(*remoting.Command, error)) func(*remoting.Command, error) {
	return func(resp *remoting.Command, err error) {
		if err != nil {
			err = c.Transport(err, addr, code)
		}
		cb(resp, err)
	}
}

// InvokeOneway writes req to addr without waiting for an answer.
func (c *Client) InvokeOneway(ctx context.Context, addr string, req *remoting.Command) error {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	if err := c.rpc.InvokeOneway(ctx, addr, req); err != nil {
		return c.Transport(err, addr, req.Code)
	}
	return nil
}

// CloseAddr drops the connection to addr.
func (c *Client) CloseAddr(addr string) { c.rpc.CloseAddr(addr) }

// Transport maps an rpc error to the client sentinels, naming the address and request code.
func (c *Client) Transport(err error, addr string, code int32) error {
	var s error
	switch {
	case errors.Is(err, rpc.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		s = client.ErrTimeout
	case errors.Is(err, rpc.ErrConnect):
		s = client.ErrConnect
	case errors.Is(err, rpc.ErrConnClosed):
		s = client.ErrConnClosed
	case errors.Is(err, rpc.ErrClosed):
		s = client.ErrClosed
	default:
		return fmt.Errorf("%s: request %d to %s: %w", c.name, code, addr, err)
	}
	return fmt.Errorf("%s: request %d to %s: %w (%w)", c.name, code, addr, s, err)
}

// IsTransport reports whether err is a transport failure (worth another address).
func IsTransport(err error) bool {
	return errors.Is(err, client.ErrTimeout) || errors.Is(err, client.ErrConnect) || errors.Is(err, client.ErrConnClosed)
}

// Check turns a response with an error code into a *client.BrokerError.
func Check(resp *remoting.Command, addr string, reqCode int32) error {
	if resp.Code == remoting.Success {
		return nil
	}
	return &client.BrokerError{Addr: addr, RequestCode: reqCode, Code: resp.Code, Remark: resp.Remark}
}

// InvokeNamesrv sends a request built by mk to the name servers in turn (starting with the next
// one in round-robin order) until one answers; only transport errors move on.
func (c *Client) InvokeNamesrv(ctx context.Context, mk func() *remoting.Command) (*remoting.Command, string, error) {
	c.mu.Lock()
	start := c.nsNext
	c.nsNext = (c.nsNext + 1) % len(c.nameServers)
	c.mu.Unlock()
	var errs []error
	for i := range c.nameServers {
		addr := c.nameServers[(start+i)%len(c.nameServers)]
		resp, err := c.Invoke(ctx, addr, mk())
		if err == nil {
			if i > 0 {
				c.mu.Lock()
				c.nsNext = (start + i) % len(c.nameServers) // stick with the one that answered
				c.mu.Unlock()
			}
			return resp, addr, nil
		}
		errs = append(errs, err)
		if !IsTransport(err) || ctx.Err() != nil {
			break
		}
		c.log.Debug("name server failed, trying the next", "addr", addr, "err", err)
	}
	return nil, "", errors.Join(errs...)
}

// LocalIP returns the first non-loopback IPv4 address of this host, or 127.0.0.1.
func LocalIP() string {
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() {
				if v4 := n.IP.To4(); v4 != nil {
					return v4.String()
				}
			}
		}
	}
	return "127.0.0.1"
}
