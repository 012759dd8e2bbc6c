package commitlog

import (
	"fmt"
	"testing"
	"time"
)

// TestCommitLogPrepareWritesAfterReplication promotes a slave store: its own appends continue
// the queue offsets of the replicated messages instead of reusing them.
func TestCommitLogPrepareWritesAfterReplication(t *testing.T) {
	master := mustOpen(t, testConfig(t.TempDir()))
	defer master.Close()
	for i := range 20 {
		master.PutMessage(newMsg("P", 0, fmt.Sprintf("m%d", i), nil))
	}
	slave := mustOpen(t, testConfig(t.TempDir()))
	defer slave.Close()
	b, err := master.ReadCommitLog(0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if err := slave.AppendCommitLog(0, b); err != nil {
		t.Fatal(err)
	}
	if err := slave.PrepareWrites(); err != nil {
		t.Fatal(err)
	}
	r := slave.PutMessage(newMsg("P", 0, "own", nil))
	if r.Status != PutOK || r.QueueOffset != 20 {
		t.Fatalf("first own put on the promoted slave: %+v, want queue offset 20", r)
	}
	slave.WaitDispatched(slave.MaxPhyOffset(), 5*time.Second)
	if msgs := pullAll(t, slave, "P", 0); len(msgs) != 21 || string(msgs[20].Body) != "own" {
		t.Fatalf("queue after promotion: %d messages", len(msgs))
	}
}
