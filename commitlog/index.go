package commitlog

import (
	"sync"

	"github.com/skiffmq/skiff/internal/message"
)

// keyIndex maps "topic#key" to the records carrying that key (each KEYS entry and the UNIQ_KEY).
// It is kept in memory and rebuilt from the commit log at start.
type keyIndex struct {
	mu      sync.RWMutex
	entries map[string][]indexEntry
	lastTs  int64
	lastPhy int64
	any     bool
}

type indexEntry struct {
	phy int64
	ts  int64
}

func newKeyIndex() *keyIndex { return &keyIndex{entries: map[string][]indexEntry{}} }

func (x *keyIndex) add(m *message.Message) {
	keys := m.Keys()
	if u := m.UniqKey(); u != "" {
		keys = append(keys, u)
	}
	if len(keys) == 0 {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.any && m.CommitLogOffset <= x.lastPhy {
		return // already indexed
	}
	x.any = true
	for _, k := range keys {
		ik := m.Topic + "#" + k
		x.entries[ik] = append(x.entries[ik], indexEntry{phy: m.CommitLogOffset, ts: m.StoreTimestamp})
	}
	x.lastTs, x.lastPhy = m.StoreTimestamp, m.CommitLogOffset
}

func (x *keyIndex) lookup(topic, key string, maxNum int, begin, end int64) ([]int64, int64, int64) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	list := x.entries[topic+"#"+key]
	var out []int64
	for i := len(list) - 1; i >= 0 && len(out) < maxNum; i-- {
		if e := list[i]; e.ts >= begin && e.ts <= end {
			out = append(out, e.phy)
		}
	}
	return out, x.lastTs, x.lastPhy
}

// dropBelow forgets entries of records below off (retention).
func (x *keyIndex) dropBelow(off int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for k, list := range x.entries {
		i := 0
		for i < len(list) && list[i].phy < off {
			i++
		}
		if i == len(list) {
			delete(x.entries, k)
		} else if i > 0 {
			x.entries[k] = append([]indexEntry(nil), list[i:]...)
		}
	}
}
