package namesrv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skiffmq/skiff/internal/acl"
	"github.com/skiffmq/skiff/internal/httpapi"
	"github.com/skiffmq/skiff/internal/metrics"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/server"
	"github.com/skiffmq/skiff/internal/security"
	"github.com/skiffmq/skiff/namesrv/controller"
	"github.com/skiffmq/skiff/namesrv/routeinfo"
)

// ErrNotStarted is returned by Start when called twice or after Shutdown.
var ErrNotStarted = errors.New("namesrv: server already started or shut down")

// poolName is the worker pool every name-server request runs on.
const poolName = "namesrv"

// listener is the part of the remoting server the lifecycle needs after Start.
type listener interface {
	Addr() string
	Shutdown(ctx context.Context) error
}

// Server is one name server: the route table, the KV config, the remoting listener and the
// housekeeping loop that expires silent brokers.
//
// Concurrency: the route table and the KV store lock themselves; conns is guarded by connMu;
// runtime-changeable settings are atomics; the housekeeping goroutine is owned by the Server
// (started in Start, stopped and waited for in Shutdown).
type Server struct {
	cfg   Config
	log   *slog.Logger
	table *routeinfo.Table
	kv    *kvStore
	rs    listener
	http  *httpapi.Server

	metrics *metrics.Set
	guard   *security.Guard // nil: no ACL and no cluster secret
	secret  []byte          // cluster secret; nil: node links unauthenticated

	orderMessageEnable atomic.Bool
	scanInterval       atomic.Int64 // ms
	expiredTime        atomic.Int64 // ms

	connMu sync.Mutex
	conns  map[string]func() // connKey -> closes the connection that registered a broker

	fo           *failover        // nil unless enableControllerInNamesrv
	epochMu      sync.Mutex       // guards masterEpochs
	masterEpochs map[string]int64 // brokerName -> highest masterEpoch a brokerId-0 registration carried

	// kvPrintInterval is the period of the KV config dump to the log (RocketMQ: 10 min).
	kvPrintInterval time.Duration

	started  atomic.Bool
	shutdown atomic.Bool
	stop     chan struct{}
	wg       sync.WaitGroup
}

// New validates cfg, loads the KV config and builds a stopped server. log may be nil (silent).
func New(cfg Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "namesrv")
	cfg.KvConfigPath = expandHome(cfg.KvConfigPath)
	kv, err := openKVStore(cfg.KvConfigPath, log)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:   cfg,
		log:   log,
		table: routeinfo.New(cfg.Now),
		kv:    kv,
		conns: make(map[string]func()),
		stop:  make(chan struct{}),

		masterEpochs: make(map[string]int64),

		kvPrintInterval: 10 * time.Minute,
		metrics:         metrics.New(),
	}
	if err := s.setupSecurity(); err != nil {
		return nil, err
	}
	s.orderMessageEnable.Store(cfg.OrderMessageEnable)
	s.scanInterval.Store(cfg.ScanNotActiveBrokerInterval)
	s.expiredTime.Store(cfg.BrokerChannelExpiredTime)
	ns, keys := kv.count()
	log.Info("kv config loaded", "path", cfg.KvConfigPath, "namespaces", ns, "keys", keys)
	return s, nil
}

// Table returns the route table (tests and diagnostics).
func (s *Server) Table() *routeinfo.Table { return s.table }

// Addr returns the address the server listens on ("" before Start).
func (s *Server) Addr() string {
	if s.rs == nil {
		return ""
	}
	return s.rs.Addr()
}

// Shutdown stops the expiry scan and the listener. It is idempotent; later calls return nil.
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.shutdown.CompareAndSwap(false, true) {
		return nil
	}
	close(s.stop)
	s.wg.Wait()
	var err error
	if s.rs != nil {
		err = s.rs.Shutdown(ctx)
	}
	s.stopController()
	if s.http != nil {
		if herr := s.http.Shutdown(ctx); herr != nil && err == nil {
			err = herr
		}
	}
	s.log.Info("name server stopped")
	if err != nil {
		return fmt.Errorf("namesrv: shutdown: %w", err)
	}
	return nil
}

// scanLoop expires brokers that have not registered for brokerChannelExpiredTime, every
// scanNotActiveBrokerInterval (both re-read each round: UPDATE_NAMESRV_CONFIG may change them).
func (s *Server) scanLoop() {
	defer s.wg.Done()
	for {
		t := time.NewTimer(time.Duration(s.scanInterval.Load()) * time.Millisecond)
		select {
		case <-s.stop:
			t.Stop()
			return
		case <-t.C:
		}
		s.scanNotActive()
	}
}

