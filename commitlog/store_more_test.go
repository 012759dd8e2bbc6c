package commitlog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/message"
)

func TestCommitLogBatchIsContiguousWithConsecutiveQueueOffsets(t *testing.T) {
	c := testConfig(t.TempDir())
	c.MaxMessageSize = 63 << 10
	s := mustOpen(t, c)
	defer s.Close()
	s.PutMessage(newMsg("B", 1, "before", nil))
	// Fill most of the first segment so the next batch does not fit and must move whole.
	filler := make([]byte, 60<<10)
	if r := s.PutMessage(&message.Message{Topic: "Fill", Body: filler}); r.Status != PutOK {
		t.Fatalf("filler: %+v", r)
	}
	var batch []*message.Message
	for i := 0; i < 10; i++ {
		batch = append(batch, newMsg("B", 1, fmt.Sprintf("b%d-%0600d", i, 0), nil))
	}
	r := s.PutMessages(batch)
	if r.Status != PutOK || r.MsgCount != 10 || r.QueueOffset != 1 {
		t.Fatalf("batch: %+v", r)
	}
	if r.CommitLogOffset != c.MappedFileSizeCommitLog {
		t.Fatalf("batch starts at %d, want the next segment at %d (a batch never straddles)", r.CommitLogOffset, c.MappedFileSizeCommitLog)
	}
	at := r.CommitLogOffset
	for i, m := range batch {
		if m.QueueOffset != int64(1+i) || m.CommitLogOffset != at {
			t.Fatalf("batch member %d: queue offset %d at %d, want %d at %d", i, m.QueueOffset, m.CommitLogOffset, 1+i, at)
		}
		at += int64(m.StoreSize)
	}
	if r.EndOffset != at || r.WroteBytes != int(at-r.CommitLogOffset) {
		t.Fatalf("end %d wrote %d, want end %d", r.EndOffset, r.WroteBytes, at)
	}
	s.WaitDispatched(s.MaxPhyOffset(), 5*time.Second)
	got := pullAll(t, s, "B", 1)
	if len(got) != 11 || string(got[10].Body[:2]) != "b9" {
		t.Fatalf("pulled %d messages", len(got))
	}
}

func TestCommitLogRefusesRecordsLargerThanASegment(t *testing.T) {
	c := testConfig(t.TempDir())
	c.MaxMessageSize = 1 << 20 // larger than the 64 KiB segments
	s := mustOpen(t, c)
	defer s.Close()
	r := s.PutMessage(&message.Message{Topic: "Big", Body: make([]byte, c.MappedFileSizeCommitLog)})
	if r.Status != MessageIllegal || r.Err == nil {
		t.Fatalf("a record larger than a segment: %+v", r)
	}
	big := make([]*message.Message, 3)
	for i := range big {
		big[i] = &message.Message{Topic: "Big", Body: make([]byte, 30<<10)}
	}
	if r := s.PutMessages(big); r.Status != MessageIllegal {
		t.Fatalf("a batch larger than a segment: %+v", r)
	}
	if r := s.PutMessage(newMsg("Big", 0, "small", nil)); r.Status != PutOK || r.QueueOffset != 0 || r.CommitLogOffset != 0 {
		t.Fatalf("append after refusals: %+v", r)
	}
	if r := s.PutMessages(nil); r.Status != MessageIllegal {
		t.Fatalf("empty batch: %+v", r)
	}
	props := map[string]string{"P": string(make([]byte, 40000))}
	if r := s.PutMessage(newMsg("Big", 0, "x", props)); r.Status != PropertiesSizeExceeded {
		t.Fatalf("40000 bytes of properties: %+v", r)
	}
}

func TestCommitLogTransactionHalfAndRollbackAreNotDispatched(t *testing.T) {
	s := mustOpen(t, testConfig(t.TempDir()))
	defer s.Close()
	half := newMsg("TX", 0, "half", map[string]string{"UNIQ_KEY": "HALF1"})
	half.SysFlag = message.TransactionPrepared
	rb := newMsg("TX", 0, "rollback", nil)
	rb.SysFlag = message.TransactionRollback
	commit := newMsg("TX", 0, "commit", nil)
	commit.SysFlag = message.TransactionCommit
	for _, m := range []*message.Message{half, rb, commit} {
		if r := s.PutMessage(m); r.Status != PutOK || r.QueueOffset != 0 {
			t.Fatalf("%s: %+v", m.Body, r)
		}
	}
	s.WaitDispatched(s.MaxPhyOffset(), 5*time.Second)
	got := pullAll(t, s, "TX", 0)
	if len(got) != 1 || string(got[0].Body) != "commit" {
		t.Fatalf("consume queue holds %d messages, want only the committed one", len(got))
	}
	if raw, err := s.LookupMessage(half.CommitLogOffset); err != nil || len(raw) != int(half.StoreSize) {
		t.Fatalf("half message by offset: %v", err)
	}
	if q := s.QueryMessage("TX", "HALF1", 8, 0, time.Now().UnixMilli()+1000); len(q.Messages) != 1 {
		t.Fatalf("half message by unique key: %d results", len(q.Messages))
	}
}

