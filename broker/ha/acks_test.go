package ha

import (
	"encoding/binary"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skiffmq/skiff/commitlog"
)

// fakeSlave speaks the slave's side of the HA protocol by hand: it receives what the master
// streams and acknowledges only what the test tells it to.
type fakeSlave struct {
	c   net.Conn
	got atomic.Int64 // end of the bytes received
}

// dialFakeSlave connects to the master at addr and requests replication from offset 0; with
// id > 0 it first introduces itself as that replica (controller mode's hello).
func dialFakeSlave(t *testing.T, addr string, id int64) *fakeSlave {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s := &fakeSlave{c: c}
	if id > 0 {
		var b [24]byte
		binary.BigEndian.PutUint64(b[:], helloMagic)
		binary.BigEndian.PutUint64(b[8:], uint64(id))
		if _, err := c.Write(b[:]); err != nil {
			t.Fatal(err)
		}
	}
	s.report(t, 0)
	go func() {
		hdr := make([]byte, 12)
		for {
			if _, err := io.ReadFull(c, hdr); err != nil {
				return
			}
			off, n := int64(binary.BigEndian.Uint64(hdr)), int64(binary.BigEndian.Uint32(hdr[8:]))
			if _, err := io.CopyN(io.Discard, c, n); err != nil {
				return
			}
			s.got.Store(off + n)
		}
	}()
	return s
}

func (s *fakeSlave) report(t *testing.T, off int64) {
	t.Helper()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(off))
	if _, err := s.c.Write(b[:]); err != nil {
		t.Fatal(err)
	}
}

// startMaster starts a master on store with the given ack timeout (ticker period a tenth).
func startMaster(t *testing.T, st *commitlog.Store, ackTimeout time.Duration, accept func(id, epoch int64) error) *Master {
	t.Helper()
	m := NewMaster(MasterConfig{Addr: "127.0.0.1:0", Store: st, AckTimeout: ackTimeout, Accept: accept})
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// answers records the callbacks' outcomes in the order they ran.
type answers struct {
	mu  sync.Mutex
	ids []int
	sts []AckStatus
}

func (a *answers) cb(i int) func(AckStatus) {
	return func(st AckStatus) {
		a.mu.Lock()
		a.ids = append(a.ids, i)
		a.sts = append(a.sts, st)
		a.mu.Unlock()
	}
}

func (a *answers) snapshot() ([]int, []AckStatus) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]int(nil), a.ids...), append([]AckStatus(nil), a.sts...)
}

func (a *answers) count() int { ids, _ := a.snapshot(); return len(ids) }

// TestAfterAckAnswersInOrderOnlyAfterTheCoveringAck: writes waiting for an ack are answered
// only once a slave acknowledged their end offset, in offset order (registered out of order),
// and no goroutine exists per waiting write.
func TestAfterAckAnswersInOrderOnlyAfterTheCoveringAck(t *testing.T) {
	st := openStore(t)
	const n = 200
	ends := make([]int64, n)
	for i := range ends {
		ends[i] = put(t, st, 1, "w")
	}
	m := startMaster(t, st, 10*time.Second, nil)
	s := dialFakeSlave(t, m.Addr(), 0)
	waitFor(t, "the slave to receive the log", func() bool { return s.got.Load() == ends[n-1] })
	var a answers
	before := runtime.NumGoroutine()
	// Registered in a shuffled order: the answers still come in offset order.
	for k := range n {
		i := (k * 7) % n
		if deferred, st := m.AfterAck(AckWait{Offset: ends[i], Timeout: 10 * time.Second}, a.cb(i)); !deferred {
			t.Fatalf("write %d not deferred (%v) before any ack", i, st)
		}
	}
	if g := runtime.NumGoroutine(); g > before+5 {
		t.Fatalf("%d goroutines for %d waiting writes (before: %d)", g, n, before)
	}
	time.Sleep(50 * time.Millisecond)
	if c := a.count(); c != 0 || m.PendingAcks() != n {
		t.Fatalf("answered %d, pending %d before any ack", c, m.PendingAcks())
	}
	// An ack that covers the first 60 writes and half of the 61st record answers exactly those.
	s.report(t, ends[59]+(ends[60]-ends[59])/2)
	waitFor(t, "60 answers", func() bool { return a.count() >= 60 })
	time.Sleep(50 * time.Millisecond)
	ids, sts := a.snapshot()
	if len(ids) != 60 {
		t.Fatalf("an ack covering 60 writes answered %d", len(ids))
	}
	s.report(t, ends[n-1])
	waitFor(t, "every answer", func() bool { return a.count() == n })
	ids, sts = a.snapshot()
	for k := range n {
		if ids[k] != k || sts[k] != AckOK {
			t.Fatalf("answer %d: write %d status %v, want write %d ok (offset order)", k, ids[k], sts[k], k)
		}
	}
	if m.PendingAcks() != 0 {
		t.Fatalf("pending %d after the last ack", m.PendingAcks())
	}
	// Already covered: answered at once, never deferred.
	if deferred, st := m.AfterAck(AckWait{Offset: ends[10], Timeout: time.Second}, a.cb(-1)); deferred || st != AckOK {
		t.Fatalf("covered write: deferred=%v %v", deferred, st)
	}
}

