package commitlog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skiffmq/skiff/commitlog/vfs"
)

func fillSegments(t *testing.T, s *Store, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if r := s.PutMessage(newMsg("Ret", 0, fmt.Sprintf("%05d-%0900d", i, 0), map[string]string{"KEYS": fmt.Sprint(i)})); r.Status != PutOK {
			t.Fatalf("put %d: %+v", i, r)
		}
	}
	s.WaitDispatched(s.MaxPhyOffset(), 5*time.Second)
}

// retentionClock is the fixed "now" of the retention tests: a Monday at 00:00 local time. Each
// test reads the hour from it and sets every segment's mtime relative to it, so no result depends
// on the real date or on how long the test takes.
var retentionClock = time.Date(2030, 1, 7, 0, 0, 0, 0, time.Local)

// retentionAt is retentionClock's day at hour h.
func retentionAt(h int) time.Time { return retentionClock.Add(time.Duration(h) * time.Hour) }

// ageSegments sets every segment's last-modified time to age before retentionClock.
func ageSegments(t *testing.T, s *Store, age time.Duration) {
	t.Helper()
	old := retentionClock.Add(-age)
	s.segMu.RLock()
	defer s.segMu.RUnlock()
	for _, seg := range s.segs {
		if err := os.Chtimes(seg.path, old, old); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCommitLogRetentionDeletesExpiredSegmentsAtDeleteWhen(t *testing.T) {
	c := testConfig(t.TempDir())
	c.FileReservedTime = 48 * time.Hour
	c.DeleteWhen = "04"
	c.Clock = func() time.Time { return retentionAt(4) }
	c.CleanResourceInterval = 24 * time.Hour // only the explicit clean calls below run
	s := mustOpen(t, c)
	defer s.Close()
	s.diskUsage = func() float64 { return 0.10 }
	fillSegments(t, s, 300) // about 5 segments of 64 KiB
	segs := len(s.segs)
	if segs < 4 {
		t.Fatalf("only %d segments", segs)
	}
	at := retentionAt

	// Messages are stored at the injected clock's time, so the index query's window ends after
	// at(4), not at the real now. Key "0" is the first message, in a segment retention deletes.
	queryEnd := at(5).UnixMilli()
	if q := s.QueryMessage("Ret", "0", 10, 0, queryEnd); len(q.Messages) == 0 {
		t.Fatal("index does not find the first message before retention ran")
	}
	ageSegments(t, s, time.Hour)
	if n := s.clean(at(4)); n != 0 {
		t.Fatalf("deleted %d fresh segments", n)
	}
	ageSegments(t, s, 72*time.Hour)
	if n := s.clean(at(13)); n != 0 {
		t.Fatalf("deleted %d expired segments outside deleteWhen with a mostly empty disk", n)
	}
	if n := s.clean(at(4)); n != segs-1 {
		t.Fatalf("deleted %d segments at 04:00, want all but the active one (%d)", n, segs-1)
	}
	minPhy := s.MinPhyOffset()
	if minPhy == 0 || len(s.segs) != 1 {
		t.Fatalf("min offset %d, %d segments left", minPhy, len(s.segs))
	}
	// Reads below the new minimum are reported as too small, not returned as garbage.
	r := s.GetMessage("Ret", 0, 0, 32, nil)
	if r.Status != OffsetTooSmall || r.NextBeginOffset != r.MinOffset || r.MinOffset == 0 {
		t.Fatalf("read below min: %+v", r)
	}
	got := pullAll(t, s, "Ret", 0)
	if len(got) == 0 || got[0].CommitLogOffset < minPhy {
		t.Fatalf("remaining messages start at %d, min %d", got[0].CommitLogOffset, minPhy)
	}
	if _, err := s.LookupMessage(0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("lookup of a deleted offset: %v", err)
	}
	if q := s.QueryMessage("Ret", "0", 10, 0, queryEnd); len(q.Messages) != 0 {
		t.Fatal("index still returns a deleted message")
	}
}

func TestCommitLogRetentionOnFullDisk(t *testing.T) {
	c := testConfig(t.TempDir())
	c.FileReservedTime = 48 * time.Hour
	c.DeleteWhen = "04"
	c.DiskMaxUsedSpaceRatio = 75
	noon := retentionAt(12)
	c.Clock = func() time.Time { return noon }
	c.CleanResourceInterval = 24 * time.Hour
	s := mustOpen(t, c)
	defer s.Close()
	fillSegments(t, s, 300)
	segs := len(s.segs)
	ageSegments(t, s, time.Hour)
	s.diskUsage = func() float64 { return 0.80 }
	if n := s.clean(noon); n != 0 {
		t.Fatalf("deleted %d unexpired segments at 80%% use", n)
	}
	ageSegments(t, s, 72*time.Hour)
	if n := s.clean(noon); n != segs-1 {
		t.Fatalf("deleted %d expired segments at 80%% use, want %d at once", n, segs-1)
	}
	fillSegments(t, s, 200)
	before := len(s.segs)
	s.diskUsage = func() float64 { return 0.90 }
	if n := s.clean(noon); n != before-1 {
		t.Fatalf("at 90%% use deleted %d unexpired segments, want %d", n, before-1)
	}
}

func TestCommitLogDiskFullMakesStoreNotWriteable(t *testing.T) {
	c := testConfig(t.TempDir())
	efs := vfs.NewErrorFS(vfs.Default, nil)
	c.FS = efs
	defer func(d time.Duration) { probeInterval = d }(probeInterval)
	probeInterval = 20 * time.Millisecond
	s := mustOpen(t, c)
	defer s.Close()
	var ok int
	for i := 0; i < 20; i++ {
		if r := s.PutMessage(newMsg("Full", 0, fmt.Sprintf("keep-%d", i), nil)); r.Status == PutOK {
			ok++
		}
	}
	s.WaitDispatched(s.MaxPhyOffset(), 5*time.Second)
	efs.SetInjector(func(op vfs.Op, path string) error {
		if op == vfs.OpAllocate {
			return unix.ENOSPC
		}
		return nil
	})
	var failed PutResult
	for i := 0; i < 200; i++ {
		r := s.PutMessage(newMsg("Full", 0, fmt.Sprintf("%0900d", i), nil))
		if r.Status != PutOK {
			failed = r
			break
		}
		ok++
	}
	if failed.Status != CreateMappedFileFailed || !errors.Is(failed.Err, unix.ENOSPC) {
		t.Fatalf("append on a full disk = %+v, want CreateMappedFileFailed with ENOSPC", failed)
	}
	if s.Writeable() {
		t.Fatal("store still writeable after ENOSPC")
	}
	if r := s.PutMessage(newMsg("Full", 0, "x", nil)); r.Status != ServiceNotAvailable {
		t.Fatalf("append while not writeable = %v", r.Status)
	}
	// Nothing already stored was damaged.
	s.WaitDispatched(s.MaxPhyOffset(), 5*time.Second)
	if got := pullAll(t, s, "Full", 0); len(got) != ok {
		t.Fatalf("%d messages readable, %d were acknowledged", len(got), ok)
	}
	efs.SetInjector(nil)
	for i := 0; i < 100 && !s.Writeable(); i++ { // the probe runs every 20 ms: up to 5 s
		time.Sleep(50 * time.Millisecond)
	}
	if r := s.PutMessage(newMsg("Full", 0, "after", nil)); r.Status != PutOK {
		t.Fatalf("append after space returned = %+v", r)
	}
	s.WaitDispatched(s.MaxPhyOffset(), 5*time.Second)
	if got := pullAll(t, s, "Full", 0); len(got) != ok+1 || string(got[ok].Body) != "after" {
		t.Fatalf("after recovery from a full disk: %d messages readable, want %d", len(got), ok+1)
	}
	if _, err := os.Stat(filepath.Join(c.StorePathCommitLog, ".probe")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("probe file left behind")
	}
}
