package ha

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
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skiffmq/skiff/internal/auth"
)

// Store is what replication needs from the commit log.
type Store interface {
	MinPhyOffset() int64
	MaxPhyOffset() int64
	ReadCommitLog(offset int64, maxBytes int) ([]byte, error)
	AppendCommitLog(offset int64, data []byte) error
}

// MasterConfig configures a Master.
type MasterConfig struct {
	Addr              string        // listen address (brokerIP:haListenPort)
	Store             Store         //
	SegmentSize       int64         // mappedFileSizeCommitLog
	BatchSize         int           // haTransferBatchSize, default 32 KiB
	HeartbeatInterval time.Duration // haSendHeartbeatInterval, default 5 s
	Housekeeping      time.Duration // haHousekeepingInterval, default 20 s
	Logger            *slog.Logger
	// Accept, when set (controller mode), is asked about every slave that introduces itself
	// with a hello (replica id and the master epoch it accepted); an error refuses the slave.
	// Slaves without a hello are refused too when Accept is set.
	Accept func(replicaID, epoch int64) error
	// Secret, when set, makes every slave prove it knows the cluster secret before it receives a
	// byte of the log (handshake in package auth); nil keeps RocketMQ's unauthenticated protocol.
	Secret []byte
	// HandshakeTimeout bounds the handshake; default 10 s.
	HandshakeTimeout time.Duration
	// TLS, when set, serves slaves over TLS: with TLSPermissive false only TLS (tlsServerMode
	// enforcing); with it true TLS and plain TCP (permissive): a connection whose first byte,
	// within permissiveSniff, is 0x16 (a TLS ClientHello) is TLS, any other first byte or none
	// (a slave waiting for the handshake hello) is plain.
	TLS           *tls.Config
	TLSPermissive bool
	// AckTimeout is the usual timeout of a write waiting for a slave's ack (the broker's
	// slaveTimeout); it sets the period of the one ticker that answers timed-out waiters
	// (AfterAck). Default 3 s.
	AckTimeout time.Duration
}

// SlaveInfo describes one connected slave.
type SlaveInfo struct {
	Addr      string
	AckOffset int64
}

// Master serves the commit log to slaves and tracks what they acknowledged.
type Master struct {
	cfg MasterConfig
	log *slog.Logger
	ln  net.Listener

	mu    sync.Mutex
	conns map[*slaveConn]struct{}

	pushMax atomic.Int64  // largest offset acknowledged by any slave
	ackCh   chan struct{} // closed and replaced on every ack (broadcast)
	ackMu   sync.Mutex

	// Writes waiting for a slave's ack (acks.go).
	waitMu        sync.Mutex
	waiters       []ackWaiter // sorted by offset
	readyAcks     []readyAck  // released, to be answered by ackLoop in this order
	acksClosed    bool        // Close answered the last waiters: no new ones
	quorumWaiters int         // waiters with a replica quorum (controller mode)
	waiting       atomic.Int64
	ackWake       chan struct{}
	epoch         time.Time // monotonic base of waiter deadlines

	wake   chan struct{}
	done   chan struct{}
	wg     sync.WaitGroup
	closed atomic.Bool
}

type slaveConn struct {
	c     net.Conn // the accepted connection (closed by drop)
	rw    net.Conn // what serve, handshake and write use: c, or c in TLS after sniffing; set before the writer starts
	addr  string
	id    int64 // replica id from the hello (controller mode), 0 without one
	ack   atomic.Int64
	wake  chan struct{}
	close sync.Once
}

// NewMaster returns a master; Start listens.
func NewMaster(cfg MasterConfig) *Master {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 32 << 10
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 5 * time.Second
	}
	if cfg.Housekeeping <= 0 {
		cfg.Housekeeping = 20 * time.Second
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 10 * time.Second
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = 3 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Master{cfg: cfg, log: log.With("component", "ha-master"), conns: map[*slaveConn]struct{}{},
		ackCh: make(chan struct{}), wake: make(chan struct{}, 1), done: make(chan struct{}),
		ackWake: make(chan struct{}, 1), epoch: time.Now()}
}

// Start listens on cfg.Addr and accepts slaves.
func (m *Master) Start() error {
	ln, err := net.Listen("tcp", m.cfg.Addr)
	if err != nil {
		return fmt.Errorf("ha: listen on %s: %w", m.cfg.Addr, err)
	}
	if m.cfg.TLS != nil && !m.cfg.TLSPermissive {
		ln = tls.NewListener(ln, m.cfg.TLS)
	}
	m.ln = ln
	m.wg.Add(2)
	go m.accept()
	go m.ackLoop()
	m.log.Info("HA master listening", "addr", ln.Addr().String())
	return nil
}

