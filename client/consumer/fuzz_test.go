package consumer

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skiffmq/skiff/client"
)

// FuzzParseMQKey: parseMQKey never panics; a key it accepts parses to the same queue when
// written back; and any queue whose broker name has no '@' survives mqKey then parseMQKey.
func FuzzParseMQKey(f *testing.F) {
	for _, s := range []string{"T@b1@0", "%RETRY%g@broker-a@15", "a@b@c@-1", "", "@@", "T@b@+3", "T@b@2147483648"} {
		f.Add(s, "b", int32(0))
	}
	f.Add("Topic", "broker", int32(-7))
	f.Add("T@x", "", int32(2147483647))
	f.Fuzz(func(t *testing.T, key, broker string, qid int32) {
		if mq, ok := parseMQKey(key); ok {
			if strings.Contains(mq.BrokerName, "@") {
				t.Fatalf("parseMQKey(%q) = %+v: broker name with '@'", key, mq)
			}
			again, ok2 := parseMQKey(mqKey(mq))
			if !ok2 || again != mq {
				t.Fatalf("parseMQKey(%q) = %+v, but its key %q parses to %+v, %v", key, mq, mqKey(mq), again, ok2)
			}
		}
		if strings.Contains(broker, "@") {
			return
		}
		mq := client.MessageQueue{Topic: key, BrokerName: broker, QueueID: qid}
		got, ok := parseMQKey(mqKey(mq))
		if !ok || got != mq {
			t.Fatalf("round trip of %+v gave %+v, %v", mq, got, ok)
		}
	})
}

// FuzzLocalOffsetStoreLoad loads arbitrary bytes as the local offsets file (with a valid backup
// for some inputs): no panic; a damaged file with a backup loads the backup; what loads survives
// Persist and a reload unchanged.
func FuzzLocalOffsetStoreLoad(f *testing.F) {
	f.Add([]byte(`{"offsetTable":{"T@broker-a@0":5,"T@broker-a@1":7}}`), false)
	f.Add([]byte(`{"offsetTable":{"bad":1}}`), false)
	f.Add([]byte(`{"offsetTable":`), true)
	f.Fuzz(func(t *testing.T, data []byte, withBackup bool) {
		path := filepath.Join(t.TempDir(), "offsets.json")
		os.WriteFile(path, data, 0o644)
		if withBackup {
			os.WriteFile(path+".bak", []byte(`{"offsetTable":{"B@b@0":1}}`), 0o644)
		}
		s := NewLocalOffsetStore(path)
		if err := s.load(); err != nil {
			if withBackup {
				t.Fatalf("load with a valid backup: %v", err)
			}
			return
		}
		snap := func(s *LocalOffsetStore) map[client.MessageQueue]int64 {
			s.mu.Lock()
			defer s.mu.Unlock()
			return maps.Clone(s.table)
		}
		before := snap(s)
		if err := s.Persist(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		s2 := NewLocalOffsetStore(path)
		if err := s2.load(); err != nil {
			t.Fatalf("reload: %v", err)
		}
		if after := snap(s2); !maps.Equal(before, after) {
			t.Fatalf("offsets changed across Persist and reload: %v → %v", before, after)
		}
	})
}
