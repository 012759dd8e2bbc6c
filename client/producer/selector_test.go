package producer

import (
	"fmt"
	"hash/fnv"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skiffmq/skiff/client"
)

func mqs(spec ...any) []client.MessageQueue {
	var out []client.MessageQueue
	for i := 0; i < len(spec); i += 2 {
		for q := 0; q < spec[i+1].(int); q++ {
			out = append(out, client.MessageQueue{Topic: "T", BrokerName: spec[i].(string), QueueID: int32(q)})
		}
	}
	return out
}

func TestHashQueueSelectorSameKeySameQueue(t *testing.T) {
	qs := mqs("b1", 4, "b2", 4)
	s1, s2 := HashQueueSelector(), HashQueueSelector()
	for i := range 50 {
		key := fmt.Sprintf("order-%d", i)
		msg := client.NewMessage("T", []byte("x")).WithShardingKey(key)
		first := s1.Select(msg, qs)
		for range 5 {
			if q := s1.Select(msg, qs); q != first {
				t.Fatalf("key %q went to %v then %v", key, first, q)
			}
		}
		if q := s2.Select(msg, qs); q != first {
			t.Fatalf("key %q: another selector chose %v, not %v", key, q, first)
		}
		// Messages without a key in between do not move keyed ones.
		s1.Select(client.NewMessage("T", []byte("x")), qs)
		h := fnv.New32a()
		h.Write([]byte(key))
		if want := qs[h.Sum32()%uint32(len(qs))]; first != want {
			t.Fatalf("key %q went to %v, want %v (fnv-1a modulo the queue count)", key, first, want)
		}
	}
}

func TestHashQueueSelectorSpreadsKeys(t *testing.T) {
	qs := mqs("b1", 4, "b2", 4)
	s := HashQueueSelector()
	hits := map[client.MessageQueue]int{}
	for i := range 800 {
		hits[s.Select(client.NewMessage("T", []byte("x")).WithShardingKey(fmt.Sprintf("k%d", i)), qs)]++
	}
	if len(hits) != len(qs) {
		t.Fatalf("800 keys used %d of %d queues: %v", len(hits), len(qs), hits)
	}
	for q, n := range hits {
		if n < 50 {
			t.Errorf("queue %v got only %d of 800 keys", q, n)
		}
	}
}

func TestHashQueueSelectorEmptyKeyRoundRobin(t *testing.T) {
	qs := mqs("b1", 2, "b2", 1)
	s := HashQueueSelector()
	msg := client.NewMessage("T", []byte("x"))
	for i := range 9 {
		if q := s.Select(msg, qs); q != qs[i%3] {
			t.Fatalf("call %d chose %v, want %v", i, q, qs[i%3])
		}
	}
	// A single queue always wins.
	one := mqs("b1", 1)
	if q := s.Select(msg.WithShardingKey("k"), one); q != one[0] {
		t.Fatalf("single queue: %v", q)
	}
}

func TestQueueSelectorFunc(t *testing.T) {
	qs := mqs("b1", 3)
	var s QueueSelector = QueueSelectorFunc(func(m *client.Message, q []client.MessageQueue) client.MessageQueue { return q[len(q)-1] })
	if got := s.Select(nil, qs); got != qs[2] {
		t.Fatalf("QueueSelectorFunc.Select = %v", got)
	}
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newFakeFaults() (*faults, *fakeClock) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	f := newFaults()
	f.now = clk.now
	return f, clk
}

func TestFaultsFailedAvoidedFor30s(t *testing.T) {
	f, clk := newFakeFaults()
	if !f.available("b1") {
		t.Fatal("unknown broker not available")
	}
	f.record("b1", 10*time.Millisecond, true)
	if f.available("b1") {
		t.Fatal("failed broker available at once")
	}
	if !f.available("b2") {
		t.Fatal("another broker is avoided too")
	}
	clk.advance(30*time.Second - time.Millisecond)
	if f.available("b1") {
		t.Fatal("failed broker available before 30 s")
	}
	clk.advance(time.Millisecond)
	if f.available("b1") {
		t.Fatal("failed broker available at exactly 30 s")
	}
	clk.advance(time.Nanosecond)
	if !f.available("b1") {
		t.Fatal("failed broker still avoided after 30 s")
	}
}

func TestFaultsLatencySteps(t *testing.T) {
	cases := []struct {
		latency time.Duration
		failed  bool
		avoid   time.Duration // 0: available at once
	}{
		{0, false, 0},
		{549 * time.Millisecond, false, 0},
		{550 * time.Millisecond, false, 30 * time.Second},
		{999 * time.Millisecond, false, 30 * time.Second},
		{time.Second, false, 60 * time.Second},
		{2 * time.Second, false, 120 * time.Second},
		{3 * time.Second, false, 180 * time.Second},
		{14 * time.Second, false, 180 * time.Second},
		{15 * time.Second, false, 600 * time.Second},
		{time.Hour, false, 600 * time.Second},
		{time.Millisecond, true, 30 * time.Second},
		{2 * time.Second, true, 120 * time.Second}, // the longer of the two
	}
	for _, c := range cases {
		f, clk := newFakeFaults()
		f.record("b", c.latency, c.failed)
		if c.avoid == 0 {
			if !f.available("b") {
				t.Errorf("latency %v failed %v: avoided, want available", c.latency, c.failed)
			}
			continue
		}
		clk.advance(c.avoid)
		if f.available("b") {
			t.Errorf("latency %v failed %v: available after %v, want avoided until then", c.latency, c.failed, c.avoid)
		}
		clk.advance(time.Nanosecond)
		if !f.available("b") {
			t.Errorf("latency %v failed %v: still avoided after %v", c.latency, c.failed, c.avoid)
		}
	}
}

