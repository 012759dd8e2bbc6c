package protocol

import "strconv"

// END_TRANSACTION's commitOrRollback values (RocketMQ's MessageSysFlag transaction types).
const (
	TransactionNotType  int32 = 0x0
	TransactionCommit   int32 = 0x8
	TransactionRollback int32 = 0xC
)

// EndTransactionRequestHeader is RocketMQ's EndTransactionRequestHeader (§2.10): a producer's
// outcome of a local transaction, or its answer to CHECK_TRANSACTION_STATE.
type EndTransactionRequestHeader struct {
	ProducerGroup        string
	TranStateTableOffset int64 // the half message's queue offset in RMQ_SYS_TRANS_HALF_TOPIC
	CommitLogOffset      int64 // the half message's commit-log offset
	CommitOrRollback     int32 // TransactionCommit, TransactionRollback or TransactionNotType (unknown)
	FromTransactionCheck bool
	MsgID                string
	TransactionID        string
}

// DecodeEndTransactionRequestHeader reads an END_TRANSACTION header from raw extFields. The four
// fields RocketMQ marks @CFNotNull (producerGroup, tranStateTableOffset, commitLogOffset,
// commitOrRollback) are required; of a key repeated, the last value counts (as Lookup reads it).
// The error names the field and the value.
func DecodeEndTransactionRequestHeader(ext []ExtField) (EndTransactionRequestHeader, error) {
	var h EndTransactionRequestHeader
	var e fieldErr
	var vals [4]string
	var seen [4]bool
	for _, f := range ext {
		switch f.Key {
		case "producerGroup":
			vals[0], seen[0] = f.Value, true
		case "tranStateTableOffset":
			vals[1], seen[1] = f.Value, true
		case "commitLogOffset":
			vals[2], seen[2] = f.Value, true
		case "commitOrRollback":
			vals[3], seen[3] = f.Value, true
		case "fromTransactionCheck":
			h.FromTransactionCheck = ParseBool(f.Value)
		case "msgId":
			h.MsgID = f.Value
		case "transactionId":
			h.TransactionID = f.Value
		}
	}
	for i, k := range [4]string{"producerGroup", "tranStateTableOffset", "commitLogOffset", "commitOrRollback"} {
		if !seen[i] {
			e.missing(k)
		}
	}
	if e.err != nil {
		return h, e.err
	}
	h.ProducerGroup = vals[0]
	h.TranStateTableOffset = e.i64("tranStateTableOffset", vals[1])
	h.CommitLogOffset = e.i64("commitLogOffset", vals[2])
	h.CommitOrRollback = e.i32("commitOrRollback", vals[3])
	return h, e.err
}

// Append appends the header's fields (what a producer sends).
func (h *EndTransactionRequestHeader) Append(ext []ExtField) []ExtField {
	ext = append(ext, ExtField{"producerGroup", h.ProducerGroup},
		ExtField{"tranStateTableOffset", strconv.FormatInt(h.TranStateTableOffset, 10)},
		ExtField{"commitLogOffset", strconv.FormatInt(h.CommitLogOffset, 10)},
		ExtField{"commitOrRollback", strconv.FormatInt(int64(h.CommitOrRollback), 10)},
		ExtField{"fromTransactionCheck", strconv.FormatBool(h.FromTransactionCheck)})
	if h.MsgID != "" {
		ext = append(ext, ExtField{"msgId", h.MsgID})
	}
	if h.TransactionID != "" {
		ext = append(ext, ExtField{"transactionId", h.TransactionID})
	}
	return ext
}

// CheckTransactionStateRequestHeader is RocketMQ's CheckTransactionStateRequestHeader: the broker
// asks a producer of the group about a half message still open after transactionTimeOut.
type CheckTransactionStateRequestHeader struct {
	TranStateTableOffset int64
	CommitLogOffset      int64
	MsgID                string
	TransactionID        string
	OffsetMsgID          string
}

// DecodeCheckTransactionStateRequestHeader reads a CHECK_TRANSACTION_STATE header (the producer
// side); both offsets are required.
func DecodeCheckTransactionStateRequestHeader(ext []ExtField) (CheckTransactionStateRequestHeader, error) {
	var h CheckTransactionStateRequestHeader
	var e fieldErr
	var vals [2]string
	var seen [2]bool
	for _, f := range ext {
		switch f.Key {
		case "tranStateTableOffset":
			vals[0], seen[0] = f.Value, true
		case "commitLogOffset":
			vals[1], seen[1] = f.Value, true
		case "msgId":
			h.MsgID = f.Value
		case "transactionId":
			h.TransactionID = f.Value
		case "offsetMsgId":
			h.OffsetMsgID = f.Value
		}
	}
	for i, k := range [2]string{"tranStateTableOffset", "commitLogOffset"} {
		if !seen[i] {
			e.missing(k)
		}
	}
	if e.err != nil {
		return h, e.err
	}
	h.TranStateTableOffset = e.i64("tranStateTableOffset", vals[0])
	h.CommitLogOffset = e.i64("commitLogOffset", vals[1])
	return h, e.err
}

// Append appends the header's fields (what the broker sends).
func (h *CheckTransactionStateRequestHeader) Append(ext []ExtField) []ExtField {
	return append(ext,
		ExtField{"tranStateTableOffset", strconv.FormatInt(h.TranStateTableOffset, 10)},
		ExtField{"commitLogOffset", strconv.FormatInt(h.CommitLogOffset, 10)},
		ExtField{"msgId", h.MsgID},
		ExtField{"transactionId", h.TransactionID},
		ExtField{"offsetMsgId", h.OffsetMsgID})
}
