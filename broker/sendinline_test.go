package broker

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skiffmq/skiff/commitlog/vfs"
	"github.com/skiffmq/skiff/internal/remoting"
)

// sendCounted sends one message and returns the answer and how many requests ran on the event
// loop meanwhile (0 or 1).
func (tb *testBroker) sendCounted(t *testing.T, topic, body string) (*remoting.Command, int64) {
	t.Helper()
	before := tb.b.srv.Inline()
	r := tb.send(t, topic, 0, "", "", body)
	return r, tb.b.srv.Inline() - before
}

// TestBrokerSendInline: with the defaults (ASYNC_MASTER, ASYNC_FLUSH, sendMessageInline) a send
// to an existing topic runs on the event loop and stores what it says; the send that creates its
// topic (a file write) runs on the pool; turning sendMessageInline off at runtime sends every
// send to the pool again.
func TestBrokerSendInline(t *testing.T) {
	tb := startBroker(t, nil)
	if r, n := tb.sendCounted(t, "Inline", "first"); r.Code != remoting.Success || n != 0 {
		t.Fatalf("send creating its topic: code %d %q, %d inline; want SUCCESS on the pool", r.Code, r.Remark, n)
	}
	for i := range 5 {
		r, n := tb.sendCounted(t, "Inline", fmt.Sprintf("body-%d", i))
		if r.Code != remoting.Success || n != 1 || r.ExtFields["queueOffset"] != fmt.Sprint(i+1) {
			t.Fatalf("send %d: code %d %q ext %v, %d inline; want SUCCESS inline", i, r.Code, r.Remark, r.ExtFields, n)
		}
	}
	tb.heartbeat(t, "cg", "127.0.0.1@1", map[string]string{"Inline": "*"})
	p := tb.call(t, remoting.PullMessage, pullExt("cg", "Inline", 0, 0, 0x2, 1000, ""), nil, 5*time.Second)
	msgs := decodeBody(t, p.Body)
	if len(msgs) != 6 || string(msgs[5].Body) != "body-4" {
		t.Fatalf("pulled %d messages (code %d)", len(msgs), p.Code)
	}
	if r := tb.call(t, remoting.UpdateBrokerConfig, nil, []byte("sendMessageInline=false"), 5*time.Second); r.Code != remoting.Success {
		t.Fatalf("update config: %d %q", r.Code, r.Remark)
	}
	if r, n := tb.sendCounted(t, "Inline", "pool"); r.Code != remoting.Success || n != 0 {
		t.Fatalf("send with sendMessageInline=false: code %d, %d inline; want SUCCESS on the pool", r.Code, n)
	}
}

// TestBrokerSendInlineSyncFlush: under SYNC_FLUSH the first half of a send (the append and the
// registration of its answer) runs inline and the answer comes after the msync; once the store
// refuses writes (a failed msync) sends go to the pool, which refuses them.
func TestBrokerSendInlineSyncFlush(t *testing.T) {
	efs := vfs.NewErrorFS(vfs.Default, nil)
	tb := startBroker(t, func(c *Config) { c.FlushDiskType = SyncFlush; c.storeFS = efs })
	tb.send(t, "InlineSF", 0, "", "", "create")
	for i := range 3 {
		if r, n := tb.sendCounted(t, "InlineSF", "x"); r.Code != remoting.Success || n != 1 {
			t.Fatalf("SYNC_FLUSH send %d: code %d %q, %d inline", i, r.Code, r.Remark, n)
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
	tb.send(t, "InlineSF", 0, "", "", "during") // its msync fails: the store refuses writes from now on
	failing.Store(false)
	r, n := tb.sendCounted(t, "InlineSF", "after")
	if r.Code == remoting.Success || n != 0 {
		t.Fatalf("send after a flush error: code %d %q, %d inline; want a refusal from the pool", r.Code, r.Remark, n)
	}
	if err := tb.b.Shutdown(context.Background()); err == nil || !strings.Contains(err.Error(), "flush failed") {
		t.Fatalf("shutdown after a flush error: %v", err)
	}
}

// TestBrokerSendInlineSyncMaster: a SYNC_MASTER's send registers its wait for the slave's ack
// (no goroutine waits), so it runs inline too; without a slave it answers SLAVE_NOT_AVAILABLE.
func TestBrokerSendInlineSyncMaster(t *testing.T) {
	tb := startBroker(t, func(c *Config) { c.BrokerRole = RoleSyncMaster })
	tb.send(t, "InlineSM", 0, "", "", "create")
	r, n := tb.sendCounted(t, "InlineSM", "x")
	if n != 1 || r.Code != remoting.SlaveNotAvailable {
		t.Fatalf("SYNC_MASTER send: code %d %q, %d inline; want SLAVE_NOT_AVAILABLE inline", r.Code, r.Remark, n)
	}
}