// Addr is the bound address.
func (m *Master) Addr() string { return m.ln.Addr().String() }

func (m *Master) accept() {
	defer m.wg.Done()
	for {
		c, err := m.ln.Accept()
		if err != nil {
			if m.closed.Load() {
				return
			}
			m.log.Warn("HA accept failed", "err", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		sc := &slaveConn{c: c, rw: c, addr: c.RemoteAddr().String(), wake: make(chan struct{}, 1)}
		sc.ack.Store(-1)
		m.mu.Lock()
		m.conns[sc] = struct{}{}
		m.mu.Unlock()
		m.log.Info("slave connected", "addr", sc.addr, "authenticated", m.cfg.Secret != nil)
		m.wg.Add(1)
		go m.serve(sc)
	}
}

// Wake tells the writers that new data was appended.
func (m *Master) Wake() {
	m.mu.Lock()
	for sc := range m.conns {
		select {
		case sc.wake <- struct{}{}:
		default:
		}
	}
	m.mu.Unlock()
}

func (m *Master) drop(sc *slaveConn, why string, err error) {
	sc.close.Do(func() {
		_ = sc.c.Close()
		m.mu.Lock()
		delete(m.conns, sc)
		m.mu.Unlock()
		if err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) {
			m.log.Warn("slave disconnected", "addr", sc.addr, "reason", why, "err", err)
		} else {
			m.log.Info("slave disconnected", "addr", sc.addr, "reason", why)
		}
	})
}

// serve reads the slave's reports; after the first one it starts the writer.
// permissiveSniff is how long a permissive HA listener waits for a TLS ClientHello.
const permissiveSniff = 300 * time.Millisecond

// sniffedConn replays the byte read while sniffing.
type sniffedConn struct {
	net.Conn
	r *bufio.Reader
}

func (s *sniffedConn) Read(p []byte) (int, error) { return s.r.Read(p) }

// settle decides plain or TLS for a permissive listener (see MasterConfig.TLS).
func (m *Master) settle(sc *slaveConn) {
	br := bufio.NewReader(sc.c)
	_ = sc.c.SetReadDeadline(time.Now().Add(permissiveSniff))
	first, err := br.Peek(1)
	_ = sc.c.SetReadDeadline(time.Time{})
	conn := net.Conn(&sniffedConn{Conn: sc.c, r: br})
	if err == nil && first[0] == 0x16 {
		conn = tls.Server(conn, m.cfg.TLS)
	}
	sc.rw = conn
}

func (m *Master) serve(sc *slaveConn) {
	defer m.wg.Done()
	if m.cfg.TLS != nil && m.cfg.TLSPermissive {
		m.settle(sc)
	}
	if m.cfg.Secret != nil {
		if err := m.handshake(sc); err != nil {
			m.log.Warn("HA peer refused: it did not prove the cluster secret; nothing of the log was sent", "addr", sc.addr, "err", err)
			m.drop(sc, "authentication failed", nil)
			return
		}
	}
	var buf [8]byte
	first := true
	for {
		_ = sc.rw.SetReadDeadline(time.Now().Add(m.cfg.Housekeeping))
		if _, err := io.ReadFull(sc.rw, buf[:]); err != nil {
			m.drop(sc, "read report", err)
			return
		}
		off := int64(binary.BigEndian.Uint64(buf[:]))
		if first && m.cfg.Accept != nil && sc.id == 0 {
			if err := m.hello(sc, off); err != nil {
				m.drop(sc, "refused", err)
				return
			}
			continue
		}
		end := m.cfg.Store.MaxPhyOffset()
		if off > end || off < 0 {
			m.log.Error("slave reports an offset past the master's end: its commit log diverged from the master's; refusing it",
				"addr", sc.addr, "slaveOffset", off, "masterMaxOffset", end)
			// Tell a Skiff slave why (offset -1, size 0); a RocketMQ slave just sees a bad offset.
			var sig [12]byte
			binary.BigEndian.PutUint64(sig[:], ^uint64(0))
			_ = sc.rw.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = sc.rw.Write(sig[:])
			m.drop(sc, "diverged", nil)
			return
		}
		if first {
			first = false
			start := off
			if start == 0 {
				// An empty slave gets the whole retained log (RocketMQ starts it at the
				// master's last segment; Skiff replicates everything so that a consumer
				// that moves to the slave finds every message the master still keeps).
				start = m.cfg.Store.MinPhyOffset()
			}
			m.log.Info("slave requests replication", "addr", sc.addr, "slaveOffset", off, "from", start)
			m.wg.Add(1)
			go m.write(sc, start)
			continue
		}
		sc.ack.Store(off)
		m.raisePushMax(off)
		if m.cfg.Accept != nil {
			m.broadcast() // waits on a particular replica's ack (controller mode)
		}
		m.wakeAcks()
	}
}

// handshake runs the master's side of the HA handshake (package auth): hello, the slave's proof,
// the master's proof. Nothing else is written before the slave's proof verified.
func (m *Master) handshake(sc *slaveConn) error {
	deadline := time.Now().Add(m.cfg.HandshakeTimeout)
	_ = sc.rw.SetDeadline(deadline)
	defer func() { _ = sc.rw.SetDeadline(time.Time{}) }()
	hello := auth.NewHAHello()
	if _, err := sc.rw.Write(hello.Bytes[:]); err != nil {
		return fmt.Errorf("write hello: %w", err)
	}
	var resp [auth.HAResponseSize]byte
	if _, err := io.ReadFull(sc.rw, resp[:]); err != nil {
		return fmt.Errorf("read proof: %w", err)
	}
	proof, err := hello.Verify(m.cfg.Secret, resp[:])
	if err != nil {
		return err
	}
	if _, err := sc.rw.Write(proof[:]); err != nil {
		return fmt.Errorf("write proof: %w", err)
	}
	return nil
}

func (m *Master) raisePushMax(off int64) {
	for {
		cur := m.pushMax.Load()
		if off <= cur {
			return
		}
		if m.pushMax.CompareAndSwap(cur, off) {
			m.ackMu.Lock()
			close(m.ackCh)
			m.ackCh = make(chan struct{})
			m.ackMu.Unlock()
			return
		}
	}
}

// write streams commit-log bytes from off to the slave.
func (m *Master) write(sc *slaveConn, off int64) {
	defer m.wg.Done()
	hb := time.NewTicker(m.cfg.HeartbeatInterval)
	defer hb.Stop()
	hdr := make([]byte, 12)
	for {
		data, err := m.cfg.Store.ReadCommitLog(off, m.cfg.BatchSize)
		if err != nil {
			m.drop(sc, "read commit log", err)
			return
		}
		if len(data) == 0 {
			select {
			case <-m.done:
				m.drop(sc, "master stopping", nil)
				return
			case <-sc.wake:
				continue
			case <-hb.C:
			case <-time.After(100 * time.Millisecond):
				continue
			}
		}
		binary.BigEndian.PutUint64(hdr, uint64(off))
		binary.BigEndian.PutUint32(hdr[8:], uint32(len(data)))
		_ = sc.rw.SetWriteDeadline(time.Now().Add(m.cfg.Housekeeping))
		if _, err := (&net.Buffers{hdr, data}).WriteTo(sc.rw); err != nil {
			m.drop(sc, "write", err)
			return
		}
		off += int64(len(data))
	}
}

// Slaves lists the connected slaves that have sent at least one ack.
func (m *Master) Slaves() []SlaveInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]SlaveInfo, 0, len(m.conns))
	for sc := range m.conns {
		out = append(out, SlaveInfo{Addr: sc.addr, AckOffset: sc.ack.Load()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr < out[j].Addr })
	return out
}