// TestAfterAckTimesOut: without an ack a waiting write is answered AckTimeout after its
// timeout (never AckOK), and a later ack does not answer it twice.
func TestAfterAckTimesOut(t *testing.T) {
	st := openStore(t)
	end := put(t, st, 3, "t")
	m := startMaster(t, st, 50*time.Millisecond, nil)
	s := dialFakeSlave(t, m.Addr(), 0)
	waitFor(t, "the slave to receive the log", func() bool { return s.got.Load() == end })
	var a answers
	t0 := time.Now()
	m.AfterAck(AckWait{Offset: end, Timeout: 50 * time.Millisecond}, a.cb(0))
	m.AfterAck(AckWait{Offset: end, Timeout: 10 * time.Second}, a.cb(1))
	waitFor(t, "the timeout answer", func() bool { return a.count() == 1 })
	if el := time.Since(t0); el < 50*time.Millisecond {
		t.Fatalf("timed out after %v, before its 50 ms", el)
	}
	s.report(t, end)
	waitFor(t, "the ack answer", func() bool { return a.count() == 2 })
	time.Sleep(20 * time.Millisecond)
	ids, sts := a.snapshot()
	if len(ids) != 2 || ids[0] != 0 || sts[0] != AckTimeout || ids[1] != 1 || sts[1] != AckOK {
		t.Fatalf("answers %v %v, want write 0 timeout then write 1 ok", ids, sts)
	}
}

// TestAfterAckCloseAnswersTheRest: Close answers every waiting write AckClosed, and a write
// registered after Close is refused at once.
func TestAfterAckCloseAnswersTheRest(t *testing.T) {
	st := openStore(t)
	end := put(t, st, 3, "c")
	m := startMaster(t, st, 10*time.Second, nil)
	s := dialFakeSlave(t, m.Addr(), 0)
	waitFor(t, "the slave to receive the log", func() bool { return s.got.Load() == end })
	var a answers
	for i := range 10 {
		m.AfterAck(AckWait{Offset: end - int64(10-i), Timeout: 10 * time.Second}, a.cb(i))
	}
	m.Close()
	ids, sts := a.snapshot()
	if len(ids) != 10 {
		t.Fatalf("Close answered %d of 10", len(ids))
	}
	for k := range ids {
		if ids[k] != k || sts[k] != AckClosed {
			t.Fatalf("answer %d: write %d %v, want AckClosed in order", k, ids[k], sts[k])
		}
	}
	if deferred, st := m.AfterAck(AckWait{Offset: end, Timeout: time.Second}, a.cb(99)); deferred || st != AckClosed {
		t.Fatalf("after Close: deferred=%v %v", deferred, st)
	}
}

// TestAfterAckQuorum: with replica ids (controller mode) only the acks of those replicas count,
// Need of them; an ack of another replica (or a larger ack of one) does not answer.
func TestAfterAckQuorum(t *testing.T) {
	st := openStore(t)
	end := put(t, st, 5, "q")
	m := startMaster(t, st, 10*time.Second, func(int64, int64) error { return nil })
	s2, s3, s4 := dialFakeSlave(t, m.Addr(), 2), dialFakeSlave(t, m.Addr(), 3), dialFakeSlave(t, m.Addr(), 4)
	for _, s := range []*fakeSlave{s2, s3, s4} {
		waitFor(t, "the slaves to receive the log", func() bool { return s.got.Load() == end })
	}
	var a answers
	m.AfterAck(AckWait{Offset: end, Replicas: []int64{2, 3}, Need: 2, Timeout: 10 * time.Second}, a.cb(0))
	m.AfterAck(AckWait{Offset: end - 1, Replicas: []int64{3}, Need: 1, Timeout: 10 * time.Second}, a.cb(1))
	s4.report(t, end) // not in either set
	s2.report(t, end) // one of two
	waitFor(t, "the acks to arrive", func() bool { return m.AckOf(2) == end && m.AckOf(4) == end })
	time.Sleep(50 * time.Millisecond)
	if c := a.count(); c != 0 {
		t.Fatalf("%d answers before replica 3 acknowledged", c)
	}
	s3.report(t, end)
	waitFor(t, "both answers", func() bool { return a.count() == 2 })
	ids, sts := a.snapshot()
	if ids[0] != 1 || ids[1] != 0 || sts[0] != AckOK || sts[1] != AckOK {
		t.Fatalf("answers %v %v, want writes 1 then 0 (offset order), ok", ids, sts)
	}
}
