package namesrv

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
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

// openKVStore loads path; a missing file is an empty store.
func openKVStore(path string) (*kvStore, error) {
	s := &kvStore{path: path, table: make(map[string]map[string]string)}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("namesrv: kv config: %w", err)
	}
	if len(b) == 0 {
		return s, nil
	}
	var f kvFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("namesrv: kv config %s: %w", path, err)
	}
	for ns, m := range f.ConfigTable {
		if m != nil {
			s.table[ns] = m
		}
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

// persistLocked writes the table to a temporary file, syncs it and renames it over the file.
func (s *kvStore) persistLocked() error {
	b, err := json.Marshal(kvFile{ConfigTable: s.table})
	if err != nil {
		return fmt.Errorf("namesrv: kv config: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o755); err != nil {
		return fmt.Errorf("namesrv: kv config: %w", err)
	}
	tmp := s.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("namesrv: kv config: %w", err)
	}
	_, werr := f.Write(b)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("namesrv: kv config: write %s: %w", tmp, werr)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("namesrv: kv config: %w", err)
	}
	if d, err := os.Open(filepath.Dir(s.path)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
