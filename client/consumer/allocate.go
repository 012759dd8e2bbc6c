package consumer

import (
	"slices"

	"github.com/skiffmq/skiff/client"
)

// AllocateStrategy returns the queues that consumer me gets, given every queue of a topic and
// every consumer id of the group (both sorted the same way by every member).
type AllocateStrategy func(me string, consumers []string, queues []client.MessageQueue) []client.MessageQueue

// AllocateAveragely gives each consumer a contiguous block of queues; the first len(queues) %
// len(consumers) consumers get one more (RocketMQ's AllocateMessageQueueAveragely).
func AllocateAveragely(me string, consumers []string, queues []client.MessageQueue) []client.MessageQueue {
	i := slices.Index(consumers, me)
	if i < 0 || len(queues) == 0 {
		return nil
	}
	n, m := len(queues), len(consumers)
	mod := n % m
	size := n / m
	if i < mod {
		size++
	}
	start := i * size
	if i >= mod {
		start = i*size + mod
	}
	if start >= n {
		return nil
	}
	return slices.Clone(queues[start:min(start+size, n)])
}

// AllocateByCircle deals the queues round robin: consumer i gets queues i, i+m, i+2m, ...
func AllocateByCircle(me string, consumers []string, queues []client.MessageQueue) []client.MessageQueue {
	i := slices.Index(consumers, me)
	if i < 0 {
		return nil
	}
	var out []client.MessageQueue
	for j := i; j < len(queues); j += len(consumers) {
		out = append(out, queues[j])
	}
	return out
}
