package ha

import (
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skiffmq/skiff/internal/auth"
)

// SlaveConfig configures a Slave.
type SlaveConfig struct {
	Store             Store
	HeartbeatInterval time.Duration // haSendHeartbeatInterval, default 5 s
	Housekeeping      time.Duration // haHousekeepingInterval, default 20 s
	RetryInterval     time.Duration // between connection attempts, default 5 s
	Logger            *slog.Logger
	// ReplicaID and Epoch (controller mode) make the slave introduce itself with a hello before
	// its first report, so that the master knows whose acks it gets and refuses a slave that
	// accepted a newer master epoch than its own.
	ReplicaID int64
	Epoch     func() int64
	// Prepare (controller mode) runs before each connection with the configured master address;
	// it checks the master, truncates a divergent local tail and returns the HA address to dial.
	// An error skips this attempt.
	Prepare func(masterAddr string) (haAddr string, err error)
	Secret  []byte      // cluster secret: answer the master's handshake; nil = none
	TLS     *tls.Config // dial the master with TLS; nil = plain TCP
}

// Slave replicates from its master's HA address into its store.
type Slave struct {
	cfg        SlaveConfig
	log        *slog.Logger
	masterAddr atomic.Value // string
	connected  atomic.Bool
	diverged   atomic.Bool
	masterMax  atomic.Int64 // largest offset the master has announced
	lastErr    atomic.Value // string

	mu     sync.Mutex
	conn   net.Conn
	done   chan struct{}
	kick   chan struct{}
	wg     sync.WaitGroup
	closed atomic.Bool
}

// NewSlave returns a slave; Start begins replicating once a master address is known.
func NewSlave(cfg SlaveConfig) *Slave {
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 5 * time.Second
	}
	if cfg.Housekeeping <= 0 {
		cfg.Housekeeping = 20 * time.Second
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = 5 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Slave{cfg: cfg, log: log.With("component", "ha-slave"), done: make(chan struct{}), kick: make(chan struct{}, 1)}
	s.masterAddr.Store("")
	s.lastErr.Store("")
	return s
}

