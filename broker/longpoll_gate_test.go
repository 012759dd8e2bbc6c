package broker

import (
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/remoting"
)

// TestHoldServiceDispatchGate: the dispatcher's callback queues a wake-up only while a pull is
// held (publish-only load costs no channel send per message), and on a real broker the gate
// opens when a pull is held and closes once it is answered by the message that arrives (the
// answer may come from the wake-up or from the 5 s sweep; which one is not asserted, so the
// test takes no time from the clock).
func TestHoldServiceDispatchGate(t *testing.T) {
	h := &holdService{wake: make(chan queueEvent, 1)}
	h.onDispatch("T", 0, 1, 0)
	if len(h.wake) != 0 {
		t.Fatal("a wake-up was queued with no pull held")
	}
	h.anyHeld.Store(true)
	h.onDispatch("T", 0, 1, 0)
	if len(h.wake) != 1 {
		t.Fatal("no wake-up queued while a pull is held")
	}

	tb := startBroker(t, nil)
	tb.send(t, "Gate", 0, "", "", "first")
	tb.heartbeat(t, "cg", "127.0.0.1@1", map[string]string{"Gate": "*"})
	if tb.b.hold.anyHeld.Load() {
		t.Fatal("gate open with no pull held")
	}
	done := make(chan *remoting.Command, 1)
	go func() {
		resp, err := tb.cli.Invoke(t.Context(), tb.addr, remoting.NewRequest(remoting.PullMessage, pullExt("cg", "Gate", 0, 1, 0x2, 60000, ""), nil))
		if err != nil {
			t.Errorf("pull: %v", err)
		}
		done <- resp
	}()
	waitFor(t, 10*time.Second, func() bool { return heldPulls(tb.b) == 1 }, "the pull to be held")
	if !tb.b.hold.anyHeld.Load() {
		t.Fatal("gate closed while a pull is held")
	}
	tb.send(t, "Gate", 0, "", "", "second")
	select {
	case r := <-done:
		if r == nil || r.Code != remoting.Success {
			t.Fatalf("held pull answered with %+v", r)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the held pull was not answered by the arriving message")
	}
	waitFor(t, 10*time.Second, func() bool { return !tb.b.hold.anyHeld.Load() }, "the gate to close")
}
