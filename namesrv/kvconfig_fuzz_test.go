package namesrv

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzNamesrvKVStoreLoad loads arbitrary bytes as the KV config file (with a valid backup for
// some inputs): no panic; a damaged file with a backup loads the backup; what loads survives a
// write and a reload unchanged.
func FuzzNamesrvKVStoreLoad(f *testing.F) {
	f.Add([]byte(`{"configTable":{"ORDER_TOPIC_CONFIG":{"T":"broker-a:4"}}}`), false)
	f.Add([]byte(`{"configTable":{"ns":null}}`), false)
	f.Add([]byte(`{"configTable":`), true)
	f.Fuzz(func(t *testing.T, data []byte, withBackup bool) {
		path := filepath.Join(t.TempDir(), "kv.json")
		os.WriteFile(path, data, 0o644)
		if withBackup {
			os.WriteFile(path+".bak", []byte(`{"configTable":{"b":{"k":"v"}}}`), 0o644)
		}
		s, err := openKVStore(path, nil)
		if err != nil {
			if withBackup {
				t.Fatalf("load with a valid backup: %v", err)
			}
			return
		}
		before := map[string]map[string]string{}
		for _, ns := range s.namespaces() {
			before[ns] = s.list(ns)
		}
		s.mu.Lock()
		err = s.persistLocked()
		s.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		s2, err := openKVStore(path, nil)
		if err != nil {
			t.Fatalf("reload: %v", err)
		}
		after := map[string]map[string]string{}
		for _, ns := range s2.namespaces() {
			after[ns] = s2.list(ns)
		}
		if !reflect.DeepEqual(before, after) {
			t.Fatalf("changed across write and reload: %v → %v", before, after)
		}
	})
}
