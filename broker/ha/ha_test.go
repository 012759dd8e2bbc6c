package ha

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/skiffmq/skiff/commitlog"
	"github.com/skiffmq/skiff/internal/message"
)

func openStore(t *testing.T) *commitlog.Store {
	t.Helper()
	c := commitlog.DefaultConfig(t.TempDir())
	c.MappedFileSizeCommitLog = 128 << 10
	c.MappedFileSizeConsumeQueue = 2000
	c.MaxHashSlotNum, c.MaxIndexNum = 1000, 4000
	s, err := commitlog.Open(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func put(t *testing.T, s *commitlog.Store, n int, tag string) int64 {
	t.Helper()
	var end int64
	for i := 0; i < n; i++ {
		m := &message.Message{Topic: "HA", QueueID: int32(i % 2), Body: []byte(fmt.Sprintf("%s-%d-%0400d", tag, i, 0)),
			BornHost: netip.MustParseAddrPort("127.0.0.1:1"), StoreHost: netip.MustParseAddrPort("127.0.0.1:2")}
		r := s.PutMessage(m)
		if r.Status != commitlog.PutOK {
			t.Fatalf("put: %+v", r)
		}
		end = r.EndOffset
	}
	return end
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestHASlaveCatchesUpAndFollows(t *testing.T) {
	ms := openStore(t)
	put(t, ms, 1000, "before") // several segments before the slave exists
	m := NewMaster(MasterConfig{Addr: "127.0.0.1:0", Store: ms, SegmentSize: 128 << 10, HeartbeatInterval: 200 * time.Millisecond})
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ss := openStore(t)
	s := NewSlave(SlaveConfig{Store: ss, HeartbeatInterval: 200 * time.Millisecond, RetryInterval: 100 * time.Millisecond})
	s.SetMasterAddr(m.Addr())
	s.Start()
	defer s.Close()
	waitFor(t, "initial catch-up", func() bool { return ss.MaxPhyOffset() == ms.MaxPhyOffset() })
	if ss.MinPhyOffset() != ms.MinPhyOffset() {
		t.Fatalf("an empty slave starts at %d, want the master's min offset %d (the whole log)", ss.MinPhyOffset(), ms.MinPhyOffset())
	}
	// The master keeps serving while the slave follows; a SYNC_MASTER-style wait sees the ack.
	end := put(t, ms, 200, "after")
	m.Wake()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if !m.WaitAck(ctx, end) {
		t.Fatalf("no ack for offset %d (pushMax %d)", end, m.PushMax())
	}
	if !m.SlaveOK(end, 256<<20) || len(m.Slaves()) != 1 {
		t.Fatalf("slave not reported healthy: %+v", m.Slaves())
	}
	ss.WaitDispatched(ss.MaxPhyOffset(), 5*time.Second)
	ms.WaitDispatched(ms.MaxPhyOffset(), 5*time.Second)
	for q := int32(0); q < 2; q++ {
		if ss.MaxOffsetInQueue("HA", q) != ms.MaxOffsetInQueue("HA", q) {
			t.Fatalf("queue %d: slave max %d, master max %d", q, ss.MaxOffsetInQueue("HA", q), ms.MaxOffsetInQueue("HA", q))
		}
		last := ms.MaxOffsetInQueue("HA", q) - 1
		a := ms.GetMessage("HA", q, last, 1, nil)
		b := ss.GetMessage("HA", q, last, 1, nil)
		if a.Status != commitlog.Found || b.Status != commitlog.Found || string(a.Messages[0]) != string(b.Messages[0]) {
			t.Fatalf("queue %d offset %d differs between master and slave", q, last)
		}
	}
}

func TestHAWaitAckTimesOutWithoutSlave(t *testing.T) {
	ms := openStore(t)
	m := NewMaster(MasterConfig{Addr: "127.0.0.1:0", Store: ms, SegmentSize: 128 << 10})
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	end := put(t, ms, 3, "x")
	if m.SlaveOK(end, 256<<20) {
		t.Fatal("SlaveOK without any slave")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if m.WaitAck(ctx, end) {
		t.Fatal("WaitAck succeeded without any slave")
	}
}

func TestHADivergedSlaveIsRefused(t *testing.T) {
	ms := openStore(t)
	put(t, ms, 5, "m")
	m := NewMaster(MasterConfig{Addr: "127.0.0.1:0", Store: ms, SegmentSize: 128 << 10})
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ss := openStore(t)
	put(t, ss, 50, "s") // the slave holds more than the master: diverged
	s := NewSlave(SlaveConfig{Store: ss, RetryInterval: 50 * time.Millisecond})
	s.SetMasterAddr(m.Addr())
	s.Start()
	defer s.Close()
	before := ss.MaxPhyOffset()
	waitFor(t, "the slave refused and told why", func() bool { return s.Diverged() && len(m.Slaves()) == 0 })
	// A diverged slave stops its sessions (until an operator repairs the store), so this is final:
	// it was refused before a byte arrived.
	if ss.MaxPhyOffset() != before {
		t.Fatalf("diverged slave appended: end %d→%d", before, ss.MaxPhyOffset())
	}
}