// kvPrintLoop logs the whole KV config every kvPrintInterval, as RocketMQ's name server does.
func (s *Server) kvPrintLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.kvPrintInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.printKV()
	}
}

func (s *Server) printKV() {
	for _, ns := range s.kv.namespaces() {
		m := s.kv.list(ns)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			s.log.Info("kv config", "namespace", ns, "key", k, "value", m[k])
		}
	}
}

// scanNotActive runs one expiry round and closes the expired brokers' connections, as RocketMQ
// closes their channels.
func (s *Server) scanNotActive() {
	expiry := time.Duration(s.expiredTime.Load()) * time.Millisecond
	for _, rb := range s.table.ScanNotActive(expiry) {
		s.log.Info("broker expired: no registration", "cluster", rb.ClusterName, "broker", rb.BrokerName,
			"brokerId", rb.BrokerID, "addr", rb.BrokerAddr, "lastUpdate", rb.LastUpdate.Format(time.RFC3339Nano),
			"expiry", expiry)
		s.connMu.Lock()
		closeConn := s.conns[rb.ConnKey]
		s.connMu.Unlock()
		if closeConn != nil {
			closeConn()
		}
	}
}

// HTTPAddr returns the address of the HTTP surface ("" when httpPort is 0 or before Start).
func (s *Server) HTTPAddr() string {
	if s.http == nil {
		return ""
	}
	return s.http.Addr()
}

// nodeOnlyCodes are the requests only brokers send; with a cluster secret set they need a node
// signature.
var nodeOnlyCodes = map[int32]bool{
	remoting.RegisterBroker:   true,
	remoting.UnregisterBroker: true,
	remoting.QueryDataVersion: true,
}

func (s *Server) setupSecurity() error {
	secret, err := security.LoadSecret(s.cfg.ClusterSecret, s.cfg.ClusterSecretFile)
	if err != nil {
		return fmt.Errorf("namesrv: %w", err)
	}
	var az *acl.Authorizer
	if s.cfg.AclEnable {
		if az, err = acl.Load(s.cfg.AclFile); err != nil {
			return fmt.Errorf("namesrv: aclEnable = true: %w", err)
		}
		s.log.Info("ACL enabled", "file", s.cfg.AclFile, "accounts", az.Table().Accounts())
	}
	if secret != nil {
		s.log.Info("broker registration needs the cluster secret")
	}
	nodeOnly := maps.Clone(nodeOnlyCodes)
	for _, code := range controller.Codes {
		nodeOnly[code] = true // brokers and other controller nodes only
	}
	s.secret = secret
	s.guard = security.NewGuard(security.GuardConfig{ACL: az, Secret: secret, NodeOnly: nodeOnly,
		Metrics: s.metrics, Logger: s.log, Now: s.cfg.Now})
	return nil
}

// nodeSigner signs the name server's own requests to other nodes (controller forwarding) with the
// cluster secret; nil without one.
func (s *Server) nodeSigner() func(*remoting.Command) {
	if s.secret == nil {
		return nil
	}
	return (&security.Signer{Secret: s.secret, Now: s.cfg.Now}).Sign
}

// authorizer is the remoting hook; nil when nothing is checked.
// It hands the guard the peer's address as the connection parsed it when it opened (AuthorizeFrom),
// as the broker does, so no request parses "ip:port" again.
func (s *Server) authorizer() server.Authorizer {
	g := s.guard
	if g == nil {
		return nil
	}
	return func(c *server.Conn, req *remoting.Command) *remoting.Command {
		if code, remark, ok := g.AuthorizeFrom(c.RemoteAddr(), c.RemoteAddrPort().Addr(), req); !ok {
			return remoting.NewResponse(req, code, remark)
		}
		return nil
	}
}

// aclReloadLoop re-reads the ACL file every aclReloadInterval (owner: the Server).
func (s *Server) aclReloadLoop() {
	defer s.wg.Done()
	t := time.NewTicker(time.Duration(s.cfg.AclReloadInterval) * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.guard.Reload()
		}
	}
}

// CheckHTTPAdmin gates changes made over HTTP (dashboard actions): with aclEnable the Basic
// credentials must be an admin account of aclFile; without ACL every caller may act.
func (s *Server) CheckHTTPAdmin(remote, accessKey, secretKey string) (who string, err error) {
	return s.guard.CheckHTTPAdmin(remote, accessKey, secretKey)
}
