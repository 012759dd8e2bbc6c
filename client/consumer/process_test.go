package consumer

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/skiffmq/skiff/client"
)

func exts(offsets ...int64) []*client.MessageExt {
	out := make([]*client.MessageExt, len(offsets))
	for i, o := range offsets {
		out[i] = &client.MessageExt{QueueOffset: o}
	}
	return out
}

func TestProcessQueueRemove(t *testing.T) {
	pq := newProcessQueue(mqA)
	if off := pq.remove(nil); off != -1 {
		t.Fatalf("remove on a fresh queue = %d, want -1 (nothing pulled)", off)
	}
	pq.add(exts(10, 11, 12, 13))
	if pq.count() != 4 {
		t.Fatalf("count = %d", pq.count())
	}
	steps := []struct {
		remove []int64
		want   int64
	}{
		{[]int64{12}, 10},     // 10 still in flight
		{[]int64{10}, 11},     // lowest in flight
		{[]int64{99}, 11},     // unknown offsets change nothing
		{[]int64{13, 11}, 14}, // nothing left: after the highest pulled
		{nil, 14},
	}
	for _, s := range steps {
		if got := pq.remove(exts(s.remove...)); got != s.want {
			t.Fatalf("remove(%v) = %d, want %d", s.remove, got, s.want)
		}
	}
	if pq.count() != 0 {
		t.Fatalf("count = %d after removing everything", pq.count())
	}
	// Pulled out of order, and an older batch again: maxSeen only grows.
	pq.add(exts(20, 18))
	pq.add(exts(15))
	if got := pq.remove(exts(20)); got != 15 {
		t.Fatalf("remove(20) = %d, want 15", got)
	}
	if got := pq.remove(exts(15, 18)); got != 21 {
		t.Fatalf("remove(15, 18) = %d, want 21", got)
	}
}

func TestProcessQueueDropAndLock(t *testing.T) {
	pq := newProcessQueue(mqA)
	if pq.lockValid() {
		t.Fatal("a new queue has a valid lock")
	}
	pq.setLocked(true)
	if !pq.lockValid() {
		t.Fatal("lock not valid after setLocked(true)")
	}
	pq.setLocked(false)
	if pq.lockValid() {
		t.Fatal("lock valid after setLocked(false)")
	}
	if pq.dropped.Load() || pq.ctx.Err() != nil {
		t.Fatal("new queue dropped")
	}
	pq.drop()
	if !pq.dropped.Load() || pq.ctx.Err() == nil {
		t.Fatal("drop did not mark the queue and cancel its context")
	}
}

// TestOffsetHeapOrder pushes offsets in random, increasing and decreasing order and pops them:
// always the smallest left, as a sorted copy says.
func TestOffsetHeapOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		n := r.IntN(200) + 1
		var h offsetHeap
		var want []int64
		for i := range n {
			x := r.Int64N(1000)
			switch round % 3 {
			case 1:
				x = int64(i)
			case 2:
				x = int64(n - i)
			}
			h.push(x)
			want = append(want, x)
		}
		slices.Sort(want)
		for i, w := range want {
			if len(h) != n-i || h[0] != w {
				t.Fatalf("round %d pop %d: top %d (len %d), want %d", round, i, h[0], len(h), w)
			}
			h.pop()
		}
		if len(h) != 0 {
			t.Fatalf("round %d: %d left", round, len(h))
		}
	}
}
