package metadata

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/skiffmq/skiff/internal/protocol"
)

// Permission bits of a topic or a broker (RocketMQ PermName).
const (
	PermPriority = 0x8
	PermRead     = 0x4
	PermWrite    = 0x2
	PermInherit  = 0x1
)

// Names of the topics the broker manages itself.
const (
	TopicDefault       = "TBW102"
	TopicSelfTest      = "SELF_TEST_TOPIC"
	TopicSchedule      = "SCHEDULE_TOPIC_XXXX"
	TopicOffsetMoved   = "OFFSET_MOVED_EVENT"
	TopicTransHalf     = "RMQ_SYS_TRANS_HALF_TOPIC"
	TopicTransOpHalf   = "RMQ_SYS_TRANS_OP_HALF_TOPIC"
	TopicTransCheckMax = "TRANS_CHECK_MAX_TIME_TOPIC"
	RetryGroupPrefix   = "%RETRY%"
	DLQGroupPrefix     = "%DLQ%"
)

// ErrInvalidTopic is returned for a topic name that is empty, too long or has a character outside
// [%|a-zA-Z0-9_-].
var ErrInvalidTopic = errors.New("metadata: invalid topic name")

// TopicConfig is one topic's configuration (the one type of package protocol).
type TopicConfig = protocol.TopicConfig

// TopicTable is the serialized form of all topics (RocketMQ TopicConfigSerializeWrapper).
type TopicTable = protocol.TopicConfigSerializeWrapper

