package commitlog

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/skiffmq/skiff/internal/message"
)

// FuzzCommitLogRecovery writes arbitrary bytes after some valid records of a segment and reopens
// the store: recovery must not panic, and every message it then serves must be one that was
// written (valid CRC, known body).
func FuzzCommitLogRecovery(f *testing.F) {
	f.Add([]byte{}, uint16(0))
	f.Add([]byte{0, 0, 0, 200, 0xDA, 0xA3, 0x20, 0xA7, 1, 2, 3}, uint16(10))
	f.Add([]byte{0, 0, 0, 8, 0xCB, 0xD4, 0x31, 0x94}, uint16(0))
	f.Fuzz(func(t *testing.T, garbage []byte, at uint16) {
		dir := t.TempDir()
		c := testConfig(dir)
		s, err := Open(c)
		if err != nil {
			t.Fatal(err)
		}
		written := map[string]bool{}
		for i := 0; i < 3; i++ {
			body := string(rune('a'+i)) + "-body"
			written[body] = true
			s.PutMessage(newMsg("F", 0, body, nil))
		}
		end := s.MaxPhyOffset()
		s.Close()
		pos := min(int64(at), end)
		fh, err := os.OpenFile(filepath.Join(c.StorePathCommitLog, segmentName(0)), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(garbage) > 4096 {
			garbage = garbage[:4096]
		}
		fh.WriteAt(garbage, pos)
		fh.Close()
		s, err = Open(c)
		if err != nil {
			return // refusing to open is acceptable; panicking is not
		}
		defer s.Close()
		for _, raw := range s.GetMessage("F", 0, 0, 32, nil).Messages {
			m, err := message.Decode(raw, true)
			if err != nil || !written[string(m.Body)] {
				t.Fatalf("served a message that was not written: %v %q", err, raw)
			}
		}
	})
}

// FuzzConsumeQueueRecovery overwrites a consume-queue file with arbitrary bytes and reopens the
// store: no panic, and every message served is one that was written.
func FuzzConsumeQueueRecovery(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0x7F, 0xFF, 0xFF, 0xFF}, uint8(0))
	f.Add(make([]byte, 40), uint8(1))
	f.Fuzz(func(t *testing.T, garbage []byte, at uint8) {
		dir := t.TempDir()
		c := testConfig(dir)
		s, err := Open(c)
		if err != nil {
			t.Fatal(err)
		}
		written := map[string]bool{}
		for i := 0; i < 5; i++ {
			body := "cq-" + string(rune('a'+i))
			written[body] = true
			s.PutMessage(newMsg("Q", 0, body, nil))
		}
		s.Close()
		if len(garbage) > 400 {
			garbage = garbage[:400]
		}
		fh, err := os.OpenFile(filepath.Join(cqDir(dir, "Q", 0), segmentName(0)), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		fh.WriteAt(garbage, int64(at)%100)
		fh.Close()
		s, err = Open(c)
		if err != nil {
			return
		}
		defer s.Close()
		for off := int64(0); off < s.MaxOffsetInQueue("Q", 0)+1; off++ {
			for _, raw := range s.GetMessage("Q", 0, off, 32, nil).Messages {
				m, err := message.Decode(raw, true)
				if err != nil || !written[string(m.Body)] {
					t.Fatalf("served a message that was not written: %v %q", err, raw)
				}
			}
		}
	})
}
