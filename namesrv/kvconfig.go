package namesrv

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"

	"github.com/skiffmq/skiff/internal/atomicfile"
)

// NamespaceOrderTopicConfig is the KV namespace whose keys are topics and values the order
// configuration "brokerName:queueNum;..." (RocketMQ NamesrvUtil.NAMESPACE_ORDER_TOPIC_CONFIG).
const NamespaceOrderTopicConfig = "ORDER_TOPIC_CONFIG"

// kvStore is the persistent namespaced KV config. Concurrency: model (b), one RWMutex; the file
// is rewritten (temporary file + rename) under the write lock, so writes to disk are ordered.
type kvStore struct {
	path string

	mu    sync.RWMutex
	table map[string]map[string]string
}

type kvFile struct {
	ConfigTable map[string]map[string]string `json:"configTable"`
}

// openKVStore loads path; a missing file is an empty store. A damaged file falls back to its
// .bak copy with a warning on log (which may be nil).
func openKVStore(path string, log *slog.Logger) (*kvStore, error) {
	s := &kvStore{path: path, table: make(map[string]map[string]string)}
	err := atomicfile.Load(path, func(b []byte) error {
		var f kvFile
		if err := json.Unmarshal(b, &f); err != nil {
			return err
		}
		table := make(map[string]map[string]string, len(f.ConfigTable))
		for ns, m := range f.ConfigTable {
			if m != nil {
				table[ns] = m
			}
		}
		s.table = table
		return nil
	}, log)
	if err != nil && !errors.Is(err, atomicfile.ErrNotFound) {
		return nil, fmt.Errorf("namesrv: kv config %s: %w", path, err)
	}
	return s, nil
}

func (s *kvStore) put(ns, key, value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.table[ns]
	if m == nil {
		m = make(map[string]string)
		s.table[ns] = m
	}
	if old, ok := m[key]; ok && old == value {
		return nil
	}
	m[key] = value
	return s.persistLocked()
}

func (s *kvStore) get(ns, key string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.table[ns][key]
	return v, ok
}

func (s *kvStore) delete(ns, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.table[ns]
	if _, ok := m[key]; !ok {
		return nil
	}
	delete(m, key)
	if len(m) == 0 {
		delete(s.table, ns)
	}
	return s.persistLocked()
}

// list returns a copy of namespace ns, or nil when it has no keys.
func (s *kvStore) list(ns string) map[string]string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m := s.table[ns]
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// count returns the number of namespaces and keys, for logs.
func (s *kvStore) count() (namespaces, keys int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, m := range s.table {
		keys += len(m)
	}
	return len(s.table), keys
}

func (s *kvStore) namespaces() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.table))
	for ns := range s.table {
		out = append(out, ns)
	}
	sort.Strings(out)
	return out
}

// persistLocked writes the table through atomicfile (temporary file, fsync, previous content kept
// as .bak, rename, folder fsync).
func (s *kvStore) persistLocked() error {
	b, err := json.Marshal(kvFile{ConfigTable: s.table})
	if err != nil {
		return fmt.Errorf("namesrv: kv config: %w", err)
	}
	if err := atomicfile.Write(s.path, b, 0o644); err != nil {
		return fmt.Errorf("namesrv: kv config: %w", err)
	}
	return nil
}