// ValidateTopic checks a topic name the way RocketMQ does: non-empty, at most 127 bytes, only
// characters in [%|a-zA-Z0-9_-].
func ValidateTopic(topic string) error {
	if topic == "" {
		return fmt.Errorf("%w: empty", ErrInvalidTopic)
	}
	if len(topic) > 127 {
		return fmt.Errorf("%w: %q is %d bytes, the limit is 127", ErrInvalidTopic, topic, len(topic))
	}
	for i := 0; i < len(topic); i++ {
		c := topic[i]
		ok := c == '%' || c == '|' || c == '_' || c == '-' ||
			(c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		if !ok {
			return fmt.Errorf("%w: %q contains the character %q", ErrInvalidTopic, topic, c)
		}
	}
	return nil
}

// IsSystemTopic reports whether producers are forbidden to send to topic directly.
func IsSystemTopic(topic string) bool {
	switch topic {
	case TopicSchedule, TopicTransHalf, TopicTransOpHalf, TopicTransCheckMax, TopicSelfTest, TopicOffsetMoved:
		return true
	}
	return false
}

// Topics is the topic table, persisted to config/topics.json.
type Topics struct {
	path string
	now  func() time.Time

	mu      sync.RWMutex
	version DataVersion
	table   map[string]TopicConfig

	// beforeCreate (SetBeforeCreate) runs before PutIfAbsent creates a topic; creating is held
	// shared from that call until the topic is in the table, and exclusively by Snapshot, so a
	// snapshot never misses a topic that was already pushed to the replicas.
	fileMu sync.Mutex // serializes persist (the file is replaced through one temporary name)

	beforeCreate func(TopicConfig) error
	creating     sync.RWMutex
}

// SetBeforeCreate installs h, run before PutIfAbsent creates a topic that did not exist (a
// controller-mode master pushes it to its in-sync replicas there). When h fails, nothing is
// created and PutIfAbsent returns its error. Set it before the table is used concurrently.
func (t *Topics) SetBeforeCreate(h func(TopicConfig) error) {
	t.mu.Lock()
	t.beforeCreate = h
	t.mu.Unlock()
}

// LoadTopics reads config/topics.json under root (an absent file is an empty table).
func LoadTopics(root string, now func() time.Time, log *slog.Logger) (*Topics, error) {
	if now == nil {
		now = time.Now
	}
	t := &Topics{path: filepath.Join(root, "config", "topics.json"), now: now, table: map[string]TopicConfig{}}
	var w TopicTable
	if _, err := readJSON(t.path, &w, log); err != nil {
		return nil, err
	}
	if w.TopicConfigTable != nil {
		t.table = w.TopicConfigTable
	}
	t.version = w.DataVersion
	return t, nil
}

// Get returns the topic's config.
func (t *Topics) Get(topic string) (TopicConfig, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	c, ok := t.table[topic]
	return c, ok
}

// Put creates or replaces a topic, bumps the data version and persists the table.
func (t *Topics) Put(c TopicConfig) error {
	if c.TopicFilterType == "" {
		c.TopicFilterType = "SINGLE_TAG"
	}
	t.mu.Lock()
	t.table[c.TopicName] = c
	t.bumpLocked()
	t.mu.Unlock()
	return t.persist()
}

// PutIfAbsent creates the topic when it does not exist yet and reports whether it did. With a
// before-create hook, the hook runs first (without the table lock) and its error cancels the
// creation.
func (t *Topics) PutIfAbsent(c TopicConfig) (TopicConfig, bool, error) {
	if c.TopicFilterType == "" {
		c.TopicFilterType = "SINGLE_TAG"
	}
	t.mu.Lock()
	if old, ok := t.table[c.TopicName]; ok {
		t.mu.Unlock()
		return old, false, nil
	}
	if hook := t.beforeCreate; hook != nil {
		t.mu.Unlock()
		t.creating.RLock()
		defer t.creating.RUnlock()
		if err := hook(c); err != nil {
			return TopicConfig{}, false, fmt.Errorf("metadata: topic %s not created: %w", c.TopicName, err)
		}
		t.mu.Lock()
		if old, ok := t.table[c.TopicName]; ok { // created meanwhile (the hook ran twice: harmless)
			t.mu.Unlock()
			return old, false, nil
		}
	}
	t.table[c.TopicName] = c
	t.bumpLocked()
	t.mu.Unlock()
	return c, true, t.persist()
}

// Delete removes a topic and persists the table; it reports whether the topic existed.
func (t *Topics) Delete(topic string) (bool, error) {
	t.mu.Lock()
	if _, ok := t.table[topic]; !ok {
		t.mu.Unlock()
		return false, nil
	}
	delete(t.table, topic)
	t.bumpLocked()
	t.mu.Unlock()
	return true, t.persist()
}

// Replace installs a whole table (a slave adopting its master's topics) when its version differs.
func (t *Topics) Replace(w TopicTable) (bool, error) {
	return t.replace(w, nil)
}

// ReplaceSince is Replace, skipped when the table changed after it had version seen (a slave
// read seen before fetching w from its master; a topic its master pushed meanwhile may be
// missing from w, and the next sync brings a table that has it).
func (t *Topics) ReplaceSince(seen DataVersion, w TopicTable) (bool, error) {
	return t.replace(w, &seen)
}

func (t *Topics) replace(w TopicTable, seen *DataVersion) (bool, error) {
	t.mu.Lock()
	if w.DataVersion == t.version || (seen != nil && *seen != t.version) {
		t.mu.Unlock()
		return false, nil
	}
	t.table = map[string]TopicConfig{}
	for k, v := range w.TopicConfigTable {
		t.table[k] = v
	}
	t.version = w.DataVersion
	t.mu.Unlock()
	return true, t.persist()
}

// Snapshot returns a copy of the whole table with its data version. It waits for creations
// whose before-create hook is running.
func (t *Topics) Snapshot() TopicTable {
	t.creating.Lock()
	defer t.creating.Unlock()
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.snapshotLocked()
}

// Names returns the sorted topic names.
func (t *Topics) Names() []string {
	t.mu.RLock()
	names := make([]string, 0, len(t.table))
	for k := range t.table {
		names = append(names, k)
	}
	t.mu.RUnlock()
	sort.Strings(names)
	return names
}

// Version returns the current data version.
func (t *Topics) Version() DataVersion {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.version
}

// BumpVersion moves the data version on without changing a topic and persists it, so that name
// servers (which rewrite a broker's queue data only when its DataVersion changed) take the next
// registration's permissions: RocketMQ's nextVersion on a brokerPermission update.
func (t *Topics) BumpVersion() error {
	t.mu.Lock()
	t.bumpLocked()
	t.mu.Unlock()
	return t.persist()
}

func (t *Topics) bumpLocked() {
	t.version.Counter++
	t.version.Timestamp = t.now().UnixMilli()
}

func (t *Topics) snapshotLocked() TopicTable {
	m := make(map[string]TopicConfig, len(t.table))
	for k, v := range t.table {
		m[k] = v
	}
	return TopicTable{DataVersion: t.version, TopicConfigTable: m}
}

// persist writes the current table: one writer at a time (concurrent writers would share the
// temporary file), each with a snapshot taken under fileMu, so the last write holds every change
// made before it began.
func (t *Topics) persist() error {
	t.fileMu.Lock()
	defer t.fileMu.Unlock()
	t.mu.RLock()
	w := t.snapshotLocked()
	t.mu.RUnlock()
	return writeJSONAtomic(t.path, w)
}
