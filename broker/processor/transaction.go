package processor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/skiffmq/skiff/broker/metadata"
	"github.com/skiffmq/skiff/commitlog"
	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/protocol"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/server"
)

// TxStore is what the transaction processor reads of the commit log (*commitlog.Store
// implements it).
type TxStore interface {
	LookupMessage(offset int64) ([]byte, error)
	GetMessage(topic string, queueID int32, offset int64, maxMsgNums int, match func(tagsCode int64) bool) commitlog.GetResult
	MinOffsetInQueue(topic string, queueID int32) int64
	MaxOffsetInQueue(topic string, queueID int32) int64
}

// ErrNoProducer is Producers.Check's error when no producer of the group is connected.
var ErrNoProducer = errors.New("no producer of the group is connected")

// Producers reaches the connected producers of a group (the broker's client manager).
type Producers interface {
	// Check sends req (CHECK_TRANSACTION_STATE, oneway) to one producer of group, chosen by pick
	// among those connected; ErrNoProducer when there is none.
	Check(group string, pick int, req *remoting.Command) error
}

// Transactions is the transaction processor (§2.10): END_TRANSACTION and the check-back pass.
//
// A half message is stored (by the send processor's rewrite) in RMQ_SYS_TRANS_HALF_TOPIC queue 0
// with its real destination in REAL_TOPIC / REAL_QID. END_TRANSACTION commits it (a copy goes to
// the real topic with transaction type COMMIT) or rolls it back; either way an "op" record whose
// body is the half queue offset goes to RMQ_SYS_TRANS_OP_HALF_TOPIC queue 0. CheckPass asks a
// producer of the group (CHECK_TRANSACTION_STATE) about half messages older than
// TransactionTimeOut that have no op record, at most TransactionCheckMax times, then moves them to
// TRANS_CHECK_MAX_TIME_TOPIC and records an op.
//
// Every store write goes through Writer; in controller mode (Writer.FenceInternal) the commit
// and the op record are answered only once the in-sync replicas have them, and a commit that did
// not reach them stays open (the check-back asks again) rather than being recorded as ended.
type Transactions struct {
	Store     TxStore
	Writer    *Writer
	Topics    Topics
	Producers Producers
	StoreHost netip.AddrPort
	Config    func() Config
	Now       func() time.Time
	Log       *slog.Logger
	// Writable reports whether this broker may write now (controller mode: it is the master of
	// its set); nil means always.
	Writable func() bool

	mu        sync.Mutex
	done      map[int64]bool // half queue offsets that have an op record
	checks    map[int64]int  // checks sent per half offset
	opOffset  int64          // next op-queue offset to read (CheckPass only)
	halfStart int64          // first half offset that may still be open (CheckPass only)
}

