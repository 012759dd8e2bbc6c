package broker

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/skiffmq/skiff/broker/metadata"
	"github.com/skiffmq/skiff/commitlog"
	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/server"
)

// Transactions (§2.10). A half message is stored in RMQ_SYS_TRANS_HALF_TOPIC queue 0 with its real
// destination in REAL_TOPIC / REAL_QID (rewriteForStore). END_TRANSACTION commits it (a copy goes
// to the real topic with transaction type COMMIT) or rolls it back; either way an "op" record
// whose body is the half queue offset goes to RMQ_SYS_TRANS_OP_HALF_TOPIC queue 0. The check loop
// asks a producer of the group (CHECK_TRANSACTION_STATE) about half messages older than
// transactionTimeOut that have no op record, at most transactionCheckMax times, then moves them
// to TRANS_CHECK_MAX_TIME_TOPIC.

const (
	tranCommit   = 0x8
	tranRollback = 0xC
)

// txState is the check loop's memory (owned by the loop goroutine, except done, which
// END_TRANSACTION also writes).
type txState struct {
	mu        sync.Mutex
	done      map[int64]bool // half queue offsets that have an op record
	opOffset  int64          // next op-queue offset to read
	halfStart int64          // first half offset that may still be open
	checks    map[int64]int  // checks sent per half offset
}

func (b *Broker) handleEndTransaction(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	h := newHeader(req)
	group := h.str("producerGroup", true)
	tranOffset := h.i64("tranStateTableOffset", true)
	clOffset := h.i64("commitLogOffset", true)
	kind := h.i32("commitOrRollback", true)
	fromCheck := h.boolean("fromTransactionCheck")
	if h.err != nil {
		return errResp(req, remoting.SystemError, "%v", h.err)
	}
	if !b.conf().IsMaster() {
		return errResp(req, remoting.SlaveNotAvailable, "the broker[%s] is a slave; end transactions on the master", b.conf().BrokerAddr())
	}
	if b.fo != nil && !b.fo.writable() {
		return errResp(req, remoting.ServiceNotAvailable, "the broker[%s] is not the master of its set (controller mode)", b.conf().BrokerAddr())
	}
	if kind != tranCommit && kind != tranRollback {
		b.log.Info("transaction outcome unknown; it will be checked", "producerGroup", group, "commitLogOffset", clOffset, "fromCheck", fromCheck)
		return nil
	}
	raw, err := b.store.LookupMessage(clOffset)
	if err != nil {
		return errResp(req, remoting.SystemError, "find prepared transaction message failed: offset %d: %v", clOffset, err)
	}
	half, err := message.Decode(raw, false)
	if err != nil {
		return errResp(req, remoting.SystemError, "decode prepared transaction message at %d: %v", clOffset, err)
	}
	switch {
	case half.Topic != metadata.TopicTransHalf:
		return errResp(req, remoting.SystemError, "the message at commit log offset %d is not a prepared transaction message", clOffset)
	case half.Properties[message.PropertyProducerGroup] != group:
		return errResp(req, remoting.SystemError, "The producer group wrong")
	case half.QueueOffset != tranOffset:
		return errResp(req, remoting.SystemError, "The transaction state table offset wrong")
	case half.CommitLogOffset != clOffset:
		return errResp(req, remoting.SystemError, "The commit log offset wrong")
	}
	if b.tx.isDone(half.QueueOffset) {
		return respond(req, remoting.Success, "", nil, nil) // already ended (a late check answer)
	}
	if kind == tranCommit {
		m := b.realMessageOf(half)
		m.SysFlag = (m.SysFlag &^ message.TransactionMask) | message.TransactionCommit
		m.PreparedTransactionOffset = half.CommitLogOffset
		res := b.write(writeCommit, m)
		if !res.OK() {
			return errResp(req, putCode(res.Status), "commit transaction message: %s: %v", putStatusName(res.Status), res.Err)
		}
		if b.fo != nil {
			if rs := res.Replica; rs != replicaOK {
				// Not recorded as ended: the check-back asks the producer again.
				return errResp(req, remoting.SystemError, "committed message stored on the master but not on every in-sync replica in time")
			}
		}
	}
	if err := b.writeOp(half.QueueOffset); err != nil {
		return errResp(req, remoting.SystemError, "record transaction outcome: %v", err)
	}
	b.log.Debug("transaction ended", "producerGroup", group, "commit", kind == tranCommit, "halfOffset", half.QueueOffset)
	return respond(req, remoting.Success, "", nil, nil)
}

// realMessageOf rebuilds the message a half message stands for, with its real topic and queue.
func (b *Broker) realMessageOf(half *message.Message) *message.Message {
	props := map[string]string{}
	for k, v := range half.Properties {
		props[k] = v
	}
	topic := props[message.PropertyRealTopic]
	qid, _ := strconv.Atoi(props[message.PropertyRealQueueID])
	delete(props, message.PropertyRealTopic)
	delete(props, message.PropertyRealQueueID)
	delete(props, message.PropertyTransactionPrepared)
	delete(props, message.PropertyCheckTimes)
	props[message.PropertyWait] = "false"
	return &message.Message{
		Topic: topic, QueueID: int32(qid), Flag: half.Flag, SysFlag: half.SysFlag,
		BornTimestamp: half.BornTimestamp, BornHost: half.BornHost, StoreHost: b.storeHost,
		ReconsumeTimes: half.ReconsumeTimes, Body: half.Body, Properties: props,
	}
}

