package processor

import (
	"sync"
	"time"

	"github.com/skiffmq/skiff/internal/protocol"
)

// LockMaxLive is how long a queue lock lives without renewal (RocketMQ's
// rocketmq.broker.rebalance.lockMaxLiveTime, 60 s).
const LockMaxLive = 60 * time.Second

// QueueLockTable is the QueueLocks of a broker: a queue is locked by one client of a group; a
// lock expires when its owner does not renew it within LockMaxLive.
type QueueLockTable struct {
	mu    sync.Mutex
	locks map[string]map[protocol.MessageQueue]*queueLock // by group
}

type queueLock struct {
	clientID string
	last     time.Time
}

// NewQueueLockTable returns an empty lock table.
func NewQueueLockTable() *QueueLockTable {
	return &QueueLockTable{locks: map[string]map[protocol.MessageQueue]*queueLock{}}
}

// TryLock implements QueueLocks.
func (l *QueueLockTable) TryLock(group, clientID string, mqs []protocol.MessageQueue, now time.Time) []protocol.MessageQueue {
	l.mu.Lock()
	defer l.mu.Unlock()
	g := l.locks[group]
	if g == nil {
		g = map[protocol.MessageQueue]*queueLock{}
		l.locks[group] = g
	}
	out := []protocol.MessageQueue{}
	for _, mq := range mqs {
		lk := g[mq]
		if lk == nil || lk.clientID == clientID || now.Sub(lk.last) > LockMaxLive {
			g[mq] = &queueLock{clientID: clientID, last: now}
			out = append(out, mq)
		}
	}
	return out
}

// Unlock implements QueueLocks.
func (l *QueueLockTable) Unlock(group, clientID string, mqs []protocol.MessageQueue) {
	l.mu.Lock()
	defer l.mu.Unlock()
	g := l.locks[group]
	for _, mq := range mqs {
		if lk := g[mq]; lk != nil && lk.clientID == clientID {
			delete(g, mq)
		}
	}
	if len(g) == 0 {
		delete(l.locks, group)
	}
}