// EndTransaction serves END_TRANSACTION. Register it with server.HandleRaw. A commit or rollback
// of a transaction already ended is answered SUCCESS without a second write; an unknown outcome
// (TransactionNotType) is left to the check-back and gets no response (the request is oneway).
func (p *Transactions) EndTransaction(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	h, err := protocol.DecodeEndTransactionRequestHeader(req.RawExt())
	if err != nil {
		return errResp(req, remoting.SystemError, "%v", err)
	}
	cfg := p.Config()
	if !cfg.IsMaster {
		return errResp(req, remoting.SlaveNotAvailable, "the broker[%s] is a slave; end transactions on the master", cfg.BrokerAddr)
	}
	if p.Writable != nil && !p.Writable() {
		return errResp(req, remoting.ServiceNotAvailable, "the broker[%s] is not the master of its set (controller mode)", cfg.BrokerAddr)
	}
	kind := h.CommitOrRollback
	if kind != protocol.TransactionCommit && kind != protocol.TransactionRollback {
		p.Log.Info("transaction outcome unknown; it will be checked", "producerGroup", h.ProducerGroup,
			"commitLogOffset", h.CommitLogOffset, "commitOrRollback", kind, "fromCheck", h.FromTransactionCheck)
		return nil
	}
	raw, err := p.Store.LookupMessage(h.CommitLogOffset)
	if err != nil {
		return errResp(req, remoting.SystemError, "find prepared transaction message failed: commitLogOffset %d: %v", h.CommitLogOffset, err)
	}
	half, err := message.Decode(raw, false)
	if err != nil {
		return errResp(req, remoting.SystemError, "decode prepared transaction message at commitLogOffset %d: %v", h.CommitLogOffset, err)
	}
	switch {
	case half.Topic != metadata.TopicTransHalf:
		return errResp(req, remoting.SystemError, "the message at commit log offset %d is not a prepared transaction message (topic %s)", h.CommitLogOffset, half.Topic)
	case half.Properties[message.PropertyProducerGroup] != h.ProducerGroup:
		return errResp(req, remoting.SystemError, "The producer group wrong: %q, the message was sent by %q", h.ProducerGroup, half.Properties[message.PropertyProducerGroup])
	case half.QueueOffset != h.TranStateTableOffset:
		return errResp(req, remoting.SystemError, "The transaction state table offset wrong: %d, the message is at %d", h.TranStateTableOffset, half.QueueOffset)
	case half.CommitLogOffset != h.CommitLogOffset:
		return errResp(req, remoting.SystemError, "The commit log offset wrong: %d", h.CommitLogOffset)
	}
	if p.isDone(half.QueueOffset) {
		return remoting.NewResponseList(req, remoting.Success, "") // already ended (a late check answer)
	}
	if kind == protocol.TransactionCommit {
		m := p.realMessageOf(half)
		m.SysFlag = (m.SysFlag &^ message.TransactionMask) | message.TransactionCommit
		m.PreparedTransactionOffset = half.CommitLogOffset
		res := p.Writer.Write(WriteCommit, m)
		if !res.OK() {
			return errResp(req, PutCode(res.Status), "commit transaction message: %s: %v", PutStatusName(res.Status), res.Err)
		}
		if res.Replica != ReplicaOK {
			// Not recorded as ended: the check-back asks the producer again.
			return errResp(req, res.Code(), "committed message stored on the master but not on the replicas in time; the transaction stays open")
		}
	}
	if err := p.writeOp(half.QueueOffset); err != nil {
		return errResp(req, remoting.SystemError, "record transaction outcome: %v", err)
	}
	p.Log.Debug("transaction ended", "producerGroup", h.ProducerGroup, "commit", kind == protocol.TransactionCommit, "halfOffset", half.QueueOffset)
	return remoting.NewResponseList(req, remoting.Success, "")
}

// realMessageOf rebuilds the message a half message stands for, with its real topic and queue.
func (p *Transactions) realMessageOf(half *message.Message) *message.Message {
	props := make(map[string]string, len(half.Properties))
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
		BornTimestamp: half.BornTimestamp, BornHost: half.BornHost, StoreHost: p.StoreHost,
		ReconsumeTimes: half.ReconsumeTimes, Body: half.Body, Properties: props,
	}
}

// writeOp records that a half message ended.
func (p *Transactions) writeOp(halfOffset int64) error {
	m := &message.Message{Topic: metadata.TopicTransOpHalf, QueueID: 0, Body: []byte(strconv.FormatInt(halfOffset, 10)),
		BornTimestamp: p.Now().UnixMilli(), BornHost: p.StoreHost, StoreHost: p.StoreHost,
		Properties: map[string]string{message.PropertyTags: "d", message.PropertyWait: "false"}}
	res := p.Writer.Write(WriteInternal, m)
	if !res.OK() {
		return fmt.Errorf("%s: %v", PutStatusName(res.Status), res.Err)
	}
	if res.Replica != ReplicaOK {
		// Stored here (the next CheckPass learns it from the op queue) but not yet on the
		// replicas: not answered as ended.
		return fmt.Errorf("the op record is stored on the master but not on the replicas in time")
	}
	p.markDone(halfOffset)
	return nil
}

func (p *Transactions) isDone(off int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done[off]
}

func (p *Transactions) markDone(off int64) {
	p.mu.Lock()
	if p.done == nil {
		p.done = map[int64]bool{}
	}
	p.done[off] = true
	delete(p.checks, off)
	p.mu.Unlock()
}

// countCheck returns the number of checks sent so far for off and counts one more.
func (p *Transactions) countCheck(off int64) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.checks == nil {
		p.checks = map[int64]int{}
	}
	n := p.checks[off]
	p.checks[off] = n + 1
	return n
}