func TestCommitLogScheduleTopicTagCodeIsDeliveryTime(t *testing.T) {
	c := testConfig(t.TempDir())
	c.MessageDelayLevel = "1s 5s 10s"
	s := mustOpen(t, c)
	defer s.Close()
	var mu sync.Mutex
	codes := map[int32]int64{}
	s.OnDispatch(func(topic string, qid int32, qoff, tags int64) {
		if topic == scheduleTopic {
			mu.Lock()
			codes[qid] = tags
			mu.Unlock()
		}
	})
	m := newMsg(scheduleTopic, 1, "delayed", map[string]string{"TAGS": "A", "DELAY": "2"})
	s.PutMessage(m)
	s.WaitDispatched(s.MaxPhyOffset(), 5*time.Second)
	want := m.StoreTimestamp + 5000 // queue 1 = level 2 = 5 s
	r := s.GetMessage(scheduleTopic, 1, 0, 1, func(code int64) bool { return code == want })
	if r.Status != Found {
		t.Fatalf("schedule entry tag code is not the delivery time: %v", r.Status)
	}
	mu.Lock()
	defer mu.Unlock()
	if codes[1] != want {
		t.Fatalf("OnDispatch tag code %d, want %d", codes[1], want)
	}
}

func TestCommitLogOnDispatchIsPromptAndOrdered(t *testing.T) {
	s := mustOpen(t, testConfig(t.TempDir()))
	defer s.Close()
	type ev struct {
		qid  int32
		qoff int64
		tags int64
	}
	evs := make(chan ev, 64)
	s.OnDispatch(func(topic string, qid int32, qoff, tags int64) { evs <- ev{qid, qoff, tags} })
	for i := 0; i < 5; i++ {
		s.PutMessage(newMsg("D", 2, fmt.Sprint(i), map[string]string{"TAGS": "T1"}))
		// The entry exists when the callback runs: a woken long poll finds the message.
		e := <-evs
		if e.qid != 2 || e.qoff != int64(i) || e.tags != message.TagsCode("T1") {
			t.Fatalf("event %d = %+v", i, e)
		}
		if hi := s.MaxOffsetInQueue("D", 2); hi != int64(i+1) {
			t.Fatalf("max offset %d when the callback for %d ran", hi, i)
		}
	}
}

func TestCommitLogCorruptRecordInOldSegmentIsDetectedOnRead(t *testing.T) {
	dir := t.TempDir()
	c := testConfig(dir)
	s := mustOpen(t, c)
	var first *message.Message
	for i := 0; i < 400; i++ { // ~ 6 segments: recovery scans only the last three
		m := newMsg("OLD", 0, fmt.Sprintf("%03d-%0900d", i, 0), nil)
		s.PutMessage(m)
		if i == 1 {
			first = m
		}
	}
	s.Close()
	f, err := os.OpenFile(filepath.Join(c.StorePathCommitLog, segmentName(0)), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	f.ReadAt(b[:], first.CommitLogOffset+100)
	b[0] ^= 0x55
	f.WriteAt(b[:], first.CommitLogOffset+100)
	f.Close()

	s = mustOpen(t, c)
	defer s.Close()
	if _, err := s.LookupMessage(first.CommitLogOffset); !errors.Is(err, ErrCorrupt) || !errors.Is(err, message.ErrBadCRC) {
		t.Fatalf("lookup of the corrupted record: %v, want ErrCorrupt (bad CRC)", err)
	}
	msgs := pullAll(t, s, "OLD", 0)
	if len(msgs) != 399 {
		t.Fatalf("%d messages served, want 399 (all but the corrupted one)", len(msgs))
	}
	for _, m := range msgs {
		if m.CommitLogOffset == first.CommitLogOffset {
			t.Fatal("the corrupted record was served")
		}
	}
}

func TestCommitLogQueryByKeyIgnoresHashCollisions(t *testing.T) {
	s := mustOpen(t, testConfig(t.TempDir()))
	defer s.Close()
	// "Aa" and "BB" have the same Java hash code, so "K#Aa" and "K#BB" share a chain.
	s.PutMessage(newMsg("K", 0, "aa", map[string]string{"KEYS": "Aa"}))
	s.PutMessage(newMsg("K", 0, "bb", map[string]string{"KEYS": "BB"}))
	s.PutMessage(newMsg("L", 0, "other topic", map[string]string{"KEYS": "Aa"}))
	s.WaitDispatched(s.MaxPhyOffset(), 5*time.Second)
	q := s.QueryMessage("K", "Aa", 10, 0, time.Now().UnixMilli()+1000)
	if len(q.Messages) != 1 {
		t.Fatalf("query K/Aa: %d results, want 1", len(q.Messages))
	}
	m, _ := message.Decode(q.Messages[0], true)
	if string(m.Body) != "aa" {
		t.Fatalf("query K/Aa returned %q", m.Body)
	}
}

func TestCommitLogDeleteTopicDropsItsQueues(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, testConfig(dir))
	defer s.Close()
	for i := 0; i < 3; i++ {
		s.PutMessage(newMsg("Gone", int32(i), "x", nil))
	}
	s.PutMessage(newMsg("Kept", 0, "y", nil))
	s.WaitDispatched(s.MaxPhyOffset(), 5*time.Second)
	s.DeleteTopic("Gone")
	if r := s.GetMessage("Gone", 0, 0, 1, nil); r.Status != NoMatchedLogicQueue {
		t.Fatalf("deleted topic: %v", r.Status)
	}
	if _, err := os.Stat(filepath.Join(dir, "consumequeue", "Gone")); !os.IsNotExist(err) {
		t.Fatalf("consume-queue folder of the deleted topic: %v", err)
	}
	m := newMsg("Gone", 0, "again", nil)
	if r := s.PutMessage(m); r.Status != PutOK || m.QueueOffset != 0 {
		t.Fatalf("re-created topic starts at queue offset %d: %+v", m.QueueOffset, r)
	}
	if got := pullAll(t, s, "Kept", 0); len(got) != 1 {
		t.Fatalf("other topic: %d messages", len(got))
	}
}
