package metadata

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func fixedNow() time.Time { return time.UnixMilli(1700000000000) }

func TestMetadataTopicsPersistAndReload(t *testing.T) {
	dir := t.TempDir()
	tp, err := LoadTopics(dir, fixedNow, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.Put(TopicConfig{TopicName: "T1", ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6}); err != nil {
		t.Fatal(err)
	}
	c, created, err := tp.PutIfAbsent(TopicConfig{TopicName: "T1", ReadQueueNums: 8, WriteQueueNums: 8, Perm: 6})
	if err != nil || created || c.ReadQueueNums != 4 {
		t.Fatalf("PutIfAbsent on existing topic: %+v created=%v err=%v", c, created, err)
	}
	if _, created, _ := tp.PutIfAbsent(TopicConfig{TopicName: "T2", ReadQueueNums: 2, WriteQueueNums: 2, Perm: 6}); !created {
		t.Fatal("T2 not created")
	}
	if v := tp.Version(); v.Counter != 2 || v.Timestamp != 1700000000000 {
		t.Fatalf("version = %+v, want counter 2", v)
	}
	again, err := LoadTopics(dir, fixedNow, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := again.Get("T1")
	if !ok || got.ReadQueueNums != 4 || got.TopicFilterType != "SINGLE_TAG" {
		t.Fatalf("reloaded T1 = %+v ok=%v", got, ok)
	}
	if again.Version() != tp.Version() {
		t.Fatalf("reloaded version %+v != %+v", again.Version(), tp.Version())
	}
	if ok, _ := again.Delete("T2"); !ok {
		t.Fatal("delete T2")
	}
	if _, ok := again.Get("T2"); ok {
		t.Fatal("T2 still present")
	}
}

func TestMetadataFallsBackToBackup(t *testing.T) {
	dir := t.TempDir()
	tp, _ := LoadTopics(dir, fixedNow, nil)
	_ = tp.Put(TopicConfig{TopicName: "A", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6})
	_ = tp.Put(TopicConfig{TopicName: "B", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6})
	// A torn main file: the loader must use the .bak copy (which holds the previous version).
	path := filepath.Join(dir, "config", "topics.json")
	if err := os.WriteFile(path, []byte(`{"topicConfigTa`), 0o644); err != nil {
		t.Fatal(err)
	}
	again, err := LoadTopics(dir, fixedNow, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := again.Get("A"); !ok {
		t.Fatal("backup not used")
	}
}

func TestMetadataValidateTopic(t *testing.T) {
	for _, ok := range []string{"TopicTest", "%RETRY%cg1", "a|b", "x-y_z9"} {
		if err := ValidateTopic(ok); err != nil {
			t.Errorf("ValidateTopic(%q) = %v", ok, err)
		}
	}
	long := make([]byte, 128)
	for i := range long {
		long[i] = 'a'
	}
	for _, bad := range []string{"", "a b", "t.x", "主题", string(long)} {
		if err := ValidateTopic(bad); !errors.Is(err, ErrInvalidTopic) {
			t.Errorf("ValidateTopic(%q) = %v, want ErrInvalidTopic", bad, err)
		}
	}
}

func TestMetadataOffsets(t *testing.T) {
	dir := t.TempDir()
	o, err := LoadOffsets(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := o.Query("g", "T", 0); got != -1 {
		t.Fatalf("empty query = %d", got)
	}
	o.Commit("g", "T", 0, 12)
	o.Commit("g", "T", 3, 7)
	o.Commit("g2", "T", 0, 1)
	o.Commit("g", "%RETRY%g", 0, 2)
	if err := o.Persist(); err != nil {
		t.Fatal(err)
	}
	again, err := LoadOffsets(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := again.Query("g", "T", 3); got != 7 {
		t.Fatalf("reloaded offset = %d, want 7", got)
	}
	if got := again.TopicsOfGroup("g"); len(got) != 2 || got[0] != "%RETRY%g" || got[1] != "T" {
		t.Fatalf("TopicsOfGroup = %v", got)
	}
	if got := again.GroupsOfTopic("T"); len(got) != 2 {
		t.Fatalf("GroupsOfTopic = %v", got)
	}
	again.RemoveGroup("g")
	if got := again.Query("g", "T", 0); got != -1 {
		t.Fatalf("offset after RemoveGroup = %d", got)
	}
	if got := again.Query("g2", "T", 0); got != 1 {
		t.Fatalf("other group's offset = %d", got)
	}
}

func TestMetadataGroupsAndDelayOffsets(t *testing.T) {
	dir := t.TempDir()
	g, _ := LoadGroups(dir, fixedNow, nil)
	if _, ok, _ := g.GetOrCreate("cg", false); ok {
		t.Fatal("created without autoCreate")
	}
	c, ok, err := g.GetOrCreate("cg", true)
	if err != nil || !ok || c.RetryMaxTimes != 16 || c.RetryQueueNums != 1 || !c.ConsumeEnable {
		t.Fatalf("auto-created group = %+v ok=%v err=%v", c, ok, err)
	}
	g2, _ := LoadGroups(dir, fixedNow, nil)
	if _, ok := g2.Get("cg"); !ok {
		t.Fatal("group not persisted")
	}
	d, _ := LoadDelayOffsets(dir, nil)
	d.Set(3, 17)
	if err := d.Persist(); err != nil {
		t.Fatal(err)
	}
	d2, _ := LoadDelayOffsets(dir, nil)
	if d2.Get(3) != 17 || d2.Get(1) != 0 {
		t.Fatalf("delay offsets = %+v", d2.Snapshot())
	}
}

// The before-create hook runs before a topic or group exists, its error cancels the creation,
// and a snapshot taken while it runs waits for the creation.
func TestMetadataBeforeCreateHook(t *testing.T) {
	dir := t.TempDir()
	tp, err := LoadTopics(dir, fixedNow, nil)
	if err != nil {
		t.Fatal(err)
	}
	refuse := errors.New("replica 2 unreachable")
	var seen []string
	tp.SetBeforeCreate(func(c TopicConfig) error {
		if _, ok := tp.Get(c.TopicName); ok {
			t.Errorf("topic %s exists before its hook ran", c.TopicName)
		}
		seen = append(seen, c.TopicName)
		if c.TopicName == "Refused" {
			return refuse
		}
		return nil
	})
	if _, created, err := tp.PutIfAbsent(TopicConfig{TopicName: "Refused", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6}); !errors.Is(err, refuse) || created {
		t.Fatalf("refused creation: created=%v err=%v", created, err)
	}
	if _, ok := tp.Get("Refused"); ok {
		t.Fatal("a topic whose hook failed was created")
	}
	if _, created, err := tp.PutIfAbsent(TopicConfig{TopicName: "Pushed", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6}); err != nil || !created {
		t.Fatalf("created=%v err=%v", created, err)
	}
	if _, created, _ := tp.PutIfAbsent(TopicConfig{TopicName: "Pushed", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6}); created {
		t.Fatal("created twice")
	}
	if len(seen) != 2 {
		t.Fatalf("hook ran for %v, want [Refused Pushed] (not for an existing topic)", seen)
	}

	// A snapshot during a running hook includes the topic being created.
	release, entered := make(chan struct{}), make(chan struct{})
	tp.SetBeforeCreate(func(TopicConfig) error { close(entered); <-release; return nil })
	go func() {
		_, _, _ = tp.PutIfAbsent(TopicConfig{TopicName: "Slow", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6})
	}()
	<-entered
	snap := make(chan TopicTable)
	go func() { snap <- tp.Snapshot() }()
	select {
	case s := <-snap:
		t.Fatalf("snapshot did not wait for the creation in progress: %v", s.TopicConfigTable)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if s := <-snap; s.TopicConfigTable["Slow"].TopicName != "Slow" {
		t.Fatalf("snapshot after the creation lacks it: %v", s.TopicConfigTable)
	}

	gs, err := LoadGroups(dir, fixedNow, nil)
	if err != nil {
		t.Fatal(err)
	}
	gs.SetBeforeCreate(func(c SubscriptionGroupConfig) error {
		if c.GroupName == "G-refused" {
			return refuse
		}
		return nil
	})
	if _, ok, err := gs.GetOrCreate("G-refused", true); ok || !errors.Is(err, refuse) {
		t.Fatalf("refused group: ok=%v err=%v", ok, err)
	}
	if _, ok := gs.Get("G-refused"); ok {
		t.Fatal("a group whose hook failed was created")
	}
	if _, ok, err := gs.GetOrCreate("G", true); !ok || err != nil {
		t.Fatalf("group: ok=%v err=%v", ok, err)
	}
}

// ReplaceSince skips a table fetched before a local change (a slave applying a pushed topic while
// its periodic sync fetched its master's table).
func TestMetadataReplaceSince(t *testing.T) {
	tp, err := LoadTopics(t.TempDir(), fixedNow, nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := tp.Version()
	fetched := TopicTable{DataVersion: DataVersion{Counter: 7, Timestamp: 1}, TopicConfigTable: map[string]TopicConfig{"Old": {TopicName: "Old"}}}
	if err := tp.Put(TopicConfig{TopicName: "Pushed", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6}); err != nil {
		t.Fatal(err)
	}
	if changed, err := tp.ReplaceSince(seen, fetched); changed || err != nil {
		t.Fatalf("stale table installed: changed=%v err=%v", changed, err)
	}
	if _, ok := tp.Get("Pushed"); !ok {
		t.Fatal("the pushed topic was dropped")
	}
	if changed, err := tp.ReplaceSince(tp.Version(), fetched); !changed || err != nil {
		t.Fatalf("fresh table not installed: changed=%v err=%v", changed, err)
	}
	gs, err := LoadGroups(t.TempDir(), fixedNow, nil)
	if err != nil {
		t.Fatal(err)
	}
	gseen := gs.Version()
	if err := gs.Put(DefaultGroupConfig("Pushed")); err != nil {
		t.Fatal(err)
	}
	if changed, _ := gs.ReplaceSince(gseen, GroupTable{DataVersion: DataVersion{Counter: 9}}); changed {
		t.Fatal("stale group table installed")
	}
}

// Concurrent changes (a slave applying pushes from its master on several workers) all persist:
// the file is replaced through one temporary name, so writers take turns, and the file ends with
// every change.
func TestMetadataConcurrentChangesPersist(t *testing.T) {
	dir := t.TempDir()
	tp, err := LoadTopics(dir, fixedNow, nil)
	if err != nil {
		t.Fatal(err)
	}
	gs, err := LoadGroups(dir, fixedNow, nil)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 64)
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- tp.Put(TopicConfig{TopicName: fmt.Sprintf("T%d", i), ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6})
			_, _, err := gs.GetOrCreate(fmt.Sprintf("G%d", i), true)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	again, err := LoadTopics(dir, fixedNow, nil)
	if err != nil {
		t.Fatal(err)
	}
	gagain, err := LoadGroups(dir, fixedNow, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, m := len(again.Names()), len(gagain.Names()); n != 32 || m != 32 {
		t.Fatalf("reloaded %d topics and %d groups, want 32 each", n, m)
	}
}