func TestFaultsFastSendClears(t *testing.T) {
	f, clk := newFakeFaults()
	f.record("b1", 20*time.Second, false)
	clk.advance(time.Second)
	if f.available("b1") {
		t.Fatal("slow broker available")
	}
	f.record("b1", 5*time.Millisecond, false)
	if !f.available("b1") {
		t.Fatal("a fast send did not clear the avoidance")
	}
	// A later failure starts from the clock's current time.
	f.record("b1", 0, true)
	clk.advance(29 * time.Second)
	if f.available("b1") {
		t.Fatal("avoidance measured from the wrong time")
	}
}

func TestPickRoundRobin(t *testing.T) {
	qs := mqs("b1", 2, "b2", 2)
	var n atomic.Uint32
	for i := range 8 {
		if q := pick(qs, &n, nil, ""); q != qs[i%4] {
			t.Fatalf("pick %d = %v, want %v", i, q, qs[i%4])
		}
	}
	f, _ := newFakeFaults()
	n.Store(0)
	for i := range 8 {
		if q := pick(qs, &n, f, ""); q != qs[i%4] {
			t.Fatalf("pick %d with healthy faults = %v, want %v", i, q, qs[i%4])
		}
	}
}

func TestPickSkipsAvoidedAndUnavailable(t *testing.T) {
	qs := mqs("b1", 2, "b2", 2, "b3", 2)
	f, _ := newFakeFaults()
	var n atomic.Uint32
	// The broker that just failed is skipped.
	for range 12 {
		if q := pick(qs, &n, f, "b1"); q.BrokerName == "b1" {
			t.Fatalf("pick chose the avoided broker: %v", q)
		}
	}
	// Unavailable brokers are skipped too.
	f.record("b2", 0, true)
	for range 12 {
		if q := pick(qs, &n, f, "b1"); q.BrokerName != "b3" {
			t.Fatalf("pick = %v, want b3 (b1 avoided, b2 failed)", q)
		}
	}
	seen := map[client.MessageQueue]bool{}
	for range 12 {
		q := pick(qs, &n, f, "")
		if q.BrokerName == "b2" {
			t.Fatalf("pick chose the failed broker b2: %v", q)
		}
		seen[q] = true
	}
	if len(seen) != 4 {
		t.Fatalf("healthy queues used: %v, want all 4 of b1 and b3", seen)
	}
	// Without fault tolerance only the avoided broker is skipped.
	for range 12 {
		if q := pick(qs, &n, nil, "b3"); q.BrokerName == "b3" {
			t.Fatalf("pick without faults chose the avoided broker: %v", q)
		}
	}
}

func TestPickFallsBackWhenAllBad(t *testing.T) {
	qs := mqs("b1", 2, "b2", 2)
	f, _ := newFakeFaults()
	f.record("b1", 0, true)
	f.record("b2", 0, true)
	var n atomic.Uint32
	// Every broker failed: still a queue, and not the one just avoided.
	for range 8 {
		if q := pick(qs, &n, f, "b2"); q.BrokerName != "b1" {
			t.Fatalf("all failed, avoid b2: pick = %v, want b1", q)
		}
	}
	seen := map[client.MessageQueue]bool{}
	for range 8 {
		seen[pick(qs, &n, f, "")] = true
	}
	if len(seen) != 4 {
		t.Fatalf("all failed, nothing avoided: round robin used %v", seen)
	}
	// One broker, and it is the avoided one: it is used anyway.
	one := mqs("b1", 3)
	n.Store(0)
	for i := range 6 {
		if q := pick(one, &n, f, "b1"); q != one[i%3] {
			t.Fatalf("single broker fallback %d = %v, want %v", i, q, one[i%3])
		}
	}
}

// The round-robin counter is a uint32 that keeps counting past 2^31 and wraps at 2^32.
func TestPickCounterNearOverflow(t *testing.T) {
	// On 32-bit platforms int(counter) would be negative from 2^31 on; pick takes the modulo
	// in uint32 first (GOARCH=386 go test runs this on such a platform).
	qs := mqs("b1", 3)
	var n atomic.Uint32
	for _, start := range []uint32{1<<31 - 1, 1 << 31, math.MaxUint32 - 1, math.MaxUint32} {
		n.Store(start)
		if q := pick(qs, &n, nil, ""); q != qs[start%3] {
			t.Fatalf("pick with the counter at %d = %v, want %v", start, q, qs[start%3])
		}
	}
	if n.Load() != 0 {
		t.Fatalf("counter after MaxUint32 = %d, want 0 (wrapped)", n.Load())
	}
}
