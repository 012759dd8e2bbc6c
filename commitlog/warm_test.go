package commitlog

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestCommitLogWarmCreatesNextSegmentAhead: with WarmMappedFile the next segment exists before
// the writer reaches it, the messages on both sides of the boundary read back, and the store
// reopens cleanly, and after a crash, with the pre-created segment in place.
func TestCommitLogWarmCreatesNextSegmentAhead(t *testing.T) {
	for _, crash := range []bool{false, true} {
		dir := t.TempDir()
		c := DefaultConfig(dir)
		c.MappedFileSizeCommitLog = warmNextMinSegment
		c.MaxMessageSize = 1 << 20
		c.WarmMappedFile = true
		s := mustOpen(t, c)
		body := bytes.Repeat([]byte("w"), 256<<10)
		next := filepath.Join(s.dir, segmentName(warmNextMinSegment))
		n := 0
		// Fill the first segment until the writer is within the warm window of its end.
		for s.wrote.Load() < warmNextMinSegment-warmAhead/2 {
			if r := s.PutMessage(newMsg("W", 0, string(body), nil)); r.Status != PutOK {
				t.Fatalf("put %d: %v %v", n, r.Status, r.Err)
			}
			n++
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			if _, err := os.Stat(next); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the next segment was not created ahead of the writer")
			}
			time.Sleep(10 * time.Millisecond)
		}
		if w := s.wrote.Load(); w >= warmNextMinSegment {
			t.Fatalf("the writer already reached the next segment (%d)", w)
		}
		// Cross into the pre-created segment.
		for i := 0; i < warmAhead/len(body); i++ {
			if r := s.PutMessage(newMsg("W", 0, string(body), nil)); r.Status != PutOK {
				t.Fatalf("put %d: %v %v", n, r.Status, r.Err)
			}
			n++
		}
		if s.wrote.Load() <= warmNextMinSegment {
			t.Fatalf("the writer did not cross into the next segment (%d)", s.wrote.Load())
		}
		s.WaitDispatched(s.MaxPhyOffset(), 10*time.Second)
		if got := len(pullAll(t, s, "W", 0)); got != n {
			t.Fatalf("read %d messages, want %d", got, n)
		}
		if crash { // kill -9: no Close, files stay as the page cache has them
			s.closed.Store(true)
			close(s.done)
			s.wg.Wait()
			s.closeFiles()
		} else if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		c.WarmMappedFile = false
		s = mustOpen(t, c)
		s.WaitDispatched(s.MaxPhyOffset(), 10*time.Second)
		msgs := pullAll(t, s, "W", 0)
		if len(msgs) != n || !bytes.Equal(msgs[n-1].Body, body) || msgs[n-1].Topic != "W" {
			t.Fatalf("crash=%v: after reopen read %d messages, want %d", crash, len(msgs), n)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
