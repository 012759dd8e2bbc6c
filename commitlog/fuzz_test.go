package commitlog

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/skiffmq/skiff/internal/message"
)

// fuzzStore writes n messages with distinct bodies to topic's queue 0 and closes the store
// cleanly. It returns the config, the bodies by queue offset and each record's [start, end) in
// the commit log.
func fuzzStore(t *testing.T, topic string, n int) (Config, []string, [][2]int64) {
	t.Helper()
	c := testConfig(t.TempDir())
	s, err := Open(c)
	if err != nil {
		t.Fatal(err)
	}
	var bodies []string
	var spans [][2]int64
	for i := range n {
		body := fmt.Sprintf("%s-body-%d", topic, i)
		r := s.PutMessage(newMsg(topic, 0, body, nil))
		if r.Status != PutOK || r.QueueOffset != int64(i) {
			t.Fatalf("put %d: %+v", i, r)
		}
		bodies = append(bodies, body)
		spans = append(spans, [2]int64{r.CommitLogOffset, r.EndOffset})
	}
	s.WaitDispatched(s.MaxPhyOffset(), 5e9)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return c, bodies, spans
}

// overwrite writes garbage at pos of file and returns the positions of the bytes it changed.
func overwrite(t *testing.T, path string, pos int64, garbage []byte) []int64 {
	t.Helper()
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if pos >= int64(len(before)) {
		return nil
	}
	garbage = garbage[:min(int64(len(garbage)), int64(len(before))-pos)]
	fh, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fh.WriteAt(garbage, pos); err != nil {
		t.Fatal(err)
	}
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}
	var changed []int64
	for i, b := range garbage {
		if before[pos+int64(i)] != b {
			changed = append(changed, pos+int64(i))
		}
	}
	return changed
}

