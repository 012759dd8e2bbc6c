package processor

import (
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/skiffmq/skiff/broker/metadata"
	"github.com/skiffmq/skiff/commitlog"
	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/protocol"
	"github.com/skiffmq/skiff/internal/remoting"
)

// WriteKind says which path a store write comes from; it decides the rewrite and the waits.
type WriteKind int

const (
	// WriteSend is a producer's single message: rewritten (CLUSTER added, half and delayed
	// messages parked), then the flush wait (SYNC_FLUSH, inside the store) and the replica wait
	// (SYNC_MASTER) apply unless the message says WAIT=false.
	WriteSend WriteKind = iota
	// WriteBatch is a producer's batch: stored as is (the batch path already added CLUSTER and
	// refused delays and transactions), with the same waits as a send.
	WriteBatch
	// WriteInternal is a message the broker itself moves (delayed delivery, transaction op
	// records, checks past the maximum): WAIT=false, no rewrite; replica wait only when
	// Writer.FenceInternal says so (controller mode: a delay offset or an op record must not get
	// ahead of what the in-sync replicas hold).
	WriteInternal
	// WriteSendBack is a consumer's message sent back for a retry: rewritten (its delay level
	// parks it in SCHEDULE_TOPIC_XXXX), WAIT=false; replica wait only when Writer.FenceInternal
	// says so (controller mode).
	WriteSendBack
	// WriteCommit is the real message of a committed transaction: no rewrite, WAIT=false; replica
	// wait only when Writer.FenceInternal says so (controller mode).
	WriteCommit
)

// WriteResult is a store write's outcome: the store's result plus the replication outcome.
type WriteResult struct {
	commitlog.PutResult
	Replica ReplicaStatus
}

// OK reports whether the messages were stored (possibly with a flush or replica timeout).
func (w WriteResult) OK() bool {
	return w.Status == commitlog.PutOK || w.Status == commitlog.FlushDiskTimeout
}

// Stored is the number of messages the store took.
func (w WriteResult) Stored() int {
	if !w.OK() {
		return 0
	}
	return max(w.MsgCount, 1)
}

// Code is the send response code of the write: the store's status mapped (§2.4 step 10), then a
// non-OK replica status wins over a flush timeout.
func (w WriteResult) Code() int32 {
	code := PutCode(w.Status)
	if !w.OK() {
		return code
	}
	switch w.Replica {
	case ReplicaSlaveNotAvailable:
		return remoting.SlaveNotAvailable
	case ReplicaTimeout:
		return remoting.FlushSlaveTimeout
	case ReplicaNotEnough:
		return remoting.SystemError
	}
	return code
}

// Writer is the one door to the store: every message the broker stores (sends, batches, delayed
// deliveries, transaction commits and ops, send-backs) goes through Write (or WriteThen, its
// deferred form for producers' sends under SYNC_FLUSH or SYNC_MASTER), which applies the
// rewrite for its kind, puts the messages (the store waits for the covering flush under
// SYNC_FLUSH unless WAIT=false), counts them, wakes the HA writers once and, for a SYNC_MASTER,
// waits for a slave's ack of the end offset unless WAIT=false.
type Writer struct {
	Store      Store
	Replicator func() Replicator             // nil result: no replication
	Config     func() Config                 // cluster name and delay levels for the rewrite
	OnPut      func(res commitlog.PutResult) // statistics; may be nil
	// FenceInternal reports whether send-backs, transaction commits and the broker's internal
	// writes must wait for the replicas too (controller mode: only once the SyncStateSet has
	// them); nil: no.
	FenceInternal func() bool
}

// Write stores msgs (one message, or a batch of one topic and queue).
func (w *Writer) Write(kind WriteKind, msgs ...*message.Message) WriteResult {
	return w.write(kind, nil, nil, msgs)
}

// write is Write with the rewrite's scratch buffer and configuration (see rewrite).
func (w *Writer) write(kind WriteKind, scratch *[]byte, cfg *Config, msgs []*message.Message) WriteResult {
	w.rewrite(kind, msgs, scratch, cfg)
	res := w.put(msgs)
	if w.OnPut != nil {
		w.OnPut(res)
	}
	out := WriteResult{PutResult: res}
	if r := w.replicator(); r != nil && out.OK() {
		out.Replica = r.Replicate(res, w.replicaWait(kind, msgs))
	}
	return out
}

// DeferringStore is a Store that can answer a SYNC_FLUSH write after the covering msync without
// blocking the writer (*commitlog.Store implements it): PutMessagesThen returns deferred=true
// and calls done later, once, with the final result.
type DeferringStore interface {
	PutMessagesThen(msgs []*message.Message, done func(commitlog.PutResult)) (res commitlog.PutResult, deferred bool)
	SyncFlush() bool
}

// Defers reports whether WriteThen may defer: the store is a SYNC_FLUSH DeferringStore, or
// the replicator is a DeferringReplicator whose writes wait for a slave's ack now (SYNC_MASTER,
// controller mode).
func (w *Writer) Defers() bool {
	if ds, ok := w.Store.(DeferringStore); ok && ds.SyncFlush() {
		return true
	}
	dr, ok := w.replicator().(DeferringReplicator)
	return ok && dr.Defers()
}

