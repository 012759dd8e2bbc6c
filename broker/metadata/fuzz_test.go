package metadata

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzMetadataLoaders writes arbitrary bytes as each metadata file (and, for some inputs, a valid
// backup next to it) and loads it: no loader panics, a file that does not decode falls back to the
// backup or fails with an error, and whatever loads survives a persist and a reload unchanged.
func FuzzMetadataLoaders(f *testing.F) {
	f.Add([]byte(`{"dataVersion":{"counter":1,"timestamp":2},"topicConfigTable":{"T":{"topicName":"T","readQueueNums":4,"writeQueueNums":4,"perm":6}}}`), uint8(0))
	f.Add([]byte(`{"offsetTable":{"T@g":{"0":5,"1":7}}}`), uint8(1))
	f.Add([]byte(`{"subscriptionGroupTable":{"g":{"groupName":"g","retryMaxTimes":16}}}`), uint8(2))
	f.Add([]byte(`{"offsetTable":{"1":3,"2":0}}`), uint8(3))
	f.Add([]byte(`{"topicConfigTable":{"T":`), uint8(4))
	f.Add([]byte(`{"offsetTable":{"T@g":{"x":1}}}`), uint8(5))
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		dir := t.TempDir()
		files := []string{"topics.json", "consumerOffset.json", "subscriptionGroup.json", "delayOffset.json"}
		name := files[int(which)%len(files)]
		path := filepath.Join(dir, "config", name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if which >= 4 { // a valid (empty) backup: a damaged main file must fall back to it
			if err := os.WriteFile(path+".bak", []byte(`{}`), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		type loaded struct {
			snap    func() any
			persist func() error
		}
		load := func() (loaded, error) {
			switch name {
			case "topics.json":
				x, err := LoadTopics(dir, fixedNow, nil)
				if err != nil {
					return loaded{}, err
				}
				return loaded{func() any { return x.Snapshot().TopicConfigTable }, func() error { _, err := x.Replace(x.Snapshot()); return err }}, nil
			case "consumerOffset.json":
				x, err := LoadOffsets(dir, nil)
				if err != nil {
					return loaded{}, err
				}
				return loaded{func() any { return x.Snapshot() }, x.Persist}, nil
			case "subscriptionGroup.json":
				x, err := LoadGroups(dir, fixedNow, nil)
				if err != nil {
					return loaded{}, err
				}
				return loaded{func() any { return x.Snapshot().SubscriptionGroupTable }, func() error { _, err := x.Replace(x.Snapshot()); return err }}, nil
			default:
				x, err := LoadDelayOffsets(dir, nil)
				if err != nil {
					return loaded{}, err
				}
				return loaded{func() any { return x.Snapshot() }, x.Persist}, nil
			}
		}
		l, err := load()
		if err != nil {
			if which >= 4 {
				t.Fatalf("%s with a valid backup failed to load: %v", name, err)
			}
			return
		}
		before := l.snap()
		if err := l.persist(); err != nil {
			t.Fatal(err)
		}
		l2, err := load()
		if err != nil {
			t.Fatalf("reload of a persisted %s: %v", name, err)
		}
		if after := l2.snap(); !reflect.DeepEqual(before, after) {
			t.Fatalf("%s changed across persist and reload:\n%#v\n%#v", name, before, after)
		}
	})
}
