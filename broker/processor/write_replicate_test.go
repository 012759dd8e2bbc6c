package processor

import (
	"testing"

	"github.com/skiffmq/skiff/commitlog"
	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/remoting"
)

// thenReplicator is a DeferringReplicator whose waits are answered by the test (ack).
type thenReplicator struct {
	defers bool
	waits  []func(ReplicaStatus)
}

func (r *thenReplicator) Replicate(commitlog.PutResult, bool) ReplicaStatus {
	panic("a DeferringReplicator's blocking Replicate was called by WriteThen")
}

func (r *thenReplicator) ReplicateThen(_ commitlog.PutResult, wait bool, done func(ReplicaStatus)) (ReplicaStatus, bool) {
	if !wait {
		return ReplicaOK, false
	}
	r.waits = append(r.waits, done)
	return 0, true
}

func (r *thenReplicator) Defers() bool { return r.defers }

// TestWriterWriteThenDefersTheReplicaWait: with a DeferringReplicator WriteThen never blocks on
// the ack, in both flush modes: the answer comes once, after the ack (and the msync when the
// store defers too), with the replica's outcome; WAIT=false is answered at once.
func TestWriterWriteThenDefersTheReplicaWait(t *testing.T) {
	t.Run("ASYNC_FLUSH", func(t *testing.T) {
		rep := &thenReplicator{defers: true}
		w := &Writer{Store: &fakeStore{}, Config: testConfig, Replicator: func() Replicator { return rep }}
		if !w.Defers() {
			t.Fatal("a SYNC_MASTER replicator does not make the writer defer")
		}
		var got []WriteResult
		_, deferred := w.WriteThen(WriteSend, func(r WriteResult) { got = append(got, r) }, &message.Message{Topic: "T", Body: []byte("x")})
		if !deferred || len(got) != 0 || len(rep.waits) != 1 {
			t.Fatalf("deferred=%v answers=%d waits=%d", deferred, len(got), len(rep.waits))
		}
		rep.waits[0](ReplicaTimeout)
		if len(got) != 1 || got[0].Replica != ReplicaTimeout || got[0].Code() != remoting.FlushSlaveTimeout {
			t.Fatalf("answers %+v", got)
		}
		m := &message.Message{Topic: "T", Body: []byte("x"), PropertiesText: message.PropertyWait + "\x01false"}
		res, deferred := w.WriteThen(WriteSend, func(WriteResult) { t.Fatal("WAIT=false answered later") }, m)
		if deferred || res.Replica != ReplicaOK || !res.OK() {
			t.Fatalf("WAIT=false: deferred=%v %+v", deferred, res)
		}
		rep.defers = false
		if w.Defers() {
			t.Fatal("an ASYNC_MASTER replicator makes the writer defer")
		}
	})
	for _, ackFirst := range []bool{true, false} {
		name := "SYNC_FLUSH/flushFirst"
		if ackFirst {
			name = "SYNC_FLUSH/ackFirst"
		}
		t.Run(name, func(t *testing.T) {
			st := &deferStore{}
			rep := &thenReplicator{defers: true}
			w := &Writer{Store: st, Config: testConfig, Replicator: func() Replicator { return rep }}
			var got []WriteResult
			_, deferred := w.WriteThen(WriteSend, func(r WriteResult) { got = append(got, r) }, &message.Message{Topic: "T", Body: []byte("x")})
			if !deferred || len(rep.waits) != 1 {
				t.Fatalf("deferred=%v waits=%d", deferred, len(rep.waits))
			}
			first := func() { rep.waits[0](ReplicaOK) }
			second := func() { st.done(commitlog.PutResult{Status: commitlog.PutOK, MsgCount: 1}) }
			if !ackFirst {
				first, second = second, first
			}
			first()
			if len(got) != 0 {
				t.Fatal("answered before both the msync and the ack")
			}
			second()
			if len(got) != 1 || got[0].Status != commitlog.PutOK || got[0].Replica != ReplicaOK || got[0].Code() != remoting.Success {
				t.Fatalf("answers %+v", got)
			}
		})
	}
}
