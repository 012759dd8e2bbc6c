package consumer

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skiffmq/skiff/client"
)

var (
	mqA = client.MessageQueue{Topic: "T", BrokerName: "b1", QueueID: 0}
	mqB = client.MessageQueue{Topic: "T", BrokerName: "b1", QueueID: 1}
	mqC = client.MessageQueue{Topic: "U", BrokerName: "b2", QueueID: 3}
)

func readOffset(t *testing.T, s OffsetStore, mq client.MessageQueue) int64 {
	t.Helper()
	v, err := s.Read(context.Background(), mq, false)
	if err != nil {
		t.Fatalf("Read(%v): %v", mq, err)
	}
	return v
}

func TestLocalOffsetStoreRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "dir", "offsets.json")
	s := NewLocalOffsetStore(path)
	if s.Path() != path {
		t.Fatalf("Path() = %q", s.Path())
	}
	if v := readOffset(t, s, mqA); v != -1 {
		t.Fatalf("Read of an empty store = %d, want -1", v)
	}
	s.Update(mqA, 10, false)
	s.Update(mqB, 20, false)
	s.Update(mqC, 30, false)
	if v := readOffset(t, s, mqA); v != 10 {
		t.Fatalf("Read = %d, want 10", v)
	}
	if err := s.Persist(context.Background(), nil); err != nil {
		t.Fatalf("Persist: %v", err)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("temporary file left behind: %v", err)
	}
	// The file is RocketMQ's layout: {"offsetTable":{"topic@broker@queue":offset}}.
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		OffsetTable map[string]int64 `json:"offsetTable"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("offsets file %s: %v", b, err)
	}
	if len(f.OffsetTable) != 3 || f.OffsetTable["T@b1@0"] != 10 || f.OffsetTable["T@b1@1"] != 20 || f.OffsetTable["U@b2@3"] != 30 {
		t.Fatalf("offset table %v", f.OffsetTable)
	}

	// A new store on the same file reads them back.
	s2 := NewLocalOffsetStore(path)
	for mq, want := range map[client.MessageQueue]int64{mqA: 10, mqB: 20, mqC: 30} {
		if v := readOffset(t, s2, mq); v != want {
			t.Errorf("reloaded %v = %d, want %d", mq, v, want)
		}
	}
	if v, err := s2.Read(context.Background(), client.MessageQueue{Topic: "T", BrokerName: "b1", QueueID: 7}, true); err != nil || v != -1 {
		t.Errorf("unknown queue after reload = %d, %v", v, err)
	}

	// Remove forgets a queue; the next Persist drops it from the file.
	s2.Remove(mqB)
	if v := readOffset(t, s2, mqB); v != -1 {
		t.Fatalf("Read after Remove = %d", v)
	}
	if err := s2.Persist(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	s3 := NewLocalOffsetStore(path)
	if readOffset(t, s3, mqB) != -1 || readOffset(t, s3, mqA) != 10 {
		t.Fatal("Remove did not reach the file")
	}
}

func TestOffsetStoreIncreaseOnly(t *testing.T) {
	s := NewLocalOffsetStore(filepath.Join(t.TempDir(), "o.json"))
	s.Update(mqA, 5, true) // no value yet: set
	if v := readOffset(t, s, mqA); v != 5 {
		t.Fatalf("first increaseOnly update = %d, want 5", v)
	}
	s.Update(mqA, 3, true)
	s.Update(mqA, 5, true)
	if v := readOffset(t, s, mqA); v != 5 {
		t.Fatalf("lower increaseOnly update applied: %d", v)
	}
	s.Update(mqA, 8, true)
	if v := readOffset(t, s, mqA); v != 8 {
		t.Fatalf("higher increaseOnly update = %d, want 8", v)
	}
	s.Update(mqA, 2, false)
	if v := readOffset(t, s, mqA); v != 2 {
		t.Fatalf("plain update = %d, want 2", v)
	}
}

func TestLocalOffsetStoreCorruptFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "offsets.json")
	if err := os.WriteFile(path, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := NewLocalOffsetStore(path)
	_, err := s.Read(context.Background(), mqA, false)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("Read of a corrupt file = %v, want an error naming %s", err, path)
	}
	if err := s.Persist(context.Background(), nil); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Persist over a corrupt file = %v, want an error", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "{not json" {
		t.Fatalf("the corrupt file was overwritten: %q", b)
	}
}

func TestLocalOffsetStoreIgnoresBadKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "offsets.json")
	body := `{"offsetTable":{"T@b1@0":4,"garbage":9,"T@b1@x":9,"U@b2@3":6}}`
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	s := NewLocalOffsetStore(path)
	if readOffset(t, s, mqA) != 4 || readOffset(t, s, mqC) != 6 {
		t.Fatal("good keys not loaded next to bad ones")
	}
}

func TestLocalOffsetStoreUnwritableDir(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s := NewLocalOffsetStore(filepath.Join(blocker, "offsets.json")) // a file where a folder should be
	s.Update(mqA, 1, false)
	if err := s.Persist(context.Background(), nil); err == nil {
		t.Fatal("Persist under a regular file succeeded")
	}
}

// Offsets set before the file was first read must survive the first Persist after a restart.
func TestLocalOffsetStoreUpdateBeforeLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "offsets.json")
	s := NewLocalOffsetStore(path)
	s.Update(mqA, 5, false)
	if err := s.Persist(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	// A restarted consumer commits a newer offset (PullConsumer.CommitOffset does Update then
	// Persist, without a Read first).
	s2 := NewLocalOffsetStore(path)
	s2.Update(mqA, 10, false)
	if err := s2.Persist(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if v := readOffset(t, s2, mqA); v != 10 {
		t.Fatalf("the first Persist after a restart loaded the file over a newer in-memory offset: Read = %d, want 10", v)
	}
	if v := readOffset(t, NewLocalOffsetStore(path), mqA); v != 10 {
		t.Fatalf("file holds %d, want 10", v)
	}
}

func TestMQKeyRoundTrip(t *testing.T) {
	cases := []client.MessageQueue{
		{Topic: "T", BrokerName: "b1", QueueID: 0},
		{Topic: "%RETRY%group", BrokerName: "broker-a", QueueID: 15},
		{Topic: "a@b", BrokerName: "b", QueueID: 2}, // '@' in the topic survives: parsing splits at the last two
		{Topic: "", BrokerName: "", QueueID: 0},
		{Topic: "T", BrokerName: "b", QueueID: -1},
		{Topic: "T", BrokerName: "b", QueueID: 2147483647},
	}
	for _, mq := range cases {
		k := mqKey(mq)
		got, ok := parseMQKey(k)
		if !ok || got != mq {
			t.Errorf("parseMQKey(mqKey(%+v)) = %+v, %v (key %q)", mq, got, ok, k)
		}
	}
	if k := mqKey(client.MessageQueue{Topic: "T", BrokerName: "b1", QueueID: 3}); k != "T@b1@3" {
		t.Errorf("mqKey = %q, want T@b1@3 (RocketMQ's topic@broker@queue)", k)
	}
	// A broker name with '@' does not round trip: the split moves into the broker name.
	mq := client.MessageQueue{Topic: "T", BrokerName: "b@x", QueueID: 1}
	if got, ok := parseMQKey(mqKey(mq)); !ok || got != (client.MessageQueue{Topic: "T@b", BrokerName: "x", QueueID: 1}) {
		t.Errorf("broker name with '@': %+v, %v", got, ok)
	}
	for _, bad := range []string{"", "T", "T@b", "@", "T@b@", "T@b@x", "T@b@1.5", "T@b@99999999999", "Tb1"} {
		if got, ok := parseMQKey(bad); ok {
			t.Errorf("parseMQKey(%q) = %+v, accepted", bad, got)
		}
	}
}
