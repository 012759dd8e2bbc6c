package metadata

import (
	"log/slog"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// OffsetTable is the serialized form of consumer offsets: "topic@group" → queueId → next offset.
type OffsetTable struct {
	OffsetTable map[string]map[int32]int64 `json:"offsetTable"`
}

// Offsets holds consumer offsets in memory and persists them to config/consumerOffset.json when
// Persist is called (periodically and at shutdown). An offset is the next offset to consume.
type Offsets struct {
	path string

	mu    sync.RWMutex
	table map[string]map[int32]int64
	dirty bool
}

// LoadOffsets reads config/consumerOffset.json under root.
func LoadOffsets(root string, log *slog.Logger) (*Offsets, error) {
	o := &Offsets{path: filepath.Join(root, "config", "consumerOffset.json"), table: map[string]map[int32]int64{}}
	var w OffsetTable
	if _, err := readJSON(o.path, &w, log); err != nil {
		return nil, err
	}
	if w.OffsetTable != nil {
		o.table = w.OffsetTable
	}
	return o, nil
}

func offsetKey(topic, group string) string { return topic + "@" + group }

// Commit stores the group's next offset for a queue.
func (o *Offsets) Commit(group, topic string, queueID int32, offset int64) {
	key := offsetKey(topic, group)
	o.mu.Lock()
	m := o.table[key]
	if m == nil {
		m = map[int32]int64{}
		o.table[key] = m
	}
	m[queueID] = offset
	o.dirty = true
	o.mu.Unlock()
}

// Query returns the group's stored offset for a queue, or -1 when none is stored.
func (o *Offsets) Query(group, topic string, queueID int32) int64 {
	o.mu.RLock()
	defer o.mu.RUnlock()
	if m, ok := o.table[offsetKey(topic, group)]; ok {
		if v, ok := m[queueID]; ok {
			return v
		}
	}
	return -1
}

// QueueOffsets returns a copy of the group's offsets for a topic.
func (o *Offsets) QueueOffsets(group, topic string) map[int32]int64 {
	o.mu.RLock()
	defer o.mu.RUnlock()
	src := o.table[offsetKey(topic, group)]
	if src == nil {
		return nil
	}
	m := make(map[int32]int64, len(src))
	for k, v := range src {
		m[k] = v
	}
	return m
}

// TopicsOfGroup returns the topics for which the group has stored offsets.
func (o *Offsets) TopicsOfGroup(group string) []string {
	o.mu.RLock()
	var out []string
	for k := range o.table {
		if i := strings.LastIndexByte(k, '@'); i >= 0 && k[i+1:] == group {
			out = append(out, k[:i])
		}
	}
	o.mu.RUnlock()
	sort.Strings(out)
	return out
}

// GroupsOfTopic returns the groups that have stored offsets for a topic.
func (o *Offsets) GroupsOfTopic(topic string) []string {
	o.mu.RLock()
	var out []string
	for k := range o.table {
		if i := strings.LastIndexByte(k, '@'); i >= 0 && k[:i] == topic {
			out = append(out, k[i+1:])
		}
	}
	o.mu.RUnlock()
	sort.Strings(out)
	return out
}

// RemoveGroup drops every offset of a group.
func (o *Offsets) RemoveGroup(group string) {
	o.mu.Lock()
	for k := range o.table {
		if i := strings.LastIndexByte(k, '@'); i >= 0 && k[i+1:] == group {
			delete(o.table, k)
			o.dirty = true
		}
	}
	o.mu.Unlock()
}

// RemoveTopic drops every offset of a topic.
func (o *Offsets) RemoveTopic(topic string) {
	o.mu.Lock()
	for k := range o.table {
		if i := strings.LastIndexByte(k, '@'); i >= 0 && k[:i] == topic {
			delete(o.table, k)
			o.dirty = true
		}
	}
	o.mu.Unlock()
}

// Snapshot returns a copy of the whole table.
func (o *Offsets) Snapshot() OffsetTable {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return OffsetTable{OffsetTable: o.copyLocked()}
}

// Merge overwrites offsets per key with those of w (a slave adopting its master's offsets).
func (o *Offsets) Merge(w OffsetTable) {
	o.mu.Lock()
	for k, m := range w.OffsetTable {
		c := make(map[int32]int64, len(m))
		for q, v := range m {
			c[q] = v
		}
		o.table[k] = c
	}
	o.dirty = true
	o.mu.Unlock()
}

// Persist writes the table when it changed since the last write.
func (o *Offsets) Persist() error {
	o.mu.Lock()
	if !o.dirty {
		o.mu.Unlock()
		return nil
	}
	w := OffsetTable{OffsetTable: o.copyLocked()}
	o.dirty = false
	o.mu.Unlock()
	if err := writeJSONAtomic(o.path, w); err != nil {
		o.mu.Lock()
		o.dirty = true
		o.mu.Unlock()
		return err
	}
	return nil
}

func (o *Offsets) copyLocked() map[string]map[int32]int64 {
	out := make(map[string]map[int32]int64, len(o.table))
	for k, m := range o.table {
		c := make(map[int32]int64, len(m))
		for q, v := range m {
			c[q] = v
		}
		out[k] = c
	}
	return out
}

// DelayOffsets holds the schedule service's progress per delay level, persisted to
// config/delayOffset.json.
type DelayOffsets struct {
	path string

	mu    sync.Mutex
	table map[int32]int64
	dirty bool
}

// DelayOffsetTable is the serialized form of delay offsets: level → offset in SCHEDULE_TOPIC_XXXX
// queue level-1.
type DelayOffsetTable struct {
	OffsetTable map[int32]int64 `json:"offsetTable"`
}

// LoadDelayOffsets reads config/delayOffset.json under root.
func LoadDelayOffsets(root string, log *slog.Logger) (*DelayOffsets, error) {
	d := &DelayOffsets{path: filepath.Join(root, "config", "delayOffset.json"), table: map[int32]int64{}}
	var w DelayOffsetTable
	if _, err := readJSON(d.path, &w, log); err != nil {
		return nil, err
	}
	if w.OffsetTable != nil {
		d.table = w.OffsetTable
	}
	return d, nil
}

// Get returns the next offset to deliver for a level (0 when unknown).
func (d *DelayOffsets) Get(level int32) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.table[level]
}

// Set records the next offset to deliver for a level.
func (d *DelayOffsets) Set(level int32, offset int64) {
	d.mu.Lock()
	if d.table[level] != offset {
		d.table[level] = offset
		d.dirty = true
	}
	d.mu.Unlock()
}

// Snapshot returns a copy of the table.
func (d *DelayOffsets) Snapshot() DelayOffsetTable {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := make(map[int32]int64, len(d.table))
	for k, v := range d.table {
		m[k] = v
	}
	return DelayOffsetTable{OffsetTable: m}
}

// Replace installs the master's table (slaves).
func (d *DelayOffsets) Replace(w DelayOffsetTable) {
	d.mu.Lock()
	d.table = map[int32]int64{}
	for k, v := range w.OffsetTable {
		d.table[k] = v
	}
	d.dirty = true
	d.mu.Unlock()
}

// Persist writes the table when it changed.
func (d *DelayOffsets) Persist() error {
	d.mu.Lock()
	if !d.dirty {
		d.mu.Unlock()
		return nil
	}
	m := make(map[int32]int64, len(d.table))
	for k, v := range d.table {
		m[k] = v
	}
	d.dirty = false
	d.mu.Unlock()
	return writeJSONAtomic(d.path, DelayOffsetTable{OffsetTable: m})
}
