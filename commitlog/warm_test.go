package commitlog

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"
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

// TestCommitLogWarmPrefaultsConsumeQueueFiles: with WarmMappedFile a consume-queue file is
// mapped in full (its mapping's Rss in /proc/self/smaps) as soon as its first entry is written,
// and PrefaultStats counts it; without it only the touched page is, and nothing is counted.
func TestCommitLogWarmPrefaultsConsumeQueueFiles(t *testing.T) {
	for _, warm := range []bool{true, false} {
		c := DefaultConfig(t.TempDir())
		c.MappedFileSizeConsumeQueue = 20 * 4096 // 20 pages, a multiple of the 20-byte entry
		c.WarmMappedFile = warm
		s := mustOpen(t, c)
		if r := s.PutMessage(newMsg("CQW", 0, "x", nil)); r.Status != PutOK {
			t.Fatalf("put: %v %v", r.Status, r.Err)
		}
		s.WaitDispatched(s.MaxPhyOffset(), 10*time.Second)
		q := s.cqs[queueKey{"CQW", 0}]
		q.mu.RLock()
		data := q.segs[0].data
		q.mu.RUnlock()
		rss, ok := mappingRSS(t, uintptr(unsafe.Pointer(&data[0])))
		if !ok {
			t.Skip("no /proc/self/smaps entry for the mapping (not a real mmap here)")
		}
		if warm && rss != int64(len(data)) {
			t.Fatalf("warm: %d of %d consume-queue bytes mapped", rss, len(data))
		}
		if !warm && rss == int64(len(data)) {
			t.Fatalf("not warm: all %d bytes mapped after one entry (the test cannot tell pre-faulting apart)", rss)
		}
		// The store counts what the pre-faulting did and what it cost (skiff_store_prefault_*).
		pb, cpu := s.PrefaultStats()
		if warm && (pb < int64(len(data)) || cpu <= 0) {
			t.Fatalf("warm: PrefaultStats = %d bytes, %v; want at least the %d consume-queue bytes and some CPU", pb, cpu, len(data))
		}
		if !warm && (pb != 0 || cpu != 0) {
			t.Fatalf("not warm: PrefaultStats = %d bytes, %v; want nothing", pb, cpu)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// mappingRSS returns the resident bytes of the mapping that starts at addr, from /proc/self/smaps.
func mappingRSS(t *testing.T, addr uintptr) (int64, bool) {
	t.Helper()
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return 0, false
	}
	prefix := strconv.FormatUint(uint64(addr), 16) + "-"
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, prefix) { // the mapping's header line; its Rss follows
			in = true
			continue
		}
		if in && strings.HasPrefix(line, "Rss:") {
			f := strings.Fields(line)
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return 0, false
			}
			return kb * 1024, true
		}
	}
	return 0, false
}

// TestCommitLogWarmPrefaultsIndexFiles: with WarmMappedFile a new index file's slot table and the
// entries ahead of the first one are mapped (Rss) as soon as the first key is indexed; without it
// only the touched pages are.
func TestCommitLogWarmPrefaultsIndexFiles(t *testing.T) {
	for _, warm := range []bool{true, false} {
		c := DefaultConfig(t.TempDir())
		c.MaxHashSlotNum = 10000 // a 40 KB slot table
		c.MaxIndexNum = 500000   // 10 MB of entries
		c.WarmMappedFile = warm
		s := mustOpen(t, c)
		if r := s.PutMessage(newMsg("IXW", 0, "x", map[string]string{"KEYS": "k1"})); r.Status != PutOK {
			t.Fatalf("put: %v %v", r.Status, r.Err)
		}
		s.WaitDispatched(s.MaxPhyOffset(), 10*time.Second)
		s.idx.mu.RLock()
		if len(s.idx.files) != 1 {
			s.idx.mu.RUnlock()
			t.Fatalf("%d index files, want 1", len(s.idx.files))
		}
		data := s.idx.files[0].data
		s.idx.mu.RUnlock()
		rss, ok := mappingRSS(t, uintptr(unsafe.Pointer(&data[0])))
		if !ok {
			t.Skip("no /proc/self/smaps entry for the mapping (not a real mmap here)")
		}
		want := int64(indexHeaderSize+c.MaxHashSlotNum*4) + indexWarmChunk
		if warm && rss < want {
			t.Fatalf("warm: %d bytes of the index file mapped, want at least %d (slot table and a chunk of entries)", rss, want)
		}
		if !warm && rss >= want {
			t.Fatalf("not warm: %d bytes mapped after one key (the test cannot tell pre-faulting apart)", rss)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