// writeOp records that a half message ended.
func (b *Broker) writeOp(halfOffset int64) error {
	m := &message.Message{Topic: metadata.TopicTransOpHalf, QueueID: 0, Body: []byte(strconv.FormatInt(halfOffset, 10)),
		BornTimestamp: b.now().UnixMilli(), BornHost: b.storeHost, StoreHost: b.storeHost,
		Properties: map[string]string{message.PropertyTags: "d", message.PropertyWait: "false"}}
	res := b.write(writeInternal, m)
	if !res.OK() {
		return fmt.Errorf("%s: %v", putStatusName(res.Status), res.Err)
	}
	b.tx.markDone(halfOffset)
	return nil
}

func (t *txState) isDone(off int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.done[off]
}

func (t *txState) markDone(off int64) {
	t.mu.Lock()
	t.done[off] = true
	delete(t.checks, off)
	t.mu.Unlock()
}

// transactionCheckLoop asks producers about open transactions every transactionCheckInterval.
func (b *Broker) transactionCheckLoop(ctx context.Context) {
	t := time.NewTicker(ms(b.conf().TransactionCheckInterval))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if b.conf().IsMaster() { // controller mode: only the current master checks back
				b.checkTransactions(b.now())
			}
		}
	}
}

func (b *Broker) checkTransactions(now time.Time) {
	// Learn the op records written since the last pass (also those from before a restart).
	for {
		res := b.store.GetMessage(metadata.TopicTransOpHalf, 0, b.tx.opOffset, 32, nil)
		if res.Status != commitlog.Found {
			if res.NextBeginOffset > b.tx.opOffset && res.Status != commitlog.OffsetOverflowOne {
				b.tx.opOffset = res.NextBeginOffset
				continue
			}
			break
		}
		for _, raw := range res.Messages {
			if m, err := message.Decode(raw, false); err == nil {
				if off, err := strconv.ParseInt(string(m.Body), 10, 64); err == nil {
					b.tx.markDone(off)
				}
			}
		}
		b.tx.opOffset = res.NextBeginOffset
	}
	if minOff := b.store.MinOffsetInQueue(metadata.TopicTransHalf, 0); b.tx.halfStart < minOff {
		b.tx.halfStart = minOff
	}
	maxOff := b.store.MaxOffsetInQueue(metadata.TopicTransHalf, 0)
	contiguous := true
	for off := b.tx.halfStart; off < maxOff; off++ {
		if b.tx.isDone(off) {
			if contiguous {
				b.tx.halfStart = off + 1
			}
			continue
		}
		res := b.store.GetMessage(metadata.TopicTransHalf, 0, off, 1, nil)
		if res.Status != commitlog.Found {
			continue
		}
		half, err := message.Decode(res.Messages[0], false)
		if err != nil {
			continue
		}
		if now.UnixMilli()-half.StoreTimestamp < int64(b.conf().TransactionTimeOut) {
			break // younger messages follow
		}
		contiguous = false
		b.tx.mu.Lock()
		n := b.tx.checks[off]
		b.tx.checks[off] = n + 1
		b.tx.mu.Unlock()
		if n >= b.conf().TransactionCheckMax {
			m := b.realMessageOf(half)
			m.Topic, m.QueueID = metadata.TopicTransCheckMax, 0
			if _, _, err := b.topics.PutIfAbsent(metadata.TopicConfig{TopicName: metadata.TopicTransCheckMax, ReadQueueNums: 1, WriteQueueNums: 1, Perm: metadata.PermRead}); err != nil {
				b.log.Error("create transaction check-max topic failed", "err", err)
			}
			b.write(writeInternal, m)
			if err := b.writeOp(off); err == nil {
				b.log.Warn("transaction still unknown after the maximum number of checks; discarded",
					"producerGroup", half.Properties[message.PropertyProducerGroup], "halfOffset", off, "checks", n)
			}
			continue
		}
		b.sendCheck(half)
	}
}

// sendCheck sends CHECK_TRANSACTION_STATE about a half message to one producer of its group.
func (b *Broker) sendCheck(half *message.Message) {
	group := half.Properties[message.PropertyProducerGroup]
	chs := b.clients.producerChannels(group)
	if len(chs) == 0 {
		b.log.Debug("no producer online to check a transaction", "producerGroup", group, "halfOffset", half.QueueOffset)
		return
	}
	real := b.realMessageOf(half)
	delete(real.Properties, message.PropertyWait)
	real.Properties[message.PropertyTransactionPrepared] = "true"
	real.CommitLogOffset, real.QueueOffset = half.CommitLogOffset, half.QueueOffset
	real.StoreTimestamp = half.StoreTimestamp
	body, err := message.Encode(nil, real)
	if err != nil {
		return
	}
	ext := map[string]string{
		"tranStateTableOffset": i64s(half.QueueOffset),
		"commitLogOffset":      i64s(half.CommitLogOffset),
		"msgId":                half.Properties[message.PropertyUniqKey],
		"transactionId":        half.Properties[message.PropertyUniqKey],
		"offsetMsgId":          message.OffsetMsgID(half.StoreHost, half.CommitLogOffset),
	}
	ch := chs[int(half.QueueOffset)%len(chs)]
	if err := ch.conn.InvokeOneway(remoting.NewRequest(remoting.CheckTransactionState, ext, body)); err != nil {
		b.log.Debug("check transaction state failed", "addr", ch.conn.RemoteAddr(), "err", err)
	}
}
