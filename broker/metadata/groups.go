package metadata

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/skiffmq/skiff/internal/protocol"
)

// SubscriptionGroupConfig is a consumer group's configuration (the one type of package protocol).
type SubscriptionGroupConfig = protocol.SubscriptionGroupConfig

// DefaultGroupConfig is the configuration an auto-created group gets.
func DefaultGroupConfig(group string) SubscriptionGroupConfig {
	return protocol.DefaultSubscriptionGroupConfig(group)
}

// GroupTable is the serialized form of all groups (RocketMQ SubscriptionGroupWrapper).
type GroupTable struct {
	DataVersion            DataVersion                        `json:"dataVersion"`
	SubscriptionGroupTable map[string]SubscriptionGroupConfig `json:"subscriptionGroupTable"`
}

// Groups is the subscription group table, persisted to config/subscriptionGroup.json.
type Groups struct {
	path string
	now  func() time.Time

	mu      sync.RWMutex
	version DataVersion
	table   map[string]SubscriptionGroupConfig

	fileMu sync.Mutex // serializes persist (the file is replaced through one temporary name)

	beforeCreate func(SubscriptionGroupConfig) error // see Topics.beforeCreate
	creating     sync.RWMutex
}

// SetBeforeCreate installs h, run before GetOrCreate creates a group (see
// Topics.SetBeforeCreate).
func (g *Groups) SetBeforeCreate(h func(SubscriptionGroupConfig) error) {
	g.mu.Lock()
	g.beforeCreate = h
	g.mu.Unlock()
}

// LoadGroups reads config/subscriptionGroup.json under root.
func LoadGroups(root string, now func() time.Time, log *slog.Logger) (*Groups, error) {
	if now == nil {
		now = time.Now
	}
	g := &Groups{path: filepath.Join(root, "config", "subscriptionGroup.json"), now: now, table: map[string]SubscriptionGroupConfig{}}
	var w GroupTable
	if _, err := readJSON(g.path, &w, log); err != nil {
		return nil, err
	}
	if w.SubscriptionGroupTable != nil {
		g.table = w.SubscriptionGroupTable
	}
	g.version = w.DataVersion
	return g, nil
}

// Get returns a group's config.
func (g *Groups) Get(group string) (SubscriptionGroupConfig, bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	c, ok := g.table[group]
	return c, ok
}

// GetOrCreate returns the group's config, creating the default one when autoCreate is set.
func (g *Groups) GetOrCreate(group string, autoCreate bool) (SubscriptionGroupConfig, bool, error) {
	if c, ok := g.Get(group); ok {
		return c, true, nil
	}
	if !autoCreate {
		return SubscriptionGroupConfig{}, false, nil
	}
	c := DefaultGroupConfig(group)
	g.mu.Lock()
	if old, ok := g.table[group]; ok {
		g.mu.Unlock()
		return old, true, nil
	}
	if hook := g.beforeCreate; hook != nil {
		g.mu.Unlock()
		g.creating.RLock()
		defer g.creating.RUnlock()
		if err := hook(c); err != nil {
			return SubscriptionGroupConfig{}, false, fmt.Errorf("metadata: subscription group %s not created: %w", group, err)
		}
		g.mu.Lock()
		if old, ok := g.table[group]; ok {
			g.mu.Unlock()
			return old, true, nil
		}
	}
	g.table[group] = c
	g.bumpLocked()
	g.mu.Unlock()
	return c, true, g.persist()
}

// Put creates or replaces a group and persists the table.
func (g *Groups) Put(c SubscriptionGroupConfig) error {
	g.mu.Lock()
	g.table[c.GroupName] = c
	g.bumpLocked()
	g.mu.Unlock()
	return g.persist()
}

// Delete removes a group; it reports whether it existed.
func (g *Groups) Delete(group string) (bool, error) {
	g.mu.Lock()
	if _, ok := g.table[group]; !ok {
		g.mu.Unlock()
		return false, nil
	}
	delete(g.table, group)
	g.bumpLocked()
	g.mu.Unlock()
	return true, g.persist()
}

// Replace installs a whole table (a slave adopting its master's groups) when its version differs.
func (g *Groups) Replace(w GroupTable) (bool, error) {
	return g.replace(w, nil)
}

// ReplaceSince is Replace, skipped when the table changed after it had version seen (see
// Topics.ReplaceSince).
func (g *Groups) ReplaceSince(seen DataVersion, w GroupTable) (bool, error) {
	return g.replace(w, &seen)
}

func (g *Groups) replace(w GroupTable, seen *DataVersion) (bool, error) {
	g.mu.Lock()
	if w.DataVersion == g.version || (seen != nil && *seen != g.version) {
		g.mu.Unlock()
		return false, nil
	}
	g.table = map[string]SubscriptionGroupConfig{}
	for k, v := range w.SubscriptionGroupTable {
		g.table[k] = v
	}
	g.version = w.DataVersion
	g.mu.Unlock()
	return true, g.persist()
}

// Snapshot returns a copy of the table with its version. It waits for creations whose
// before-create hook is running.
func (g *Groups) Snapshot() GroupTable {
	g.creating.Lock()
	defer g.creating.Unlock()
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.snapshotLocked()
}

// Names returns the sorted group names.
func (g *Groups) Names() []string {
	g.mu.RLock()
	names := make([]string, 0, len(g.table))
	for k := range g.table {
		names = append(names, k)
	}
	g.mu.RUnlock()
	sort.Strings(names)
	return names
}

// Version returns the current data version.
func (g *Groups) Version() DataVersion {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.version
}

func (g *Groups) bumpLocked() {
	g.version.Counter++
	g.version.Timestamp = g.now().UnixMilli()
}

func (g *Groups) snapshotLocked() GroupTable {
	m := make(map[string]SubscriptionGroupConfig, len(g.table))
	for k, v := range g.table {
		m[k] = v
	}
	return GroupTable{DataVersion: g.version, SubscriptionGroupTable: m}
}

// persist writes the current table: one writer at a time (concurrent writers would share the
// temporary file), each with a snapshot taken under fileMu, so the last write holds every change
// made before it began.
func (g *Groups) persist() error {
	g.fileMu.Lock()
	defer g.fileMu.Unlock()
	g.mu.RLock()
	w := g.snapshotLocked()
	g.mu.RUnlock()
	return writeJSONAtomic(g.path, w)
}
