package protocol

import "strconv"

// SendMessageRequestHeader is RocketMQ's SendMessageRequestHeader (§2.4): SEND_MESSAGE (10) and
// SEND_REPLY_MESSAGE (324) carry it under the long field names, SEND_MESSAGE_V2 (310) and
// SEND_BATCH_MESSAGE (320) under one-letter names (a..n). Senders that use the long names on
// 310/320 are tolerated.
type SendMessageRequestHeader struct {
	ProducerGroup         string
	Topic                 string
	DefaultTopic          string
	DefaultTopicQueueNums int32
	QueueID               int32
	SysFlag               int32
	BornTimestamp         int64
	Flag                  int32
	Properties            string
	ReconsumeTimes        int32
	UnitMode              bool
	Batch                 bool // the batch field, or code 320
	MaxReconsumeTimes     int32
	HasMaxReconsumeTimes  bool
	BrokerName            string
}

// sendNames are the long and short names of each field, indexed like sendField.
var sendNames = [...][2]string{
	{"producerGroup", "a"}, {"topic", "b"}, {"defaultTopic", "c"}, {"defaultTopicQueueNums", "d"},
	{"queueId", "e"}, {"sysFlag", "f"}, {"bornTimestamp", "g"}, {"flag", "h"}, {"properties", "i"},
	{"reconsumeTimes", "j"}, {"unitMode", "k"}, {"maxReconsumeTimes", "l"}, {"batch", "m"}, {"brokerName", "n"},
}

const (
	sProducerGroup = iota
	sTopic
	sDefaultTopic
	sDefaultTopicQueueNums
	sQueueID
	sSysFlag
	sBornTimestamp
	sFlag
	sProperties
	sReconsumeTimes
	sUnitMode
	sMaxReconsumeTimes
	sBatch
	sBrokerName
	sendFieldCount
)

// sendFieldLong maps a long name to its field, -1 when unknown.
func sendFieldLong(k string) int {
	switch k {
	case "producerGroup":
		return sProducerGroup
	case "topic":
		return sTopic
	case "defaultTopic":
		return sDefaultTopic
	case "defaultTopicQueueNums":
		return sDefaultTopicQueueNums
	case "queueId":
		return sQueueID
	case "sysFlag":
		return sSysFlag
	case "bornTimestamp":
		return sBornTimestamp
	case "flag":
		return sFlag
	case "properties":
		return sProperties
	case "reconsumeTimes":
		return sReconsumeTimes
	case "unitMode":
		return sUnitMode
	case "maxReconsumeTimes":
		return sMaxReconsumeTimes
	case "batch":
		return sBatch
	case "brokerName":
		return sBrokerName
	}
	return -1
}

// sendFieldShort maps a one-letter name to its field, -1 when unknown.
func sendFieldShort(k string) int {
	if len(k) != 1 || k[0] < 'a' || k[0] > 'n' {
		return -1
	}
	return int(k[0] - 'a')
}

// IsShortSendCode reports whether code carries the one-letter send header (310, 320, 325).
func IsShortSendCode(code int32) bool {
	return code == SendMessageV2 || code == SendBatchMessage || code == SendReplyMessageV2
}

// DecodeSendMessageRequestHeader reads the send header of a request with code from its raw
// extFields in one pass, without allocating. Required fields: producerGroup, topic,
// defaultTopic, defaultTopicQueueNums, queueId, sysFlag, bornTimestamp, flag.
func DecodeSendMessageRequestHeader(code int32, ext []ExtField) (SendMessageRequestHeader, error) {
	short := false
	if IsShortSendCode(code) {
		_, short = Lookup(ext, "b")
	}
	var vals [sendFieldCount]string
	var seen [sendFieldCount]bool
	for _, f := range ext {
		var i int
		if short {
			i = sendFieldShort(f.Key)
		} else {
			i = sendFieldLong(f.Key)
		}
		if i >= 0 {
			vals[i], seen[i] = f.Value, true
		}
	}
	name := func(i int) string {
		if short {
			return sendNames[i][1]
		}
		return sendNames[i][0]
	}
	var e fieldErr
	req := func(i int) string {
		if !seen[i] {
			e.missing(name(i))
		}
		return vals[i]
	}
	num32 := func(i int, required bool) int32 {
		if !seen[i] {
			if required {
				e.missing(name(i))
			}
			return 0
		}
		if vals[i] == "" {
			if required {
				e.bad(name(i), "", "is not an integer")
			}
			return 0
		}
		return e.i32(name(i), vals[i])
	}
	h := SendMessageRequestHeader{
		ProducerGroup:         req(sProducerGroup),
		Topic:                 req(sTopic),
		DefaultTopic:          req(sDefaultTopic),
		DefaultTopicQueueNums: num32(sDefaultTopicQueueNums, true),
		QueueID:               num32(sQueueID, true),
		SysFlag:               num32(sSysFlag, true),
		Flag:                  0,
		Properties:            vals[sProperties],
		UnitMode:              ParseBool(vals[sUnitMode]),
		Batch:                 ParseBool(vals[sBatch]) || code == SendBatchMessage,
		BrokerName:            vals[sBrokerName],
	}
	if !seen[sBornTimestamp] {
		e.missing(name(sBornTimestamp))
	} else if vals[sBornTimestamp] == "" {
		e.bad(name(sBornTimestamp), "", "is not an integer")
	} else {
		h.BornTimestamp = e.i64(name(sBornTimestamp), vals[sBornTimestamp])
	}
	h.Flag = num32(sFlag, true)
	h.ReconsumeTimes = num32(sReconsumeTimes, false)
	if seen[sMaxReconsumeTimes] {
		h.MaxReconsumeTimes = num32(sMaxReconsumeTimes, false)
		h.HasMaxReconsumeTimes = true
	}
	return h, e.err
}

