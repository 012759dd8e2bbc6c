package commitlog

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestCommitLogReplicationCopiesBytes streams a master's commit log into an empty slave store in
// odd-sized chunks (splitting records), as the HA channel does, starting from the beginning of the
// master's last segment; the slave serves the same messages from its own consume queues.
func TestCommitLogReplicationCopiesBytes(t *testing.T) {
	master := mustOpen(t, testConfig(t.TempDir()))
	defer master.Close()
	for i := 0; i < 200; i++ {
		master.PutMessage(newMsg("HA", int32(i%2), fmt.Sprintf("m%03d-%0500d", i, 0), nil))
	}
	slave := mustOpen(t, testConfig(t.TempDir()))
	defer slave.Close()
	segSize := testConfig("").MappedFileSizeCommitLog
	from := master.MaxPhyOffset() - master.MaxPhyOffset()%segSize
	if from == 0 {
		t.Fatal("test needs several master segments")
	}
	off := from
	for chunk := 1; off < master.MaxPhyOffset(); chunk = chunk%977 + 333 {
		b, err := master.ReadCommitLog(off, chunk)
		if err != nil {
			t.Fatal(err)
		}
		if err := slave.AppendCommitLog(off, b); err != nil {
			t.Fatal(err)
		}
		off += int64(len(b))
	}
	if err := slave.AppendCommitLog(off+5, []byte("x")); !errors.Is(err, ErrOffsetMismatch) {
		t.Fatalf("append at the wrong offset: %v", err)
	}
	if slave.MaxPhyOffset() != master.MaxPhyOffset() {
		t.Fatalf("slave end %d, master end %d", slave.MaxPhyOffset(), master.MaxPhyOffset())
	}
	slave.WaitDispatched(slave.MaxPhyOffset(), 5*time.Second)
	master.WaitDispatched(master.MaxPhyOffset(), 5*time.Second)
	for q := int32(0); q < 2; q++ {
		sm := pullAll(t, slave, "HA", q)
		mlo := slave.MinOffsetInQueue("HA", q)
		if len(sm) == 0 || mlo == 0 {
			t.Fatalf("queue %d: slave has %d messages from %d", q, len(sm), mlo)
		}
		if slave.MaxOffsetInQueue("HA", q) != master.MaxOffsetInQueue("HA", q) {
			t.Fatalf("queue %d max offset: slave %d master %d", q, slave.MaxOffsetInQueue("HA", q), master.MaxOffsetInQueue("HA", q))
		}
		for _, m := range sm {
			mr, err1 := master.LookupMessage(m.CommitLogOffset)
			sr, err2 := slave.LookupMessage(m.CommitLogOffset)
			if err1 != nil || err2 != nil || !bytes.Equal(mr, sr) {
				t.Fatalf("queue %d offset %d: slave record differs from the master's (%v %v)", q, m.QueueOffset, err1, err2)
			}
		}
	}
}

// TestCommitLogReplicaCrashInsideARecord: a slave that flushed and checkpointed replicated bytes
// ending inside a record, then crashed, opens again (the partial record is a torn tail, not
// corruption) and continues from the last whole record.
func TestCommitLogReplicaCrashInsideARecord(t *testing.T) {
	master := mustOpen(t, testConfig(t.TempDir()))
	defer master.Close()
	for i := 0; i < 20; i++ {
		master.PutMessage(newMsg("HA", 0, fmt.Sprintf("m%02d", i), nil))
	}
	all, err := master.ReadCommitLog(0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	c := testConfig(t.TempDir())
	slave := mustOpen(t, c)
	cut := len(all) - 30 // inside the last record
	if err := slave.AppendCommitLog(0, all[:cut]); err != nil {
		t.Fatal(err)
	}
	slave.WaitDispatched(int64(cut)-200, 5*time.Second)
	if err := slave.flush(); err != nil {
		t.Fatal(err)
	}
	if err := slave.flushQueues(); err != nil {
		t.Fatal(err)
	}
	if f := slave.ckpt.last.Flushed; f == int64(cut) {
		t.Fatalf("checkpoint's flushed offset %d is inside a record", f)
	}
	slave.closed.Store(true) // kill -9
	close(slave.done)
	slave.wg.Wait()
	slave.closeFiles()

	slave = mustOpen(t, c)
	defer slave.Close()
	if got := slave.MaxPhyOffset(); got >= int64(cut) {
		t.Fatalf("recovered end %d, want the end of the last whole record (< %d)", got, cut)
	}
	if err := slave.AppendCommitLog(slave.MaxPhyOffset(), all[slave.MaxPhyOffset():]); err != nil {
		t.Fatal(err)
	}
	slave.WaitDispatched(slave.MaxPhyOffset(), 5*time.Second)
	if got := pullAll(t, slave, "HA", 0); len(got) != 20 {
		t.Fatalf("slave has %d messages after catching up, want 20", len(got))
	}
}
