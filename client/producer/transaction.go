package producer

import (
	"context"
	"fmt"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/protocol"
	"github.com/skiffmq/skiff/internal/remoting"
)

// LocalTransactionState is the outcome of a local transaction.
type LocalTransactionState int

// Local transaction states.
const (
	// Unknown leaves the half message pending; the broker asks CheckLocalTransaction later.
	Unknown LocalTransactionState = iota
	// Commit delivers the message to consumers.
	Commit
	// Rollback discards the message.
	Rollback
)

func (s LocalTransactionState) String() string {
	switch s {
	case Commit:
		return "COMMIT"
	case Rollback:
		return "ROLLBACK"
	}
	return "UNKNOWN"
}

// wire value of END_TRANSACTION's commitOrRollback.
func (s LocalTransactionState) code() int32 {
	switch s {
	case Commit:
		return message.TransactionCommit
	case Rollback:
		return message.TransactionRollback
	}
	return message.TransactionNotType
}

// TransactionListener runs the local side of a transaction.
type TransactionListener interface {
	// ExecuteLocalTransaction runs after the half message was stored.
	ExecuteLocalTransaction(ctx context.Context, msg *client.Message) LocalTransactionState
	// CheckLocalTransaction answers the broker's check-back for a half message whose outcome is
	// still unknown (the producer crashed, or returned Unknown). msg.MsgID is the id the send
	// returned.
	CheckLocalTransaction(msg *client.MessageExt) LocalTransactionState
}

// TransactionProducer sends transactional messages: a half message that consumers do not see,
// the local transaction, then commit or rollback; the broker checks back on unknown outcomes.
type TransactionProducer struct {
	*Producer
	listener TransactionListener
}

// TransactionResult is the result of SendMessageInTransaction.
type TransactionResult struct {
	*client.SendResult
	State LocalTransactionState // what ExecuteLocalTransaction returned
}

// NewTransactionProducer returns a producer whose group receives check-backs through listener.
// Give it its own group (WithGroup): the broker sends check-backs to any producer of the group.
func NewTransactionProducer(listener TransactionListener, opts ...Option) (*TransactionProducer, error) {
	if listener == nil {
		return nil, fmt.Errorf("producer: %w: nil transaction listener", client.ErrInvalidArgument)
	}
	p, err := New(opts...)
	if err != nil {
		return nil, err
	}
	tp := &TransactionProducer{Producer: p, listener: listener}
	p.core.Handle(remoting.CheckTransactionState, tp.handleCheck)
	return tp, nil
}

// SendMessageInTransaction stores msg as a half message, runs the local transaction and ends
// it. A failure to store the half message is returned without running the local transaction.
func (tp *TransactionProducer) SendMessageInTransaction(ctx context.Context, msg *client.Message) (*TransactionResult, error) {
	if err := tp.checkStarted(); err != nil {
		return nil, err
	}
	if msg == nil {
		return nil, fmt.Errorf("producer: %w: nil message", client.ErrInvalidArgument)
	}
	if msg.DelayLevel > 0 {
		return nil, fmt.Errorf("producer: %w: transactional messages cannot be delayed (level %d)", client.ErrInvalidArgument, msg.DelayLevel)
	}
	half := *msg
	half.Properties = msg.WireProperties()
	half.Tags, half.Keys, half.DelayLevel = "", nil, 0
	half.Properties[client.PropertyTransactionPrep] = "true"
	half.Properties[client.PropertyProducerGroup] = tp.o.group
	pr, err := tp.prepare(&half)
	if err != nil {
		return nil, err
	}
	res, err := tp.sendSync(ctx, pr, nil)
	if err != nil {
		return nil, fmt.Errorf("producer: half message not stored, local transaction not run: %w", err)
	}
	state := tp.runLocal(ctx, msg)
	addr := tp.core.MasterAddr(res.Queue.BrokerName)
	tid := res.TransactionID
	if tid == "" {
		tid = res.MsgID
	}
	_, clOffset, perr := message.ParseOffsetMsgID(res.OffsetMsgID)
	if perr != nil {
		err = fmt.Errorf("producer: end transaction %s: %w: offset message id %q: %v", res.MsgID, client.ErrBadResponse, res.OffsetMsgID, perr)
	} else {
		err = tp.end(ctx, addr, clOffset, res.QueueOffset, res.MsgID, tid, state, false)
	}
	if err != nil {
		// The broker checks back, so the outcome is not lost.
		tp.core.Logger().Warn("end transaction failed; the broker will check back", "msgId", res.MsgID, "err", err)
	}
	return &TransactionResult{SendResult: res, State: state}, nil
}

func (tp *TransactionProducer) runLocal(ctx context.Context, msg *client.Message) (state LocalTransactionState) {
	defer func() {
		if r := recover(); r != nil {
			tp.core.Logger().Error("local transaction panicked; outcome unknown", "panic", r)
			state = Unknown
		}
	}()
	return tp.listener.ExecuteLocalTransaction(ctx, msg)
}

// end sends END_TRANSACTION (oneway) to the broker holding the half message.
func (tp *TransactionProducer) end(ctx context.Context, addr string, clOffset, queueOffset int64, msgID, tid string, state LocalTransactionState, fromCheck bool) error {
	if addr == "" {
		return fmt.Errorf("producer: end transaction %s: %w: no broker address", msgID, client.ErrConnect)
	}
	h := protocol.EndTransactionRequestHeader{ProducerGroup: tp.o.group, TranStateTableOffset: queueOffset,
		CommitLogOffset: clOffset, CommitOrRollback: state.code(), FromTransactionCheck: fromCheck, MsgID: msgID, TransactionID: tid}
	req := remoting.NewRequestList(remoting.EndTransaction, nil)
	req.SetRawExt(h.Append(make([]protocol.ExtField, 0, 7)))
	return tp.core.InvokeOneway(ctx, addr, req)
}

// handleCheck answers CHECK_TRANSACTION_STATE with END_TRANSACTION (no direct response).
func (tp *TransactionProducer) handleCheck(addr string, req *remoting.Command) *remoting.Command {
	stored, err := message.Decode(req.Body, false)
	if err != nil {
		tp.core.Logger().Warn("undecodable transaction check", "addr", addr, "err", err)
		return nil
	}
	m, err := client.FromStored(stored, "")
	if err != nil {
		tp.core.Logger().Warn("undecodable transaction check", "addr", addr, "err", err)
		return nil
	}
	h, err := protocol.DecodeCheckTransactionStateRequestHeader(req.RawExt())
	if err != nil {
		tp.core.Logger().Warn("transaction check with a bad header; not answered", "addr", addr, "msgId", m.MsgID, "err", err)
		return nil
	}
	if msgID := h.MsgID; msgID != "" {
		m.MsgID = msgID
	}
	state := func() (s LocalTransactionState) {
		defer func() {
			if r := recover(); r != nil {
				tp.core.Logger().Error("transaction check panicked; outcome unknown", "panic", r)
				s = Unknown
			}
		}()
		return tp.listener.CheckLocalTransaction(m)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), tp.o.sendTimeout)
	defer cancel()
	if err := tp.end(ctx, addr, h.CommitLogOffset, h.TranStateTableOffset, m.MsgID, h.TransactionID, state, true); err != nil {
		tp.core.Logger().Warn("answering a transaction check failed", "addr", addr, "msgId", m.MsgID, "err", err)
	}
	return nil
}