// CheckPass runs one check-back pass at now: it learns the op records written since the last
// pass (also those from before a restart), then asks about every half message older than
// TransactionTimeOut that has none. It must not run concurrently with itself (the broker runs it
// from one loop).
func (p *Transactions) CheckPass(now time.Time) {
	for {
		res := p.Store.GetMessage(metadata.TopicTransOpHalf, 0, p.opOffset, 32, nil)
		if res.Status != commitlog.Found {
			if res.NextBeginOffset > p.opOffset && res.Status != commitlog.OffsetOverflowOne {
				p.opOffset = res.NextBeginOffset
				continue
			}
			break
		}
		for _, raw := range res.Messages {
			if m, err := message.Decode(raw, false); err == nil {
				if off, err := strconv.ParseInt(string(m.Body), 10, 64); err == nil {
					p.markDone(off)
				}
			}
		}
		p.opOffset = res.NextBeginOffset
	}
	if minOff := p.Store.MinOffsetInQueue(metadata.TopicTransHalf, 0); p.halfStart < minOff {
		p.halfStart = minOff
	}
	cfg := p.Config()
	maxOff := p.Store.MaxOffsetInQueue(metadata.TopicTransHalf, 0)
	contiguous := true
	for off := p.halfStart; off < maxOff; off++ {
		if p.isDone(off) {
			if contiguous {
				p.halfStart = off + 1
			}
			continue
		}
		res := p.Store.GetMessage(metadata.TopicTransHalf, 0, off, 1, nil)
		if res.Status != commitlog.Found {
			continue
		}
		half, err := message.Decode(res.Messages[0], false)
		if err != nil {
			p.Log.Warn("undecodable half message skipped by the check-back", "halfOffset", off, "err", err)
			continue
		}
		if now.UnixMilli()-half.StoreTimestamp < cfg.TransactionTimeOut.Milliseconds() {
			break // younger messages follow
		}
		contiguous = false
		if n := p.countCheck(off); n >= cfg.TransactionCheckMax {
			p.discard(half, n)
			continue
		}
		p.sendCheck(half)
	}
}

// discard moves a half message checked TransactionCheckMax times to TRANS_CHECK_MAX_TIME_TOPIC
// and records an op for it. The op is written only once the move is stored, so a failed move
// is tried again at the next pass.
func (p *Transactions) discard(half *message.Message, checks int) {
	m := p.realMessageOf(half)
	m.Topic, m.QueueID = metadata.TopicTransCheckMax, 0
	if _, _, err := p.Topics.PutIfAbsent(metadata.TopicConfig{TopicName: metadata.TopicTransCheckMax, ReadQueueNums: 1, WriteQueueNums: 1, Perm: metadata.PermRead}); err != nil {
		p.Log.Error("create the transaction check-max topic failed", "topic", metadata.TopicTransCheckMax, "err", err)
		return
	}
	if res := p.Writer.Write(WriteInternal, m); !res.OK() || res.Replica != ReplicaOK {
		p.Log.Error("moving a transaction past its maximum checks failed; retried at the next pass",
			"halfOffset", half.QueueOffset, "status", PutStatusName(res.Status), "err", res.Err)
		return
	}
	if err := p.writeOp(half.QueueOffset); err != nil {
		p.Log.Error("recording a discarded transaction failed", "halfOffset", half.QueueOffset, "err", err)
		return
	}
	p.Log.Warn("transaction still unknown after the maximum number of checks; moved to "+metadata.TopicTransCheckMax,
		"producerGroup", half.Properties[message.PropertyProducerGroup], "halfOffset", half.QueueOffset, "checks", checks)
}

// sendCheck sends CHECK_TRANSACTION_STATE about a half message to one producer of its group.
func (p *Transactions) sendCheck(half *message.Message) {
	group := half.Properties[message.PropertyProducerGroup]
	real := p.realMessageOf(half)
	delete(real.Properties, message.PropertyWait)
	real.Properties[message.PropertyTransactionPrepared] = "true"
	real.CommitLogOffset, real.QueueOffset = half.CommitLogOffset, half.QueueOffset
	real.StoreTimestamp = half.StoreTimestamp
	body, err := message.Encode(nil, real)
	if err != nil {
		p.Log.Warn("encode a transaction check failed", "halfOffset", half.QueueOffset, "err", err)
		return
	}
	id := half.Properties[message.PropertyUniqKey]
	h := protocol.CheckTransactionStateRequestHeader{TranStateTableOffset: half.QueueOffset, CommitLogOffset: half.CommitLogOffset,
		MsgID: id, TransactionID: id, OffsetMsgID: message.OffsetMsgID(half.StoreHost, half.CommitLogOffset)}
	req := remoting.NewRequestList(remoting.CheckTransactionState, body)
	req.SetRawExt(h.Append(make([]protocol.ExtField, 0, 5)))
	switch err := p.Producers.Check(group, int(half.QueueOffset), req); {
	case errors.Is(err, ErrNoProducer):
		p.Log.Debug("no producer online to check a transaction", "producerGroup", group, "halfOffset", half.QueueOffset)
	case err != nil:
		p.Log.Debug("check transaction state failed", "producerGroup", group, "halfOffset", half.QueueOffset, "err", err)
	}
}
