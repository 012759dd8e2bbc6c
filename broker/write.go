package broker

import (
	"github.com/skiffmq/skiff/commitlog"
	"github.com/skiffmq/skiff/internal/message"
)

// writeKind says which path a store write comes from; it decides the rewrite and the waits.
type writeKind int

const (
	// writeSend is a producer's single message: the store rewrites (half and delayed messages
	// are parked), then the flush wait (SYNC_FLUSH) and the replica wait (SYNC_MASTER) apply
	// unless the message says WAIT=false.
	writeSend writeKind = iota
	// writeBatch is a producer's batch: stored as is (the batch path already added CLUSTER and
	// refused delays and transactions), with the same waits as a send.
	writeBatch
	// writeInternal is a message the broker itself moves (delayed delivery, transaction commit,
	// op records, send-back to the retry topic): WAIT=false, so no flush or replica wait; send-back
	// sets rewrite to park its delay level.
	writeInternal
)

// writeResult is a store write's outcome: the store's result plus the replication outcome.
type writeResult struct {
	commitlog.PutResult
	replica replicaStatus
}

// ok reports whether the messages were stored (possibly with a flush or replica timeout).
func (w writeResult) ok() bool {
	return w.Status == commitlog.PutOK || w.Status == commitlog.FlushDiskTimeout
}

// stored is the number of messages the store took.
func (w writeResult) stored() int {
	if !w.ok() {
		return 0
	}
	return max(w.MsgCount, 1)
}

// code is the send response code of the write: the store's status mapped (§2.4 step 10), then a
// non-OK replica status wins over a flush timeout.
func (w writeResult) code() int32 {
	code := putCode(w.Status)
	if w.ok() {
		code = withReplica(code, w.replica)
	}
	return code
}

// write is the one door to the store: every message the broker stores (sends, batches, delayed
// deliveries, transaction commits and ops, send-backs) goes through it. It applies the rewrite
// for its kind, puts the messages (the store itself waits for the covering flush under
// SYNC_FLUSH unless WAIT=false), counts them, wakes the HA writers once and, for a
// SYNC_MASTER, waits for a slave's ack of the end offset unless WAIT=false.
func (b *Broker) write(kind writeKind, msgs ...*message.Message) writeResult {
	return b.writeOpts(kind, kind == writeSend, msgs...)
}

// writeOpts is write with an explicit rewrite choice (send-back parks its delay level too).
func (b *Broker) writeOpts(kind writeKind, rewrite bool, msgs ...*message.Message) writeResult {
	if rewrite {
		for _, m := range msgs {
			b.rewriteForStore(m)
		}
	}
	var res commitlog.PutResult
	if len(msgs) == 1 {
		res = b.store.PutMessage(msgs[0])
	} else {
		res = b.store.PutMessages(msgs)
	}
	b.stats.recordPut(res)
	w := writeResult{PutResult: res}
	wait := kind != writeInternal && waitRequested(msgs)
	w.replica = b.replicate(res, wait)
	return w
}
