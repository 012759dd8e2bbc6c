package commitlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skiffmq/skiff/commitlog/vfs"
)

// TestCommitLogFlushErrorSticks: the first failed msync fails the waiting SYNC_FLUSH sends, every
// later send is refused with the error, pulls keep working, and a later msync that succeeds does
// not make the store writeable again; the next open recovers from the checkpoint.
func TestCommitLogFlushErrorSticks(t *testing.T) {
	dir := t.TempDir()
	c := testConfig(dir)
	c.FlushDiskType = SyncFlush
	efs := vfs.NewErrorFS(vfs.Default, nil)
	c.FS = efs
	s := mustOpen(t, c)
	for i := 0; i < 5; i++ {
		if r := s.PutMessage(newMsg("FE", 0, fmt.Sprint("before-", i), nil)); r.Status != PutOK {
			t.Fatalf("put %d: %+v", i, r)
		}
	}
	var failing atomic.Bool
	failing.Store(true)
	efs.SetInjector(func(op vfs.Op, path string) error {
		if op == vfs.OpMsync && strings.Contains(path, "commitlog") && failing.Load() {
			return unix.EIO
		}
		return nil
	})
	// Several writers wait on the flush that fails.
	var wg sync.WaitGroup
	results := make([]PutResult, 4)
	for w := range results {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			results[w] = s.PutMessage(newMsg("FE", 0, fmt.Sprint("during-", w), nil))
		}(w)
	}
	wg.Wait()
	waited := 0
	for w, r := range results {
		// A writer that queued before the failure waited on it; one that came after was refused.
		if r.Status == FlushDiskTimeout {
			waited++
		} else if r.Status != ServiceNotAvailable {
			t.Fatalf("writer %d: %+v", w, r)
		}
		if !errors.Is(r.Err, ErrFlushFailed) || !errors.Is(r.Err, unix.EIO) {
			t.Fatalf("writer %d around a failed flush: %+v, want an error wrapping ErrFlushFailed and EIO", w, r)
		}
	}
	if waited == 0 {
		t.Fatal("no writer was waiting on the failed flush")
	}
	failing.Store(false) // the disk "works" again: the error must still stick
	r := s.PutMessage(newMsg("FE", 0, "after", nil))
	if r.Status != ServiceNotAvailable || !errors.Is(r.Err, ErrNotWriteable) || !strings.Contains(r.Err.Error(), "input/output error") {
		t.Fatalf("send after a flush error: %+v, want ServiceNotAvailable naming the error", r)
	}
	if s.Writeable() || s.FlushError() == nil || s.Stats().FlushErrors == 0 {
		t.Fatalf("writeable %v, flush error %v, flush errors %d", s.Writeable(), s.FlushError(), s.Stats().FlushErrors)
	}
	if err := s.flush(); err == nil {
		t.Fatal("a flush after the failure reported success")
	}
	s.WaitDispatched(s.MaxPhyOffset(), 5*time.Second)
	if got := pullAll(t, s, "FE", 0); len(got) < 5 {
		t.Fatalf("pulls after a flush error: %d messages, want at least the 5 acknowledged", len(got))
	}
	if err := s.Close(); err == nil {
		t.Fatal("Close after a flush error reported success")
	}
	// No clean checkpoint was written: the next open runs crash recovery.
	s = mustOpen(t, c)
	defer s.Close()
	if !s.Stats().Recovery.Crashed {
		t.Fatal("the open after a flush error trusted the store as cleanly stopped")
	}
	if got := pullAll(t, s, "FE", 0); len(got) < 5 || string(got[4].Body) != "before-4" {
		t.Fatalf("after reopen: %d messages", len(got))
	}
	if r := s.PutMessage(newMsg("FE", 0, "reopened", nil)); r.Status != PutOK {
		t.Fatalf("send after reopen: %+v", r)
	}
}

// TestCommitLogCheckpointBoundsRecovery: a clean stop reopens without reading the log; a crash
// verifies only what lies past the checkpoint plus RecoverVerifyBytes.
func TestCommitLogCheckpointBoundsRecovery(t *testing.T) {
	dir := t.TempDir()
	c := testConfig(dir)
	c.RecoverVerifyBytes = 64 << 10
	s := mustOpen(t, c)
	fillSegments(t, s, 400) // ~6 segments
	end := s.MaxPhyOffset()
	if err := s.flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.flushQueues(); err != nil { // the periodic checkpoint
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		s.PutMessage(newMsg("Ret", 1, "past the checkpoint", nil))
	}
	s.WaitDispatched(s.MaxPhyOffset(), 5*time.Second)
	past := s.MaxPhyOffset() - end
	s.Close()

	s = mustOpen(t, c)
	st := s.Stats().Recovery
	if st.Crashed || st.VerifiedBytes != 0 || st.RedispatchedBytes != 0 {
		t.Fatalf("clean open: %+v, want nothing scanned", st)
	}
	if n := len(pullAll(t, s, "Ret", 0)); n != 400 {
		t.Fatalf("after clean reopen: %d messages", n)
	}
	if err := s.flushQueues(); err != nil {
		t.Fatal(err)
	}
	if s.ckpt.last.Flushed != s.MaxPhyOffset() {
		t.Fatalf("checkpoint at %d, end %d", s.ckpt.last.Flushed, s.MaxPhyOffset())
	}
	for i := 0; i < 10; i++ {
		s.PutMessage(newMsg("Ret", 1, "past the checkpoint", nil))
	}
	s.WaitDispatched(s.MaxPhyOffset(), 5*time.Second)
	// Simulate kill -9: no Close, files stay as the page cache has them.
	s.closed.Store(true)
	close(s.done)
	s.wg.Wait()
	s.closeFiles()

	s = mustOpen(t, c)
	defer s.Close()
	st = s.Stats().Recovery
	if !st.Crashed || st.RedispatchedBytes != past || st.VerifiedBytes > past+c.RecoverVerifyBytes+int64(c.MaxMessageSize) {
		t.Fatalf("crash open: %+v; want %d bytes re-dispatched and at most %d verified of %d", st, past, past+c.RecoverVerifyBytes, s.MaxPhyOffset())
	}
	if n := len(pullAll(t, s, "Ret", 1)); n != 20 {
		t.Fatalf("after crash reopen: %d messages in queue 1, want 20", n)
	}
}

