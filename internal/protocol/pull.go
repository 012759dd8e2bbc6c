package protocol

import "strconv"

// Pull sysFlag bits (§2.5).
const (
	PullFlagCommitOffset int32 = 0x1
	PullFlagSuspend      int32 = 0x2
	PullFlagSubscription int32 = 0x4
	PullFlagClassFilter  int32 = 0x8
	PullFlagLitePull     int32 = 0x10
)

// PullMessageRequestHeader is RocketMQ's PullMessageRequestHeader (§2.5).
type PullMessageRequestHeader struct {
	ConsumerGroup        string
	Topic                string
	QueueID              int32
	QueueOffset          int64
	MaxMsgNums           int32
	SysFlag              int32
	CommitOffset         int64
	SuspendTimeoutMillis int64
	Subscription         string
	SubVersion           int64
	ExpressionType       string
}

const (
	pConsumerGroup = iota
	pTopic
	pQueueID
	pQueueOffset
	pMaxMsgNums
	pSysFlag
	pCommitOffset
	pSuspendTimeoutMillis
	pSubscription
	pSubVersion
	pExpressionType
	pullFieldCount
)

var pullNames = [pullFieldCount]string{"consumerGroup", "topic", "queueId", "queueOffset", "maxMsgNums", "sysFlag",
	"commitOffset", "suspendTimeoutMillis", "subscription", "subVersion", "expressionType"}

func pullField(k string) int {
	switch k {
	case "consumerGroup":
		return pConsumerGroup
	case "topic":
		return pTopic
	case "queueId":
		return pQueueID
	case "queueOffset":
		return pQueueOffset
	case "maxMsgNums":
		return pMaxMsgNums
	case "sysFlag":
		return pSysFlag
	case "commitOffset":
		return pCommitOffset
	case "suspendTimeoutMillis":
		return pSuspendTimeoutMillis
	case "subscription":
		return pSubscription
	case "subVersion":
		return pSubVersion
	case "expressionType":
		return pExpressionType
	}
	return -1
}

// DecodePullMessageRequestHeader reads a pull header from raw extFields in one pass, without
// allocating. Every field but subscription and expressionType is required.
func DecodePullMessageRequestHeader(ext []ExtField) (PullMessageRequestHeader, error) {
	var vals [pullFieldCount]string
	var seen [pullFieldCount]bool
	for _, f := range ext {
		if i := pullField(f.Key); i >= 0 {
			vals[i], seen[i] = f.Value, true
		}
	}
	var e fieldErr
	str := func(i int) string {
		if !seen[i] {
			e.missing(pullNames[i])
		}
		return vals[i]
	}
	num := func(i int, bits int) int64 {
		if !seen[i] {
			e.missing(pullNames[i])
			return 0
		}
		if vals[i] == "" {
			e.bad(pullNames[i], "", "is not an integer")
			return 0
		}
		if bits == 32 {
			return int64(e.i32(pullNames[i], vals[i]))
		}
		return e.i64(pullNames[i], vals[i])
	}
	h := PullMessageRequestHeader{
		ConsumerGroup:        str(pConsumerGroup),
		Topic:                str(pTopic),
		QueueID:              int32(num(pQueueID, 32)),
		QueueOffset:          num(pQueueOffset, 64),
		MaxMsgNums:           int32(num(pMaxMsgNums, 32)),
		SysFlag:              int32(num(pSysFlag, 32)),
		CommitOffset:         num(pCommitOffset, 64),
		SuspendTimeoutMillis: num(pSuspendTimeoutMillis, 64),
		Subscription:         vals[pSubscription],
		SubVersion:           num(pSubVersion, 64),
		ExpressionType:       vals[pExpressionType],
	}
	return h, e.err
}

// Append appends the header's fields (what the SDK sends).
func (h *PullMessageRequestHeader) Append(ext []ExtField) []ExtField {
	ext = append(ext, ExtField{"consumerGroup", h.ConsumerGroup}, ExtField{"topic", h.Topic},
		ExtField{"queueId", strconv.FormatInt(int64(h.QueueID), 10)},
		ExtField{"queueOffset", strconv.FormatInt(h.QueueOffset, 10)},
		ExtField{"maxMsgNums", strconv.FormatInt(int64(h.MaxMsgNums), 10)},
		ExtField{"sysFlag", strconv.FormatInt(int64(h.SysFlag), 10)},
		ExtField{"commitOffset", strconv.FormatInt(h.CommitOffset, 10)},
		ExtField{"suspendTimeoutMillis", strconv.FormatInt(h.SuspendTimeoutMillis, 10)},
		ExtField{"subscription", h.Subscription},
		ExtField{"subVersion", strconv.FormatInt(h.SubVersion, 10)})
	if h.ExpressionType != "" {
		ext = append(ext, ExtField{"expressionType", h.ExpressionType})
	}
	return ext
}

// PullMessageResponseHeader is the answer to a pull (§2.5).
type PullMessageResponseHeader struct {
	NextBeginOffset      int64
	MinOffset            int64
	MaxOffset            int64
	SuggestWhichBrokerID int64
}

// Append appends the response fields.
func (h *PullMessageResponseHeader) Append(ext []ExtField) []ExtField {
	return append(ext,
		ExtField{"nextBeginOffset", strconv.FormatInt(h.NextBeginOffset, 10)},
		ExtField{"minOffset", strconv.FormatInt(h.MinOffset, 10)},
		ExtField{"maxOffset", strconv.FormatInt(h.MaxOffset, 10)},
		ExtField{"suggestWhichBrokerId", strconv.FormatInt(h.SuggestWhichBrokerID, 10)})
}

// DecodePullMessageResponseHeader reads a pull response (the SDK side); a missing or bad number
// is an error naming the field.
func DecodePullMessageResponseHeader(ext []ExtField) (PullMessageResponseHeader, error) {
	var h PullMessageResponseHeader
	var e fieldErr
	var seen [4]bool
	for _, f := range ext {
		switch f.Key {
		case "nextBeginOffset":
			h.NextBeginOffset, seen[0] = e.i64(f.Key, f.Value), true
		case "minOffset":
			h.MinOffset, seen[1] = e.i64(f.Key, f.Value), true
		case "maxOffset":
			h.MaxOffset, seen[2] = e.i64(f.Key, f.Value), true
		case "suggestWhichBrokerId":
			h.SuggestWhichBrokerID, seen[3] = e.i64(f.Key, f.Value), true
		}
	}
	for i, k := range []string{"nextBeginOffset", "minOffset", "maxOffset"} {
		if !seen[i] {
			e.missing(k)
		}
	}
	return h, e.err
}