// WriteThen is Write for a caller that answers later (the send processor): the same rewrite,
// put, statistics and replication, but when the store defers the flush wait (SYNC_FLUSH) or the
// replicator defers the wait for a slave's ack (SYNC_MASTER) it returns deferred=true without
// blocking on either, and done runs exactly once with the final result after the msync covering
// the messages and after the slave's ack covering them, whichever is last (done runs on the
// store's or the HA master's answering goroutine; it must not block). Otherwise it returns the
// final result with deferred=false and never calls done. A Replicator that cannot defer still
// waits on the caller's goroutine.
func (w *Writer) WriteThen(kind WriteKind, done func(WriteResult), msgs ...*message.Message) (WriteResult, bool) {
	j := new(joinedWrite)
	j.bind(done)
	return w.writeJoined(kind, nil, nil, j, msgs)
}

// writeJoined is WriteThen with the rewrite's scratch buffer and configuration (see rewrite) and the caller's
// join j (bound to done with j.bind; zero otherwise). j may be reused once done has run or
// writeJoined returned deferred=false: the send processor keeps it in its pooled op, so a
// deferred write allocates no join and no callback.
func (w *Writer) writeJoined(kind WriteKind, scratch *[]byte, cfg *Config, j *joinedWrite, msgs []*message.Message) (WriteResult, bool) {
	ds, storeDefers := w.Store.(DeferringStore)
	rep := w.replicator()
	dr, repDefers := rep.(DeferringReplicator)
	if !storeDefers && !repDefers {
		return w.write(kind, scratch, cfg, msgs), false
	}
	w.rewrite(kind, msgs, scratch, cfg)
	j.put, j.replica = commitlog.PutResult{}, ReplicaOK
	j.left.Store(3) // the flush, the replica wait and this call (nothing answers before it returns)
	var res commitlog.PutResult
	putDeferred := false
	if storeDefers {
		res, putDeferred = ds.PutMessagesThen(msgs, j.onPut)
	} else {
		res = w.put(msgs)
	}
	if w.OnPut != nil {
		w.OnPut(res)
	}
	if !putDeferred {
		j.put = res
		j.left.Add(-1)
	}
	repDeferred := false
	switch {
	case rep == nil || !(WriteResult{PutResult: res}).OK():
		j.left.Add(-1)
	case repDefers:
		st, d := dr.ReplicateThen(res, w.replicaWait(kind, msgs), j.onReplica)
		if repDeferred = d; !d {
			j.replica = st
			j.left.Add(-1)
		}
	default:
		j.replica = rep.Replicate(res, w.replicaWait(kind, msgs))
		j.left.Add(-1)
	}
	if !putDeferred && !repDeferred {
		return WriteResult{PutResult: j.put, Replica: j.replica}, false
	}
	j.finish()
	return WriteResult{}, true
}

// put stores msgs with the store's blocking call.
func (w *Writer) put(msgs []*message.Message) commitlog.PutResult {
	if len(msgs) == 1 {
		return w.Store.PutMessage(msgs[0])
	}
	return w.Store.PutMessages(msgs)
}

// joinedWrite answers a deferred write once both its flush and its replica wait are over.
// onPut and onReplica are its own methods bound once (bind), so that a reused join costs no
// closure per write.
type joinedWrite struct {
	left    atomic.Int32 // parts still running (flush, replica wait, WriteThen); the one that brings it to 0 answers
	put     commitlog.PutResult
	replica ReplicaStatus
	joinCallbacks
}

// joinCallbacks are a joinedWrite's bound callbacks: done, and its own flushed and replicated.
type joinCallbacks struct {
	done      func(WriteResult)
	onPut     func(commitlog.PutResult)
	onReplica func(ReplicaStatus)
}

// bind makes done the join's answer and binds its callbacks (three allocations, once).
func (j *joinedWrite) bind(done func(WriteResult)) {
	j.done, j.onPut, j.onReplica = done, j.flushed, j.replicated
}

func (j *joinedWrite) flushed(r commitlog.PutResult) {
	j.put = r
	j.finish()
}

func (j *joinedWrite) replicated(st ReplicaStatus) {
	j.replica = st
	j.finish()
}

func (j *joinedWrite) finish() {
	if j.left.Add(-1) == 0 {
		j.done(WriteResult{PutResult: j.put, Replica: j.replica})
	}
}

// rewrite applies the rewrite of kind (sends and send-backs). A single message whose property
// string only gains CLUSTER gets the new string in *scratch when scratch is not nil (the send
// processor's pooled buffer: no allocation); the string aliases the buffer, so its owner must
// not reuse it while the message is in use. cfg is the caller's snapshot of the configuration
// (the send processor's, taken once per send); nil: Writer.Config.
func (w *Writer) rewrite(kind WriteKind, msgs []*message.Message, scratch *[]byte, cfg *Config) {
	if kind == WriteSend || kind == WriteSendBack {
		if cfg == nil {
			c := w.Config()
			cfg = &c
		}
		if len(msgs) != 1 {
			scratch = nil
		}
		for _, m := range msgs {
			rewriteInto(m, cfg.BrokerClusterName, cfg.DelayLevels, scratch)
		}
	}
}