// TestCommitLogTruncateToIsDurable: TruncateTo cuts records for good — after a clean restart and
// after a power cut — and appends continue at the cut with the cut records' queue offsets.
func TestCommitLogTruncateToIsDurable(t *testing.T) {
	for _, crash := range []bool{false, true} {
		t.Run(fmt.Sprintf("crash=%v", crash), func(t *testing.T) {
			mfs := vfs.NewMem()
			c := powerLossConfig(AsyncFlush, mfs)
			s := mustOpen(t, c)
			var cut int64
			for i := 0; i < 120; i++ {
				m := newMsg("TR", int32(i%2), fmt.Sprintf("%03d-%0700d", i, 0), map[string]string{"KEYS": fmt.Sprint("k", i)})
				if r := s.PutMessage(m); r.Status != PutOK {
					t.Fatal(r)
				}
				if i == 70 {
					cut = m.CommitLogOffset
				}
			}
			if err := s.TruncateTo(cut + 1); !errors.Is(err, ErrBadTruncateOffset) {
				t.Fatalf("truncate inside a record: %v", err)
			}
			if err := s.TruncateTo(cut); err != nil {
				t.Fatal(err)
			}
			if s.MaxPhyOffset() != cut || s.MaxOffsetInQueue("TR", 0) != 35 || s.MaxOffsetInQueue("TR", 1) != 35 {
				t.Fatalf("after truncate: end %d, queue max %d/%d", s.MaxPhyOffset(), s.MaxOffsetInQueue("TR", 0), s.MaxOffsetInQueue("TR", 1))
			}
			if q := s.QueryMessage("TR", "k80", 4, 0, time.Now().UnixMilli()+1000); len(q.Messages) != 0 {
				t.Fatal("a truncated message is still found by key")
			}
			if crash {
				s.appendMu.Lock()
				mfs.Crash()
				s.appendMu.Unlock()
				_ = s.Close()
			} else if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = mustOpen(t, c)
			defer s.Close()
			if s.MaxPhyOffset() != cut {
				t.Fatalf("the truncated tail came back: end %d, cut at %d", s.MaxPhyOffset(), cut)
			}
			for q := int32(0); q < 2; q++ {
				if got := pullAll(t, s, "TR", q); len(got) != 35 {
					t.Fatalf("queue %d: %d messages after restart, want 35", q, len(got))
				}
			}
			m := newMsg("TR", 0, "new", nil)
			if r := s.PutMessage(m); r.Status != PutOK || m.CommitLogOffset != cut || m.QueueOffset != 35 {
				t.Fatalf("append after truncate: %+v at %d q%d", r, m.CommitLogOffset, m.QueueOffset)
			}
		})
	}
}

// TestCommitLogCheckpointSurvivesTornWrite: a short (torn) checkpoint write leaves the other slot
// valid; the store opens from it and the failure sticks.
func TestCommitLogCheckpointSurvivesTornWrite(t *testing.T) {
	dir := t.TempDir()
	c := testConfig(dir)
	efs := vfs.NewErrorFS(vfs.Default, nil)
	c.FS = efs
	s := mustOpen(t, c)
	for i := 0; i < 20; i++ {
		s.PutMessage(newMsg("CK", 0, fmt.Sprint(i), nil))
	}
	s.WaitDispatched(s.MaxPhyOffset(), 5*time.Second)
	if err := s.flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.flushQueues(); err != nil {
		t.Fatal(err)
	}
	efs.SetInjector(func(op vfs.Op, path string) error {
		if op == vfs.OpWrite && filepath.Base(path) == "checkpoint" {
			return vfs.ErrShortWrite
		}
		return nil
	})
	if err := s.flushQueues(); err == nil {
		t.Fatal("a short checkpoint write reported success")
	}
	if s.Writeable() {
		t.Fatal("store writeable after a failed checkpoint write")
	}
	s.Close()
	efs.SetInjector(nil)
	raw, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	if st, ok, _ := parseCheckpointFile(raw); !ok || st.Flushed == 0 {
		t.Fatalf("no valid checkpoint slot after a torn write: %+v %v", st, ok)
	}
	s = mustOpen(t, c)
	defer s.Close()
	if got := pullAll(t, s, "CK", 0); len(got) != 20 {
		t.Fatalf("%d messages after reopen", len(got))
	}
}