// SlaveOK reports whether a slave is connected and less than fallBehindMax bytes behind end.
func (m *Master) SlaveOK(end, fallBehindMax int64) bool {
	m.mu.Lock()
	n := len(m.conns)
	m.mu.Unlock()
	return n > 0 && end-m.pushMax.Load() < fallBehindMax
}

// PushMax is the largest offset any slave acknowledged.
func (m *Master) PushMax() int64 { return m.pushMax.Load() }

// WaitAck waits until some slave acknowledged offset, or ctx ends (then false). It parks the
// caller; the broker's writes use AfterAck instead.
func (m *Master) WaitAck(ctx context.Context, offset int64) bool {
	for {
		m.ackMu.Lock()
		ch := m.ackCh
		m.ackMu.Unlock()
		if m.pushMax.Load() >= offset {
			return true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return m.pushMax.Load() >= offset
		case <-m.done:
			return false
		}
	}
}

// Close stops accepting, closes every slave connection and answers the writes still waiting
// for an ack (AckClosed unless covered).
func (m *Master) Close() {
	if !m.closed.CompareAndSwap(false, true) {
		return
	}
	close(m.done)
	if m.ln != nil {
		_ = m.ln.Close()
	}
	m.mu.Lock()
	conns := make([]*slaveConn, 0, len(m.conns))
	for sc := range m.conns {
		conns = append(conns, sc)
	}
	m.mu.Unlock()
	for _, sc := range conns {
		m.drop(sc, "master stopping", nil)
	}
	m.wg.Wait()
	m.closeAcks()
}
