package protocol

import (
	"bytes"
	"errors"
	"testing"
)

// extFromBytes splits fuzz bytes into ext entries: key\x00value\x00key\x00value...
func extFromBytes(b []byte) []ExtField {
	parts := bytes.Split(b, []byte{0})
	var ext []ExtField
	for i := 0; i+1 < len(parts); i += 2 {
		ext = append(ext, ExtField{string(parts[i]), string(parts[i+1])})
	}
	return ext
}

func sendSeed(short bool) []byte {
	h := SendMessageRequestHeader{ProducerGroup: "pg", Topic: "T", DefaultTopic: "TBW102", DefaultTopicQueueNums: 4,
		QueueID: 1, BornTimestamp: 1700000000000, Properties: "TAGS\x01a", HasMaxReconsumeTimes: true, MaxReconsumeTimes: 16}
	var b []byte
	ext := h.AppendShort(nil)
	if !short {
		long := map[string]string{"a": "producerGroup", "b": "topic", "c": "defaultTopic", "d": "defaultTopicQueueNums", "e": "queueId",
			"f": "sysFlag", "g": "bornTimestamp", "h": "flag", "i": "properties", "j": "reconsumeTimes", "k": "unitMode", "l": "maxReconsumeTimes", "m": "batch"}
		for i := range ext {
			ext[i].Key = long[ext[i].Key]
		}
	}
	for _, f := range ext {
		b = append(append(append(append(b, f.Key...), 0), f.Value...), 0)
	}
	return b
}

// FuzzProtocolSendHeader decodes arbitrary extFields as a send header under every send code: it
// never panics, errors are ErrHeaderField, and an accepted header survives AppendShort and a
// decode under SEND_MESSAGE_V2.
func FuzzProtocolSendHeader(f *testing.F) {
	f.Add(sendSeed(true), int32(SendMessageV2))
	f.Add(sendSeed(false), int32(SendMessage))
	f.Add(sendSeed(true), int32(SendBatchMessage))
	f.Add([]byte("b\x00T\x00d\x00+4\x00g\x00-9223372036854775808\x00"), int32(SendMessageV2))
	f.Fuzz(func(t *testing.T, b []byte, code int32) {
		h, err := DecodeSendMessageRequestHeader(code, extFromBytes(b))
		if err != nil {
			if !errors.Is(err, ErrHeaderField) {
				t.Fatalf("error %v is not ErrHeaderField", err)
			}
			return
		}
		h2, err := DecodeSendMessageRequestHeader(SendMessageV2, h.AppendShort(nil))
		if err != nil {
			t.Fatalf("re-decode of %+v: %v", h, err)
		}
		if code != SendBatchMessage && h2 != h {
			t.Fatalf("round trip:\n got %+v\nwant %+v", h2, h)
		}
	})
}

// FuzzProtocolPullHeader does the same for pull requests and responses.
func FuzzProtocolPullHeader(f *testing.F) {
	h := PullMessageRequestHeader{ConsumerGroup: "g", Topic: "T", QueueID: 1, QueueOffset: 5, MaxMsgNums: 32, SysFlag: 2,
		CommitOffset: -1, SuspendTimeoutMillis: 20000, Subscription: "*", ExpressionType: "TAG"}
	var seed []byte
	for _, e := range h.Append(nil) {
		seed = append(append(append(append(seed, e.Key...), 0), e.Value...), 0)
	}
	f.Add(seed)
	f.Add([]byte("nextBeginOffset\x005\x00minOffset\x000\x00maxOffset\x009\x00suggestWhichBrokerId\x001\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ext := extFromBytes(b)
		if h, err := DecodePullMessageRequestHeader(ext); err == nil {
			h2, err := DecodePullMessageRequestHeader(h.Append(nil))
			if err != nil || h2 != h {
				t.Fatalf("pull request round trip: %+v %v, want %+v", h2, err, h)
			}
		} else if !errors.Is(err, ErrHeaderField) {
			t.Fatalf("error %v is not ErrHeaderField", err)
		}
		if r, err := DecodePullMessageResponseHeader(ext); err == nil {
			r2, err := DecodePullMessageResponseHeader(r.Append(nil))
			if err != nil || r2 != r {
				t.Fatalf("pull response round trip: %+v %v, want %+v", r2, err, r)
			}
		}
		_ = DecodeSendMessageResponseHeader(ext)
	})
}

// FuzzProtocolTransactionHeaders decodes arbitrary extFields as END_TRANSACTION and
// CHECK_TRANSACTION_STATE headers: no panic, errors are ErrHeaderField, and an accepted header
// survives Append and a second decode unchanged.
func FuzzProtocolTransactionHeaders(f *testing.F) {
	end := EndTransactionRequestHeader{ProducerGroup: "pg", TranStateTableOffset: 7, CommitLogOffset: 4096,
		CommitOrRollback: TransactionCommit, FromTransactionCheck: true, MsgID: "AC11", TransactionID: "tx-1"}
	chk := CheckTransactionStateRequestHeader{TranStateTableOffset: 7, CommitLogOffset: 4096, MsgID: "AC11", TransactionID: "tx-1", OffsetMsgID: "7F00"}
	for _, ext := range [][]ExtField{end.Append(nil), chk.Append(nil), {{"commitLogOffset", "x"}}} {
		var b []byte
		for _, fl := range ext {
			b = append(append(append(append(b, fl.Key...), 0), fl.Value...), 0)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ext := extFromBytes(b)
		if h, err := DecodeEndTransactionRequestHeader(ext); err != nil {
			if !errors.Is(err, ErrHeaderField) {
				t.Fatalf("end transaction: error %v is not ErrHeaderField", err)
			}
		} else if h2, err := DecodeEndTransactionRequestHeader(h.Append(nil)); err != nil || h2 != h {
			t.Fatalf("end transaction round trip: %+v -> %+v, %v", h, h2, err)
		}
		if h, err := DecodeCheckTransactionStateRequestHeader(ext); err != nil {
			if !errors.Is(err, ErrHeaderField) {
				t.Fatalf("check transaction: error %v is not ErrHeaderField", err)
			}
		} else if h2, err := DecodeCheckTransactionStateRequestHeader(h.Append(nil)); err != nil || h2 != h {
			t.Fatalf("check transaction round trip: %+v -> %+v, %v", h, h2, err)
		}
	})
}

// FuzzProtocolFields reads arbitrary extFields with every typed reader of Fields: no panic, the
// error is ErrHeaderField, and a missing required field always gives one.
func FuzzProtocolFields(f *testing.F) {
	f.Add([]byte("topic\x00T\x00queueId\x007\x00offset\x00-1\x00"))
	f.Add([]byte("queueId\x00\x00offset\x0099999999999999999999\x00x\x00true\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ext := extFromBytes(b)
		r := ReadFields(ext)
		keys := []string{"missing"}
		for _, e := range ext {
			keys = append(keys, e.Key)
		}
		for _, k := range keys {
			_ = r.Str(k, true)
			_ = r.I32(k, true)
			_ = r.I64(k, false)
			_ = r.Bool(k)
			_ = r.Has(k)
		}
		if _, ok := Lookup(ext, "missing"); !ok && r.Err() == nil {
			t.Fatal("a missing required field gave no error")
		}
		if err := r.Err(); err != nil && !errors.Is(err, ErrHeaderField) {
			t.Fatalf("error %v is not ErrHeaderField", err)
		}
	})
}