// SetMasterAddr sets (or changes) the master's HA address; a change reconnects.
func (s *Slave) SetMasterAddr(addr string) {
	if old := s.masterAddr.Swap(addr).(string); old != addr {
		s.log.Info("master HA address", "addr", addr, "previous", old)
		s.mu.Lock()
		if s.conn != nil {
			_ = s.conn.Close()
		}
		s.mu.Unlock()
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

// MasterAddr is the current master HA address.
func (s *Slave) MasterAddr() string { return s.masterAddr.Load().(string) }

// Diverged reports whether the master refused this slave because its log holds bytes the
// master does not have. A diverged slave stops replicating until an operator repairs its store
// (delete it and let it copy the master's log again).
func (s *Slave) Diverged() bool { return s.diverged.Load() }

// Connected reports whether the slave is connected to its master.
func (s *Slave) Connected() bool { return s.connected.Load() }

// MasterMaxOffset is the largest commit-log end the master announced (for the lag).
func (s *Slave) MasterMaxOffset() int64 { return s.masterMax.Load() }

// Start runs the connection loop.
func (s *Slave) Start() {
	s.wg.Add(1)
	go s.run()
}

func (s *Slave) run() {
	defer s.wg.Done()
	for {
		if s.diverged.Load() && s.cfg.Prepare == nil {
			select {
			case <-s.done:
				return
			case <-s.kick:
				continue
			}
		}
		if addr := s.MasterAddr(); addr != "" {
			if err := s.session(addr); err != nil && !s.closed.Load() {
				if msg := err.Error(); msg != s.lastErr.Load().(string) {
					s.log.Warn("replication from master stopped; retrying", "master", addr, "err", err)
					s.lastErr.Store(msg)
				}
			}
		}
		select {
		case <-s.done:
			return
		case <-s.kick:
		case <-time.After(s.cfg.RetryInterval):
		}
	}
}

func (s *Slave) report(c net.Conn, off int64) error {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(off))
	_ = c.SetWriteDeadline(time.Now().Add(s.cfg.Housekeeping))
	_, err := c.Write(b[:])
	return err
}

// session replicates over one connection until it fails.
func (s *Slave) session(addr string) error {
	if s.cfg.Prepare != nil {
		ha, err := s.cfg.Prepare(addr)
		if err != nil {
			return err
		}
		s.diverged.Store(false)
		addr = ha
	}
	var c net.Conn
	var err error
	d := &net.Dialer{Timeout: 3 * time.Second}
	if s.cfg.TLS != nil {
		cfg := s.cfg.TLS.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName, _, _ = net.SplitHostPort(addr)
		}
		c, err = tls.DialWithDialer(d, "tcp", addr, cfg)
	} else {
		c, err = d.Dial("tcp", addr)
	}
	if err != nil {
		return fmt.Errorf("ha: connect to master %s: %w", addr, err)
	}
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		c.Close()
		return nil
	}
	s.conn = c
	s.mu.Unlock()
	s.connected.Store(true)
	defer func() {
		s.connected.Store(false)
		s.mu.Lock()
		s.conn = nil
		s.mu.Unlock()
		c.Close()
	}()
	if s.cfg.Secret != nil {
		if err := s.handshake(c); err != nil {
			return fmt.Errorf("ha: authenticate with master %s: %w", addr, err)
		}
	}
	var wmu sync.Mutex
	send := func(off int64) error {
		wmu.Lock()
		defer wmu.Unlock()
		return s.report(c, off)
	}
	if s.cfg.ReplicaID > 0 {
		if err := s.hello(c); err != nil {
			return err
		}
	}
	if err := send(s.cfg.Store.MaxPhyOffset()); err != nil {
		return err
	}
	s.log.Info("replicating from master", "master", addr, "from", s.cfg.Store.MaxPhyOffset())
	s.lastErr.Store("")
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		t := time.NewTicker(s.cfg.HeartbeatInterval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if send(s.cfg.Store.MaxPhyOffset()) != nil {
					return
				}
			}
		}
	}()
	hdr := make([]byte, 12)
	var buf []byte
	for {
		_ = c.SetReadDeadline(time.Now().Add(s.cfg.Housekeeping))
		if _, err := io.ReadFull(c, hdr); err != nil {
			return fmt.Errorf("ha: read from master %s: %w", addr, err)
		}
		off := int64(binary.BigEndian.Uint64(hdr))
		size := int(binary.BigEndian.Uint32(hdr[8:]))
		if off == -1 && size == 0 {
			s.diverged.Store(true)
			s.log.Error("the master refused this slave: its commit log diverged from the master's (it holds bytes the master does not have); "+
				"replication stopped and reads are refused until the store is repaired", "master", addr, "slaveMaxOffset", s.cfg.Store.MaxPhyOffset())
			return fmt.Errorf("ha: commit log diverged from master %s", addr)
		}
		if size < 0 || size > 64<<20 {
			return fmt.Errorf("ha: master %s sent a chunk of %d bytes", addr, size)
		}
		if cap(buf) < size {
			buf = make([]byte, size)
		}
		data := buf[:size]
		if _, err := io.ReadFull(c, data); err != nil {
			return fmt.Errorf("ha: read from master %s: %w", addr, err)
		}
		if off+int64(size) > s.masterMax.Load() {
			s.masterMax.Store(off + int64(size))
		}
		if size == 0 {
			continue
		}
		local := s.cfg.Store.MaxPhyOffset()
		if off != local && local != 0 {
			return fmt.Errorf("ha: master pushed offset %d, not equal to the slave's max offset %d", off, local)
		}
		if err := s.cfg.Store.AppendCommitLog(off, data); err != nil {
			return fmt.Errorf("ha: append replicated bytes at %d: %w", off, err)
		}
		if err := send(s.cfg.Store.MaxPhyOffset()); err != nil {
			return err
		}
	}
}

// handshake answers the master's hello and checks the master's proof before any log byte is
// read, so a master without the secret cannot feed this slave.
func (s *Slave) handshake(c net.Conn) error {
	_ = c.SetDeadline(time.Now().Add(s.cfg.Housekeeping))
	defer func() { _ = c.SetDeadline(time.Time{}) }()
	var hello [auth.HAHelloSize]byte
	if _, err := io.ReadFull(c, hello[:]); err != nil {
		return fmt.Errorf("read hello (does the master have clusterSecret set?): %w", err)
	}
	resp, want, err := auth.HARespond(s.cfg.Secret, hello[:])
	if err != nil {
		return err
	}
	if _, err := c.Write(resp[:]); err != nil {
		return fmt.Errorf("write proof: %w", err)
	}
	var proof [auth.HAProofSize]byte
	if _, err := io.ReadFull(c, proof[:]); err != nil {
		return fmt.Errorf("read the master's proof (wrong clusterSecret?): %w", err)
	}
	return auth.HACheckProof(want, proof[:])
}

// Close stops replication.
func (s *Slave) Close() {
	if !s.closed.CompareAndSwap(false, true) {
		return
	}
	close(s.done)
	s.mu.Lock()
	if s.conn != nil {
		_ = s.conn.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}