// AppendShort appends the header under the one-letter names (SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE),
// as Java clients and the Skiff SDK send it.
func (h *SendMessageRequestHeader) AppendShort(ext []ExtField) []ExtField {
	ext = append(ext,
		ExtField{"a", h.ProducerGroup}, ExtField{"b", h.Topic}, ExtField{"c", h.DefaultTopic},
		ExtField{"d", strconv.FormatInt(int64(h.DefaultTopicQueueNums), 10)},
		ExtField{"e", strconv.FormatInt(int64(h.QueueID), 10)},
		ExtField{"f", strconv.FormatInt(int64(h.SysFlag), 10)},
		ExtField{"g", strconv.FormatInt(h.BornTimestamp, 10)},
		ExtField{"h", strconv.FormatInt(int64(h.Flag), 10)},
		ExtField{"i", h.Properties},
		ExtField{"j", strconv.FormatInt(int64(h.ReconsumeTimes), 10)},
		ExtField{"k", strconv.FormatBool(h.UnitMode)},
		ExtField{"m", strconv.FormatBool(h.Batch)})
	if h.HasMaxReconsumeTimes {
		ext = append(ext, ExtField{"l", strconv.FormatInt(int64(h.MaxReconsumeTimes), 10)})
	}
	if h.BrokerName != "" {
		ext = append(ext, ExtField{"n", h.BrokerName})
	}
	return ext
}

// SendMessageResponseHeader is the answer to a send (§2.4).
type SendMessageResponseHeader struct {
	MsgID         string // offset message id; comma-joined for a batch
	QueueID       int32
	QueueOffset   int64
	TransactionID string // optional
	MsgRegion     string // MSG_REGION
	TraceOn       string // TRACE_ON ("true"/"false")
}

// Append appends the response fields.
func (h *SendMessageResponseHeader) Append(ext []ExtField) []ExtField {
	return h.AppendFormatted(ext, strconv.FormatInt(int64(h.QueueID), 10), strconv.FormatInt(h.QueueOffset, 10))
}

// AppendFormatted is Append with QueueID and QueueOffset already in decimal (queueID and
// queueOffset; the caller formats them without allocating), which it uses instead of the
// numeric fields.
func (h *SendMessageResponseHeader) AppendFormatted(ext []ExtField, queueID, queueOffset string) []ExtField {
	ext = append(ext, ExtField{"msgId", h.MsgID}, ExtField{"queueId", queueID}, ExtField{"queueOffset", queueOffset},
		ExtField{"MSG_REGION", h.MsgRegion}, ExtField{"TRACE_ON", h.TraceOn})
	if h.TransactionID != "" {
		ext = append(ext, ExtField{"transactionId", h.TransactionID})
	}
	return ext
}

// DecodeSendMessageResponseHeader reads a send response's fields (the SDK side). Missing or bad
// numbers read as 0, as the Go client does.
func DecodeSendMessageResponseHeader(ext []ExtField) SendMessageResponseHeader {
	var h SendMessageResponseHeader
	for _, f := range ext {
		switch f.Key {
		case "msgId":
			h.MsgID = f.Value
		case "queueId":
			if n, ok := atoi64(f.Value); ok && n == int64(int32(n)) {
				h.QueueID = int32(n)
			}
		case "queueOffset":
			if n, ok := atoi64(f.Value); ok {
				h.QueueOffset = n
			}
		case "transactionId":
			h.TransactionID = f.Value
		case "MSG_REGION":
			h.MsgRegion = f.Value
		case "TRACE_ON":
			h.TraceOn = f.Value
		}
	}
	return h
}