// TestCommitLogDamagedConsumeQueueIsRebuilt: a consume-queue file overwritten with garbage after
// a crash is detected against the commit log and rebuilt; the other queue is left alone.
func TestCommitLogDamagedConsumeQueueIsRebuilt(t *testing.T) {
	dir := t.TempDir()
	c := testConfig(dir)
	s := mustOpen(t, c)
	for i := 0; i < 60; i++ {
		s.PutMessage(newMsg("DQ", int32(i%2), fmt.Sprint(i), nil))
	}
	s.WaitDispatched(s.MaxPhyOffset(), 5*time.Second)
	if err := s.flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.flushQueues(); err != nil {
		t.Fatal(err)
	}
	for i := 60; i < 64; i++ {
		s.PutMessage(newMsg("DQ", int32(i%2), fmt.Sprint(i), nil))
	}
	s.WaitDispatched(s.MaxPhyOffset(), 5*time.Second)
	s.closed.Store(true) // kill -9
	close(s.done)
	s.wg.Wait()
	s.closeFiles()
	// Damage entries 3..5 of queue 0 (below the checkpoint).
	f, err := os.OpenFile(filepath.Join(cqDir(dir, "DQ", 0), segmentName(0)), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte(strings.Repeat("\x01", 60)), 3*cqEntrySize)
	f.Close()
	s = mustOpen(t, c)
	defer s.Close()
	if st := s.Stats().Recovery; st.RebuiltQueues != 1 {
		t.Fatalf("recovery %+v, want 1 queue rebuilt", st)
	}
	for q := int32(0); q < 2; q++ {
		got := pullAll(t, s, "DQ", q)
		if len(got) != 32 {
			t.Fatalf("queue %d: %d messages, want 32", q, len(got))
		}
		for i, m := range got {
			if string(m.Body) != fmt.Sprint(2*i+int(q)) {
				t.Fatalf("queue %d entry %d = %q", q, i, m.Body)
			}
		}
	}
}

// TestCommitLogConsumeQueueEndsHint: a clean Close records each queue's end; the next open uses
// it only when it matches the checkpoint and the queue's own entries, so a stale or wrong hint
// costs a search, never a wrong end.
func TestCommitLogConsumeQueueEndsHint(t *testing.T) {
	dir := t.TempDir()
	c := testConfig(dir)
	s := mustOpen(t, c)
	for i := 0; i < 250; i++ { // queue 0: 125 entries over two 100-entry files
		s.PutMessage(newMsg("H", int32(i%2), fmt.Sprint(i), nil))
	}
	s.Close()
	raw, err := os.ReadFile(cqEndsPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	seq, ends, err := decodeCQEnds(raw)
	if err != nil || ends[queueKey{"H", 0}] != 125 || ends[queueKey{"H", 1}] != 125 {
		t.Fatalf("ends file: seq %d %v %v", seq, ends, err)
	}
	// A wrong hint with a valid checksum and the right sequence number is not trusted.
	ends[queueKey{"H", 0}] = 60
	if err := os.WriteFile(cqEndsPath(dir), encodeCQEnds(seq, ends), 0o644); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, c)
	if got := s.MaxOffsetInQueue("H", 0); got != 125 {
		t.Fatalf("queue end %d with a wrong hint, want 125", got)
	}
	if _, err := os.Stat(cqEndsPath(dir)); !os.IsNotExist(err) {
		t.Fatal("the hint outlived the open it was for")
	}
	for i := 0; i < 10; i++ {
		s.PutMessage(newMsg("H", 0, "more", nil))
	}
	s.Close()
	s = mustOpen(t, c)
	defer s.Close()
	if got := s.MaxOffsetInQueue("H", 0); got != 135 || len(pullAll(t, s, "H", 0)) != 135 {
		t.Fatalf("queue end %d after the next clean stop, want 135", got)
	}
}

// FuzzConsumeQueueEnds: the ends file decoder never panics and what it accepts round-trips.
func FuzzConsumeQueueEnds(f *testing.F) {
	f.Add(encodeCQEnds(7, map[queueKey]int64{{"T", 0}: 5, {"T", 3}: 9, {"%RETRY%g", 0}: 1}))
	f.Add(encodeCQEnds(1, nil))
	f.Add([]byte("SKCE"))
	f.Fuzz(func(t *testing.T, b []byte) {
		seq, ends, err := decodeCQEnds(b)
		if err != nil {
			return
		}
		if again := encodeCQEnds(seq, ends); len(ends) == int(binary.BigEndian.Uint32(b[12:])) && !bytes.Equal(again, b) {
			t.Fatalf("accepted bytes do not round-trip: %x → %x", b, again)
		}
	})
}
