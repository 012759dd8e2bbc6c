package ha

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"
)

// helloMagic starts a controller-mode slave's hello ("SKIFHELO"). As an offset it is far past
// any commit-log end, so a master that does not expect a hello refuses the slave instead of
// streaming to it.
const helloMagic uint64 = 0x534B49464845_4C4F

// The hello (controller mode), sent by the slave before its first report:
//
//	offset size field
//	     0    8 helloMagic
//	     8    8 replica id (brokerId ≥ 1)
//	    16    8 the newest master epoch the slave accepted
func (s *Slave) hello(c net.Conn) error {
	var b [24]byte
	binary.BigEndian.PutUint64(b[:], helloMagic)
	binary.BigEndian.PutUint64(b[8:], uint64(s.cfg.ReplicaID))
	var epoch int64
	if s.cfg.Epoch != nil {
		epoch = s.cfg.Epoch()
	}
	binary.BigEndian.PutUint64(b[16:], uint64(epoch))
	_ = c.SetWriteDeadline(time.Now().Add(s.cfg.Housekeeping))
	_, err := c.Write(b[:])
	return err
}

// hello reads the rest of a slave's hello (first is its first 8 bytes) and asks Accept.
func (m *Master) hello(sc *slaveConn, first int64) error {
	if uint64(first) != helloMagic {
		return fmt.Errorf("ha: slave %s sent no hello (offset %d): controller mode needs one", sc.addr, first)
	}
	var b [16]byte
	if _, err := io.ReadFull(sc.c, b[:]); err != nil {
		return fmt.Errorf("ha: read hello: %w", err)
	}
	id, epoch := int64(binary.BigEndian.Uint64(b[:])), int64(binary.BigEndian.Uint64(b[8:]))
	if id < 1 {
		return fmt.Errorf("ha: slave %s introduced itself as replica %d", sc.addr, id)
	}
	if err := m.cfg.Accept(id, epoch); err != nil {
		return err
	}
	m.mu.Lock()
	sc.id = id
	m.mu.Unlock()
	m.log.Info("slave introduced itself", "addr", sc.addr, "replica", id, "epoch", epoch)
	return nil
}

// AckOf is the largest offset replica id acknowledged over its live connections (-1 when it has
// none).
func (m *Master) AckOf(id int64) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	best := int64(-1)
	for sc := range m.conns {
		if sc.id == id {
			best = max(best, sc.ack.Load())
		}
	}
	return best
}

// Acks returns the acknowledged offset of every introduced replica with a live connection.
func (m *Master) Acks() map[int64]int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[int64]int64{}
	for sc := range m.conns {
		if sc.id > 0 {
			if a, ok := out[sc.id]; !ok || sc.ack.Load() > a {
				out[sc.id] = sc.ack.Load()
			}
		}
	}
	return out
}

// WaitFor waits until cond holds, re-checking it after every ack; false when ctx ends first (or
// the master closes) and cond still does not hold.
func (m *Master) WaitFor(ctx context.Context, cond func() bool) bool {
	for {
		m.ackMu.Lock()
		ch := m.ackCh
		m.ackMu.Unlock()
		if cond() {
			return true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return cond()
		case <-m.done:
			return false
		}
	}
}

// DropAll closes every slave connection (the broker stopped being master: nothing more is
// streamed from this log until a slave is accepted again).
func (m *Master) DropAll(why string) {
	m.mu.Lock()
	conns := make([]*slaveConn, 0, len(m.conns))
	for sc := range m.conns {
		conns = append(conns, sc)
	}
	m.mu.Unlock()
	for _, sc := range conns {
		m.drop(sc, why, nil)
	}
}

// broadcast wakes every WaitFor and WaitAck.
func (m *Master) broadcast() {
	m.ackMu.Lock()
	close(m.ackCh)
	m.ackCh = make(chan struct{})
	m.ackMu.Unlock()
}