// markCrashed leaves the abort marker an open store leaves behind, so the next Open runs the
// crash recovery over the log.
func markCrashed(t *testing.T, c Config) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(c.StorePathRootDir, "abort"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkServed pulls the queue from offset 0 one message at a time. A served message must come
// from the queue offset its record names, within the range the read covered, and be exactly the
// message written there (valid CRC), never another; a damaged entry or record may be skipped.
// Every offset below intact must be served; past the written ones nothing, unless extraOK.
func checkServed(t *testing.T, s *Store, topic string, bodies []string, intact int, extraOK bool) {
	t.Helper()
	served := map[int64]bool{}
	for off := int64(0); off < int64(len(bodies))+2; {
		res := s.GetMessage(topic, 0, off, 1, nil)
		if len(res.Messages) > 1 {
			t.Fatalf("offset %d: %d messages for maxMsgNums 1", off, len(res.Messages))
		}
		next := max(off+1, res.NextBeginOffset)
		for _, raw := range res.Messages {
			m, err := message.Decode(raw, true)
			if err != nil {
				t.Fatalf("offset %d: served bytes that do not decode: %v", off, err)
			}
			if m.QueueOffset < off || m.QueueOffset >= next || m.Topic != topic || m.QueueID != 0 {
				t.Fatalf("read from %d (next %d) served %s/%d offset %d", off, next, m.Topic, m.QueueID, m.QueueOffset)
			}
			if m.QueueOffset >= int64(len(bodies)) {
				if !extraOK {
					t.Fatalf("served %q at offset %d, but only %d messages were written", m.Body, m.QueueOffset, len(bodies))
				}
			} else if string(m.Body) != bodies[m.QueueOffset] {
				t.Fatalf("offset %d: served %q, want %q (an entry pointing at another message)", m.QueueOffset, m.Body, bodies[m.QueueOffset])
			}
			served[m.QueueOffset] = true
		}
		off = next
	}
	for i := range intact {
		if !served[int64(i)] {
			t.Fatalf("offset %d (intact on disk) is not served", i)
		}
	}
}

// FuzzCommitLogRecovery overwrites bytes of the first segment of a store holding 3 messages
// (clean stop, or crash when crashed is set) and reopens it. Open must not panic; it may refuse
// only a store whose records were damaged, and then with ErrCorrupt. An opened store serves every
// record before the first damaged byte, serves at queue offset i only message i (valid CRC), and
// accepts and serves a new message. After a clean stop the log ends at the checkpoint, so garbage
// after it is never served; after a crash the recovery may find records in the tail.
func FuzzCommitLogRecovery(f *testing.F) {
	f.Add([]byte{}, uint16(0), false)
	f.Add([]byte{0, 0, 0, 200, 0xDA, 0xA3, 0x20, 0xA7, 1, 2, 3}, uint16(10), true)
	f.Add([]byte{0, 0, 0, 8, 0xCB, 0xD4, 0x31, 0x94}, uint16(0), true)
	f.Add([]byte("garbage past the end of the log"), uint16(300), false)
	f.Add([]byte("garbage past the end of the log"), uint16(300), true)
	f.Add([]byte{0xFF}, uint16(120), true)
	f.Fuzz(func(t *testing.T, garbage []byte, at uint16, crashed bool) {
		c, bodies, spans := fuzzStore(t, "F", 3)
		end := spans[len(spans)-1][1]
		if !crashed {
			at = uint16(min(int64(at)+end, 1<<16-1)) // a clean stop trusts its checkpoint: damage only past it
		}
		if len(garbage) > 4096 {
			garbage = garbage[:4096]
		}
		changed := overwrite(t, filepath.Join(c.StorePathCommitLog, segmentName(0)), int64(at), garbage)
		if crashed {
			markCrashed(t, c)
		}
		intact := len(bodies) // records before the first changed byte
		for i, sp := range spans {
			for _, p := range changed {
				if p >= sp[0] && p < sp[1] {
					intact = min(intact, i)
				}
			}
		}
		s, err := Open(c)
		if err != nil {
			if intact == len(bodies) || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open refused a store (records intact: %d of %d): %v", intact, len(bodies), err)
			}
			return
		}
		defer s.Close()
		checkServed(t, s, "F", bodies, intact, crashed)
		r := s.PutMessage(newMsg("F", 0, "after", nil))
		if r.Status != PutOK {
			t.Fatalf("put after recovery: %+v", r)
		}
		s.WaitDispatched(s.MaxPhyOffset(), 5e9)
		got := s.GetMessage("F", 0, r.QueueOffset, 1, nil).Messages
		if len(got) != 1 || !bytes.Contains(got[0], []byte("after")) {
			t.Fatalf("the message put after recovery is not served at queue offset %d", r.QueueOffset)
		}
	})
}

// FuzzConsumeQueueRecovery overwrites bytes of the consume-queue file of a store holding 5
// messages (clean stop, or crash) and reopens it: no panic; a refusal only for a damaged file and
// with ErrCorrupt; entries before the first damaged one are served; queue offset i serves only
// message i (an entry pointing at another record, or at no record, is never served as i).
func FuzzConsumeQueueRecovery(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0x7F, 0xFF, 0xFF, 0xFF}, uint8(0), false)
	f.Add(make([]byte, 40), uint8(1), true)
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0}, uint8(20), false) // entry 1 points at record 0
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0}, uint8(40), true)
	f.Fuzz(func(t *testing.T, garbage []byte, at uint8, crashed bool) {
		c, bodies, _ := fuzzStore(t, "Q", 5)
		if len(garbage) > 400 {
			garbage = garbage[:400]
		}
		pos := int64(at) % 100
		changed := overwrite(t, filepath.Join(cqDir(c.StorePathRootDir, "Q", 0), segmentName(0)), pos, garbage)
		if crashed {
			markCrashed(t, c)
		}
		intact := len(bodies)
		for _, p := range changed {
			intact = min(intact, int(p/cqEntrySize))
		}
		s, err := Open(c)
		if err != nil {
			if intact == len(bodies) || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open refused a store (entries intact: %d of %d): %v", intact, len(bodies), err)
			}
			return
		}
		defer s.Close()
		checkServed(t, s, "Q", bodies, intact, false)
	})
}
