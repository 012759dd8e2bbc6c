package producer

import (
	"hash/fnv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skiffmq/skiff/client"
)

// QueueSelector picks the queue of a message among the topic's writable queues (never empty).
type QueueSelector interface {
	Select(msg *client.Message, queues []client.MessageQueue) client.MessageQueue
}

// QueueSelectorFunc adapts a function to QueueSelector.
type QueueSelectorFunc func(msg *client.Message, queues []client.MessageQueue) client.MessageQueue

// Select calls f.
func (f QueueSelectorFunc) Select(msg *client.Message, queues []client.MessageQueue) client.MessageQueue {
	return f(msg, queues)
}

// HashQueueSelector sends every message with the same sharding key (Message.WithShardingKey) to
// the same queue, so a consumer sees them in order. Messages without a key go round robin.
func HashQueueSelector() QueueSelector {
	var n atomic.Uint32
	return QueueSelectorFunc(func(msg *client.Message, queues []client.MessageQueue) client.MessageQueue {
		key := msg.ShardingKey()
		if key == "" {
			return queues[(n.Add(1)-1)%uint32(len(queues))]
		}
		h := fnv.New32a()
		_, _ = h.Write([]byte(key))
		return queues[int(h.Sum32()%uint32(len(queues)))]
	})
}

// faults remembers broker sets to avoid after failed or slow sends.
type faults struct {
	mu    sync.Mutex
	until map[string]time.Time
	now   func() time.Time
}

func newFaults() *faults { return &faults{until: map[string]time.Time{}, now: time.Now} }

// latency steps (RocketMQ's MQFaultStrategy): a send at least this slow avoids the broker set for
// the paired duration.
var (
	latencySteps = []time.Duration{550 * time.Millisecond, time.Second, 2 * time.Second, 3 * time.Second, 15 * time.Second}
	avoidFor     = []time.Duration{30 * time.Second, 60 * time.Second, 120 * time.Second, 180 * time.Second, 600 * time.Second}
)

// failedAvoid is how long a broker set is avoided after a failed send.
const failedAvoid = 30 * time.Second

func (f *faults) record(broker string, latency time.Duration, failed bool) {
	d := time.Duration(0)
	if failed {
		d = failedAvoid
	}
	for i := len(latencySteps) - 1; i >= 0; i-- {
		if latency >= latencySteps[i] {
			d = max(d, avoidFor[i])
			break
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if d == 0 {
		delete(f.until, broker)
		return
	}
	f.until[broker] = f.now().Add(d)
}

func (f *faults) available(broker string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.until[broker]
	return !ok || f.now().After(u)
}

// pick returns the next queue round robin, preferring broker sets that are available and not
// avoid (the set that just failed); when every set is to be avoided it still returns a queue.
func pick(queues []client.MessageQueue, counter *atomic.Uint32, f *faults, avoid string) client.MessageQueue {
	start := int((counter.Add(1) - 1) % uint32(len(queues))) // modulo before int: no negative index on 32-bit
	if f != nil {
		for i := range queues {
			q := queues[(start+i)%len(queues)]
			if q.BrokerName != avoid && f.available(q.BrokerName) {
				return q
			}
		}
	}
	for i := range queues {
		q := queues[(start+i)%len(queues)]
		if q.BrokerName != avoid {
			return q
		}
	}
	return queues[start%len(queues)]
}
