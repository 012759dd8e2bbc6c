package commitlog

import (
	"bytes"
	"testing"
	"time"
)

// TestCommitLogGetMessageBudgetsAndBody: a pull returns at most maxMsgNums messages and at most
// the in-memory byte budget (but always the first), and Body is exactly the returned records.
func TestCommitLogGetMessageBudgetsAndBody(t *testing.T) {
	c := testConfig(t.TempDir())
	c.MaxTransferBytesOnMessageInMemory = 2500
	s := mustOpen(t, c)
	defer s.Close()
	for range 10 {
		if r := s.PutMessage(newMsg("B", 0, string(bytes.Repeat([]byte("x"), 1000)), nil)); r.Status != PutOK {
			t.Fatal(r.Err)
		}
	}
	s.WaitDispatched(s.MaxPhyOffset(), 5*time.Second)
	for _, c := range []struct{ max, want int }{{1, 1}, {2, 2}, {32, 2}} {
		r := s.GetMessage("B", 0, 0, c.max, nil)
		if r.Status != Found || len(r.Messages) != c.want || r.NextBeginOffset != int64(c.want) {
			t.Fatalf("max %d: %d messages, next %d, want %d", c.max, len(r.Messages), r.NextBeginOffset, c.want)
		}
		if !bytes.Equal(r.Body, bytes.Join(r.Messages, nil)) {
			t.Fatal("Body is not the returned records concatenated")
		}
	}
}
