package consumer

import (
	"fmt"
	"slices"
	"testing"

	"github.com/skiffmq/skiff/client"
)

func testQueues(n int) []client.MessageQueue {
	out := make([]client.MessageQueue, n)
	for i := range out {
		out[i] = client.MessageQueue{Topic: "T", BrokerName: fmt.Sprintf("b%d", i/4), QueueID: int32(i % 4)}
	}
	return out
}

func testConsumers(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("10.0.0.1@c%02d", i)
	}
	return out
}

func TestAllocateAveragelyTable(t *testing.T) {
	cases := []struct {
		queues, consumers int
		sizes             []int
	}{
		{8, 3, []int{3, 3, 2}},
		{8, 2, []int{4, 4}},
		{8, 8, []int{1, 1, 1, 1, 1, 1, 1, 1}},
		{8, 1, []int{8}},
		{4, 6, []int{1, 1, 1, 1, 0, 0}},
		{5, 3, []int{2, 2, 1}},
		{7, 4, []int{2, 2, 2, 1}},
		{0, 3, []int{0, 0, 0}},
	}
	for _, c := range cases {
		qs, cs := testQueues(c.queues), testConsumers(c.consumers)
		next := 0
		for i, me := range cs {
			got := AllocateAveragely(me, cs, qs)
			if len(got) != c.sizes[i] {
				t.Errorf("%d queues/%d consumers: consumer %d got %d queues, want %d", c.queues, c.consumers, i, len(got), c.sizes[i])
				continue
			}
			// Contiguous blocks in consumer order.
			if len(got) > 0 && !slices.Equal(got, qs[next:next+len(got)]) {
				t.Errorf("%d queues/%d consumers: consumer %d got %v, want the block from %d", c.queues, c.consumers, i, got, next)
			}
			next += len(got)
		}
	}
}

func TestAllocateByCircleTable(t *testing.T) {
	qs, cs := testQueues(8), testConsumers(3)
	want := [][]int{{0, 3, 6}, {1, 4, 7}, {2, 5}}
	for i, me := range cs {
		got := AllocateByCircle(me, cs, qs)
		var exp []client.MessageQueue
		for _, j := range want[i] {
			exp = append(exp, qs[j])
		}
		if !slices.Equal(got, exp) {
			t.Errorf("consumer %d got %v, want %v", i, got, exp)
		}
	}
	if got := AllocateByCircle(cs[2], cs, testQueues(2)); len(got) != 0 {
		t.Errorf("more consumers than queues: the third got %v", got)
	}
}

// Every queue goes to exactly one consumer, the shares differ by at most one, and consumers
// outside the list get nothing, for both strategies.
func TestAllocateCoversEveryQueueOnce(t *testing.T) {
	strategies := map[string]AllocateStrategy{"averagely": AllocateAveragely, "circle": AllocateByCircle}
	for name, alloc := range strategies {
		for nq := 0; nq <= 20; nq++ {
			for nc := 1; nc <= 12; nc++ {
				qs, cs := testQueues(nq), testConsumers(nc)
				owner := map[client.MessageQueue]string{}
				lo, hi := nq, 0
				for _, me := range cs {
					got := alloc(me, cs, qs)
					lo, hi = min(lo, len(got)), max(hi, len(got))
					for _, q := range got {
						if prev, ok := owner[q]; ok {
							t.Fatalf("%s %d/%d: %v given to %s and %s", name, nq, nc, q, prev, me)
						}
						owner[q] = me
					}
				}
				if len(owner) != nq {
					t.Fatalf("%s %d/%d: %d queues assigned", name, nq, nc, len(owner))
				}
				if hi-lo > 1 {
					t.Fatalf("%s %d/%d: shares from %d to %d", name, nq, nc, lo, hi)
				}
				if got := alloc("stranger", cs, qs); len(got) != 0 {
					t.Fatalf("%s %d/%d: an unknown consumer got %v", name, nq, nc, got)
				}
			}
		}
		if got := alloc("me", nil, testQueues(4)); len(got) != 0 {
			t.Fatalf("%s: no consumers, got %v", name, got)
		}
	}
}

func TestAllocateAveragelyReturnsCopy(t *testing.T) {
	qs, cs := testQueues(4), testConsumers(2)
	got := AllocateAveragely(cs[0], cs, qs)
	got[0].QueueID = 99
	if qs[0].QueueID != 0 {
		t.Fatal("AllocateAveragely returned a slice of the caller's queues")
	}
}