func (w *Writer) replicator() Replicator {
	if w.Replicator == nil {
		return nil
	}
	return w.Replicator()
}

// replicaWait reports whether a write of kind waits for a replica's ack (when the broker is a
// SYNC_MASTER or in controller mode; the Replicator decides): producers' writes unless WAIT=false,
// the broker's own writes when FenceInternal says so.
func (w *Writer) replicaWait(kind WriteKind, msgs []*message.Message) bool {
	if (kind == WriteSend || kind == WriteBatch) && waitRequested(msgs) {
		return true
	}
	return (kind == WriteSendBack || kind == WriteCommit || kind == WriteInternal) && w.FenceInternal != nil && w.FenceInternal()
}

// waitRequested: the producer did not set WAIT=false on the (first) message.
func waitRequested(msgs []*message.Message) bool {
	return len(msgs) > 0 && msgs[0].Property(message.PropertyWait) != "false"
}

// Rewrite adds CLUSTER and parks half messages in RMQ_SYS_TRANS_HALF_TOPIC and delayed messages in
// SCHEDULE_TOPIC_XXXX, remembering the real destination in REAL_TOPIC / REAL_QID (§2.10, §4.10).
// levels is the number of delay levels (a larger level is clamped to it).
func Rewrite(m *message.Message, cluster string, levels int) {
	rewriteInto(m, cluster, levels, nil)
}

// rewriteInto is Rewrite building an appended property string in *scratch (nil: allocated).
func rewriteInto(m *message.Message, cluster string, levels int, scratch *[]byte) {
	if m.Properties == nil {
		if text, ok := appendClusterOnly(m.PropertiesText, cluster, scratch); ok {
			m.PropertiesText = text
			return
		}
		m.Properties = message.ParseProperties(m.PropertiesText)
		m.PropertiesText = ""
	}
	m.Properties[message.PropertyCluster] = cluster
	tranType := m.SysFlag & message.TransactionMask
	if m.Properties[message.PropertyTransactionPrepared] == "true" && tranType != message.TransactionCommit && tranType != message.TransactionRollback {
		m.Properties[message.PropertyRealTopic] = m.Topic
		m.Properties[message.PropertyRealQueueID] = strconv.Itoa(int(m.QueueID))
		m.SysFlag &^= message.TransactionMask
		m.Topic, m.QueueID = metadata.TopicTransHalf, 0
		return
	}
	if tranType == message.TransactionPrepared || tranType == message.TransactionRollback {
		return
	}
	dl, ok := m.Properties[message.PropertyDelayLevel]
	if !ok {
		return
	}
	level, err := strconv.Atoi(dl)
	if err != nil || level <= 0 {
		return
	}
	level = min(level, levels)
	m.Properties[message.PropertyDelayLevel] = strconv.Itoa(level)
	m.Properties[message.PropertyRealTopic] = m.Topic
	m.Properties[message.PropertyRealQueueID] = strconv.Itoa(int(m.QueueID))
	m.Topic, m.QueueID = metadata.TopicSchedule, int32(level-1)
}

// appendClusterOnly is Rewrite for a message kept as a property string: when the message needs
// nothing but CLUSTER (no TRAN_MSG=true, no DELAY, no CLUSTER of its own) it returns the string
// with CLUSTER appended and true; otherwise false, and the caller parses the string into a map.
func appendClusterOnly(text, cluster string, scratch *[]byte) (string, bool) {
	if !clusterOnly(text) || cluster == "" || strings.ContainsAny(cluster, "\x01\x02") {
		return "", false
	}
	n := len(text) + len(message.PropertyCluster) + len(cluster) + 2
	var b []byte
	if scratch != nil {
		b = (*scratch)[:0]
	}
	if cap(b) < n {
		b = make([]byte, 0, n)
	}
	b = append(b, text...)
	if text != "" && text[len(text)-1] != '\x02' {
		b = append(b, '\x02')
	}
	b = append(b, message.PropertyCluster...)
	b = append(b, '\x01')
	b = append(b, cluster...)
	if scratch != nil {
		*scratch = b
	}
	return protocol.AliasString(b), true
}

// clusterOnly reports, in one pass over an encoded property string, what three TextProperty
// look-ups would: the last TRAN_MSG is not "true", and there is no DELAY and no CLUSTER (pairs
// with an empty name or value do not count, as in TextProperty).
func clusterOnly(text string) bool {
	tran := ""
	for len(text) > 0 {
		pair := text
		if i := strings.IndexByte(text, '\x02'); i >= 0 {
			pair, text = text[:i], text[i+1:]
		} else {
			text = ""
		}
		j := strings.IndexByte(pair, '\x01')
		if j <= 0 || j == len(pair)-1 {
			continue
		}
		switch pair[:j] {
		case message.PropertyDelayLevel, message.PropertyCluster:
			return false
		case message.PropertyTransactionPrepared:
			tran = pair[j+1:]
		}
	}
	return tran != "true"
}
