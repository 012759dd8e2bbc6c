package commitlog

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/message"
)

// FuzzCheckpointDecode: arbitrary checkpoint bytes never panic the decoder; a slot it accepts
// encodes back to the same bytes; a store opened over such a file either opens or refuses with
// an error, never panics.
func FuzzCheckpointDecode(f *testing.F) {
	good := encodeCheckpoint(checkpointState{Seq: 3, Flushed: 500, ConsumeQueue: 400, Index: 400, Clean: true})
	f.Add(good)
	f.Add(append(make([]byte, checkpointSlot2), good...))
	f.Add(append(make([]byte, 40), 0, 0, 0, 0, 0, 0, 1, 0))
	f.Add([]byte("SKCP"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if st, err := decodeCheckpoint(b); err == nil {
			if enc := encodeCheckpoint(st); !bytes.Equal(enc, b[:checkpointSlotSize]) {
				t.Fatalf("slot does not round-trip: %x → %+v → %x", b[:checkpointSlotSize], st, enc)
			}
		}
		parseCheckpointFile(b)
		dir := t.TempDir()
		c := testConfig(dir)
		s, err := Open(c)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			s.PutMessage(newMsg("CK", 0, fmt.Sprint(i), nil))
		}
		s.Close()
		if len(b) > checkpointSize {
			b = b[:checkpointSize]
		}
		if err := os.WriteFile(filepath.Join(dir, "checkpoint"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		if s, err := Open(c); err == nil {
			for _, raw := range s.GetMessage("CK", 0, 0, 32, nil).Messages {
				if _, err := message.Decode(raw, true); err != nil {
					t.Fatalf("served a record that does not decode: %v", err)
				}
			}
			s.Close()
		}
	})
}

// FuzzIndexFile overwrites part of an index file (header, slot table or entries) with arbitrary
// bytes and reopens the store: queries never panic and return only messages that carry the key.
func FuzzIndexFile(f *testing.F) {
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, uint16(36))
	f.Add([]byte{0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0x10}, uint16(44))
	f.Add(bytes.Repeat([]byte{0x7f}, 64), uint16(0))
	f.Add([]byte{0x80, 0, 0, 0}, uint16(40+64*4+20+16))
	f.Fuzz(func(t *testing.T, garbage []byte, at uint16) {
		dir := t.TempDir()
		c := testConfig(dir)
		c.MaxHashSlotNum, c.MaxIndexNum = 64, 100
		s, err := Open(c)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 30; i++ {
			s.PutMessage(newMsg("IX", 0, fmt.Sprint(i), map[string]string{"KEYS": fmt.Sprintf("k%d k", i%5)}))
		}
		s.WaitDispatched(s.MaxPhyOffset(), 5*time.Second)
		s.Close()
		files, _ := filepath.Glob(filepath.Join(dir, "index", "*"))
		if len(files) == 0 {
			t.Fatal("no index file")
		}
		fh, err := os.OpenFile(files[0], os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(garbage) > 512 {
			garbage = garbage[:512]
		}
		size := int64(40 + 64*4 + 100*20)
		pos := int64(at) % size
		fh.WriteAt(garbage[:min(int64(len(garbage)), size-pos)], pos)
		fh.Close()
		s, err = Open(c)
		if err != nil {
			return
		}
		defer s.Close()
		for _, key := range []string{"k", "k1", "k4", "none"} {
			for _, raw := range s.QueryMessage("IX", key, 64, 0, time.Now().UnixMilli()+60000).Messages {
				m, err := message.Decode(raw, true)
				if err != nil || m.Topic != "IX" || !bytes.Contains([]byte(" "+m.Properties["KEYS"]+" "), []byte(" "+key+" ")) {
					t.Fatalf("query %q returned a message without the key: %v %v", key, m, err)
				}
			}
		}
	})
}

// FuzzCommitLogLaterSegment writes arbitrary bytes into the second or third of several segments,
// after a clean stop or a crash. Open either refuses with ErrCorrupt or opens; it never panics and
// never serves a record that was not written. After a refusal Repair succeeds and the store opens.
func FuzzCommitLogLaterSegment(f *testing.F) {
	f.Add([]byte{0, 0, 0, 200, 0xDA, 0xA3, 0x20, 0xA7, 1, 2}, uint32(70000), true)
	f.Add([]byte{0xff}, uint32(65536+100), true)
	f.Add([]byte{0, 0, 0, 8, 0xCB, 0xD4, 0x31, 0x94}, uint32(131072+5000), false)
	f.Add(bytes.Repeat([]byte{0}, 300), uint32(65536), true)
	f.Fuzz(func(t *testing.T, garbage []byte, at uint32, crash bool) {
		dir := t.TempDir()
		c := testConfig(dir)
		s, err := Open(c)
		if err != nil {
			t.Fatal(err)
		}
		written := map[string]bool{}
		for i := 0; i < 200; i++ { // ~3 segments of 64 KiB
			body := fmt.Sprintf("%03d-%0900d", i, 0)
			written[body] = true
			s.PutMessage(newMsg("LS", int32(i%2), body, nil))
		}
		end := s.MaxPhyOffset()
		s.Close()
		seg := c.MappedFileSizeCommitLog
		pos := seg + int64(at)%(end-seg) // anywhere in the second segment or later
		if len(garbage) > 4096 {
			garbage = garbage[:4096]
		}
		fh, err := os.OpenFile(filepath.Join(c.StorePathCommitLog, segmentName(pos-pos%seg)), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		fh.WriteAt(garbage[:min(int64(len(garbage)), seg-pos%seg)], pos%seg)
		fh.Close()
		if crash {
			os.WriteFile(filepath.Join(dir, "abort"), nil, 0o644)
		}
		check := func(s *Store) {
			for q := int32(0); q < 2; q++ {
				for off := s.MinOffsetInQueue("LS", q); off < s.MaxOffsetInQueue("LS", q); off++ {
					for _, raw := range s.GetMessage("LS", q, off, 1, nil).Messages {
						m, err := message.Decode(raw, true)
						if err != nil || !written[string(m.Body)] {
							t.Fatalf("served a record that was not written: %v", err)
						}
					}
				}
			}
		}
		s, err = Open(c)
		if err == nil {
			check(s)
			s.Close()
			return
		}
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("open refused with %v, want ErrCorrupt", err)
		}
		if _, err := Repair(c); err != nil {
			t.Fatalf("repair: %v", err)
		}
		s, err = Open(c)
		if err != nil {
			t.Fatalf("open after repair: %v", err)
		}
		defer s.Close()
		check(s)
	})
}
