package processor

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/skiffmq/skiff/commitlog"
	"github.com/skiffmq/skiff/internal/message"
)

type memDelayOffsets struct {
	mu sync.Mutex
	m  map[int32]int64
}

func (d *memDelayOffsets) Get(level int32) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.m[level]
}

func (d *memDelayOffsets) Set(level int32, off int64) {
	d.mu.Lock()
	d.m[level] = off
	d.mu.Unlock()
}

// failingStore refuses puts to one topic while fail is set (the delivery's destination).
type failingStore struct {
	*commitlog.Store
	mu    sync.Mutex
	topic string
	fail  bool
}

func (s *failingStore) PutMessage(m *message.Message) commitlog.PutResult {
	s.mu.Lock()
	fail := s.fail && m.Topic == s.topic
	s.mu.Unlock()
	if fail {
		return commitlog.PutResult{Status: commitlog.ServiceNotAvailable, Err: fmt.Errorf("injected failure")}
	}
	return s.Store.PutMessage(m)
}

type schedFixture struct {
	store   *failingStore
	clock   *testClock
	offsets *memDelayOffsets
	w       *Writer
	p       *Schedule
}

func newSchedFixture(t *testing.T) *schedFixture {
	clock := &testClock{t: time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)}
	st := &failingStore{Store: openRealStore(t, t.TempDir(), clock), topic: "T"}
	f := &schedFixture{store: st, clock: clock, offsets: &memDelayOffsets{m: map[int32]int64{}}}
	f.w = &Writer{Store: st, Config: testConfig}
	f.p = &Schedule{Store: st, Writer: f.w, Offsets: f.offsets, Levels: []time.Duration{time.Second, 5 * time.Second},
		StoreHost: netip.MustParseAddrPort("127.0.0.1:10911"), Log: slog.New(slog.DiscardHandler)}
	return f
}

// delayed sends a message of topic T queue 1 with DELAY=level through the send rewrite.
func (f *schedFixture) delayed(t *testing.T, level int, body string) {
	t.Helper()
	m := &message.Message{Topic: "T", QueueID: 1, Body: []byte(body), BornTimestamp: f.clock.Now().UnixMilli(),
		BornHost: netip.MustParseAddrPort("127.0.0.1:5000"), StoreHost: f.p.StoreHost,
		Properties: map[string]string{message.PropertyDelayLevel: strconv.Itoa(level), "KEYS": body}}
	if res := f.w.Write(WriteSend, m); !res.OK() {
		t.Fatalf("store delayed message: %+v", res)
	}
	settle(t, f.store.Store)
}

func TestScheduleDeliversDueMessagesInOrder(t *testing.T) {
	f := newSchedFixture(t)
	f.delayed(t, 1, "a")
	f.delayed(t, 2, "slow")
	f.clock.Advance(500 * time.Millisecond)
	f.delayed(t, 1, "b")
	if failed := f.p.DeliverDue(context.Background(), f.clock.Now(), nil); len(failed) != 0 {
		t.Fatal(failed)
	}
	if got := bodiesIn(t, f.store.Store, "T", 1); len(got) != 0 {
		t.Fatalf("delivered before the delay passed: %v", got)
	}
	f.clock.Advance(600 * time.Millisecond) // a is 1.1 s old, b 0.6 s
	f.p.DeliverDue(context.Background(), f.clock.Now(), nil)
	if got := bodiesIn(t, f.store.Store, "T", 1); fmt.Sprint(got) != "[a]" {
		t.Fatalf("after 1.1 s: %v, want [a]", got)
	}
	f.clock.Advance(time.Second)
	f.p.DeliverDue(context.Background(), f.clock.Now(), nil)
	f.p.DeliverDue(context.Background(), f.clock.Now(), nil) // nothing new: no second copy
	if got := bodiesIn(t, f.store.Store, "T", 1); fmt.Sprint(got) != "[a b]" {
		t.Fatalf("after 2.1 s: %v, want [a b]", got)
	}
	f.clock.Advance(3 * time.Second) // slow is 5.1 s old
	f.p.DeliverDue(context.Background(), f.clock.Now(), func(level int) bool { return level == 2 })
	if got := bodiesIn(t, f.store.Store, "T", 1); len(got) != 2 {
		t.Fatalf("a skipped level delivered: %v", got)
	}
	f.p.DeliverDue(context.Background(), f.clock.Now(), nil)
	if got := bodiesIn(t, f.store.Store, "T", 1); fmt.Sprint(got) != "[a b slow]" {
		t.Fatalf("after 5.1 s: %v", got)
	}
	res := f.store.GetMessage("T", 1, 0, 1, nil)
	m, _ := message.Decode(res.Messages[0], false)
	for _, k := range []string{message.PropertyDelayLevel, message.PropertyRealTopic, message.PropertyRealQueueID} {
		if _, ok := m.Properties[k]; ok {
			t.Errorf("delivered message keeps %s: %v", k, m.Properties)
		}
	}
	if m.Properties["KEYS"] != "a" {
		t.Errorf("delivered message lost its keys: %v", m.Properties)
	}
	if f.offsets.Get(1) != 2 || f.offsets.Get(2) != 1 {
		t.Fatalf("delay offsets: %v", f.offsets.m)
	}
	if err := f.p.DeliverLevel(context.Background(), 3, f.clock.Now()); err == nil {
		t.Fatal("level 3 of 2 accepted")
	}
}

func TestScheduleFailedDeliveryIsRetriedNotLost(t *testing.T) {
	f := newSchedFixture(t)
	f.delayed(t, 1, "a")
	f.delayed(t, 1, "b")
	f.clock.Advance(2 * time.Second)
	f.store.mu.Lock()
	f.store.fail = true
	f.store.mu.Unlock()
	failed := f.p.DeliverDue(context.Background(), f.clock.Now(), nil)
	if failed[1] == nil {
		t.Fatalf("a failed delivery was not reported: %v", failed)
	}
	if off := f.offsets.Get(1); off != 0 {
		t.Fatalf("delay offset moved to %d past an undelivered message", off)
	}
	f.store.mu.Lock()
	f.store.fail = false
	f.store.mu.Unlock()
	if failed := f.p.DeliverDue(context.Background(), f.clock.Now(), nil); len(failed) != 0 {
		t.Fatal(failed)
	}
	if got := bodiesIn(t, f.store.Store, "T", 1); fmt.Sprint(got) != "[a b]" {
		t.Fatalf("after the retry: %v, want [a b]", got)
	}
}

// A delivery the in-sync replicas did not take (controller mode) does not move the offset.
func TestScheduleDeliveryWaitsForTheReplicasWhenFenced(t *testing.T) {
	f := newSchedFixture(t)
	rep := &fakeReplicator{status: ReplicaTimeout}
	f.w.Replicator = func() Replicator { return rep }
	f.w.FenceInternal = func() bool { return true }
	f.delayed(t, 1, "a")
	f.clock.Advance(2 * time.Second)
	if failed := f.p.DeliverDue(context.Background(), f.clock.Now(), nil); failed[1] == nil {
		t.Fatal("a delivery the replicas lack was reported delivered")
	}
	if f.offsets.Get(1) != 0 || rep.waits == 0 {
		t.Fatalf("offset %d, replica waits %d", f.offsets.Get(1), rep.waits)
	}
	rep.status = ReplicaOK
	if failed := f.p.DeliverDue(context.Background(), f.clock.Now(), nil); len(failed) != 0 {
		t.Fatal(failed)
	}
	if f.offsets.Get(1) != 1 {
		t.Fatalf("offset after the replicas took it: %d", f.offsets.Get(1))
	}
}
