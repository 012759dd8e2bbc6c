package processor

import (
	"context"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skiffmq/skiff/broker/metadata"
	"github.com/skiffmq/skiff/commitlog"
	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/protocol"
	"github.com/skiffmq/skiff/internal/remoting"
)

func newSendBackFixture(t *testing.T) (*SendBack, *commitlog.Store, *fakeTopics, *bool) {
	clock := &testClock{t: time.Date(2030, 2, 3, 4, 5, 6, 0, time.UTC)}
	st := openRealStore(t, t.TempDir(), clock)
	topics := &fakeTopics{m: map[string]metadata.TopicConfig{}}
	groups := &autoGroups{m: map[string]metadata.SubscriptionGroupConfig{"cg": {GroupName: "cg", RetryQueueNums: 1, RetryMaxTimes: 2, ConsumeEnable: true}}}
	w := &Writer{Store: st, Config: testConfig}
	writable := true
	send := &Send{Config: testConfig, Topics: topics, Groups: groups, Writer: w, StoreHost: netip.MustParseAddrPort("127.0.0.1:10911"),
		Log: slog.New(slog.DiscardHandler), Register: func() {}}
	return &SendBack{Send: send, Store: st, Writable: func() bool { return writable }}, st, topics, &writable
}

func sendBackReq(offset int64, delay string, kv ...string) *remoting.Command {
	ext := []protocol.ExtField{{Key: "offset", Value: strconv.FormatInt(offset, 10)}, {Key: "group", Value: "cg"}, {Key: "delayLevel", Value: delay}}
	for i := 0; i+1 < len(kv); i += 2 {
		ext = append(ext, protocol.ExtField{Key: kv[i], Value: kv[i+1]})
	}
	return remoting.NewRequestList(remoting.ConsumerSendMsgBack, nil).SetRawExt(ext)
}

func TestSendBackRetriesThenDeadLetters(t *testing.T) {
	p, st, topics, writable := newSendBackFixture(t)
	orig := &message.Message{Topic: "T", QueueID: 0, Body: []byte("work"), BornHost: netip.MustParseAddrPort("127.0.0.1:1"),
		StoreHost: p.Send.StoreHost, Properties: map[string]string{"KEYS": "k"}}
	if r := st.PutMessage(orig); r.Status != commitlog.PutOK {
		t.Fatal(r)
	}
	ctx := context.Background()
	if resp := p.Handle(ctx, nil, sendBackReq(orig.CommitLogOffset, "0")); resp == nil || resp.Code != remoting.Success {
		t.Fatalf("send back: %+v", resp)
	}
	if _, ok := topics.m["%RETRY%cg"]; !ok {
		t.Fatal("retry topic not created")
	}
	// Delay level 0 means 3 + reconsumeTimes: the retry waits in SCHEDULE_TOPIC_XXXX queue 2.
	settle(t, st)
	res := st.GetMessage(metadata.TopicSchedule, 2, 0, 1, nil)
	if len(res.Messages) != 1 {
		t.Fatalf("retry not parked at delay level 3: %v", res.Status)
	}
	retry, _ := message.Decode(res.Messages[0], false)
	if retry.ReconsumeTimes != 1 || retry.Properties[message.PropertyRealTopic] != "%RETRY%cg" ||
		retry.Properties[message.PropertyRetryTopic] != "T" || retry.Properties["KEYS"] != "k" || string(retry.Body) != "work" {
		t.Fatalf("retry message %+v", retry)
	}
	// Reconsumed twice already (maxReconsumeTimes 2): dead letter.
	if resp := p.Handle(ctx, nil, sendBackReq(orig.CommitLogOffset, "1", "maxReconsumeTimes", "0")); resp.Code != remoting.Success {
		t.Fatalf("send back to DLQ: %+v", resp)
	}
	settle(t, st)
	dlq := st.GetMessage("%DLQ%cg", 0, 0, 1, nil)
	if len(dlq.Messages) != 1 {
		t.Fatalf("nothing in %%DLQ%%cg: %v", dlq.Status)
	}
	if resp := p.Handle(ctx, nil, sendBackReq(1<<40, "1")); resp.Code != remoting.SystemError || !strings.Contains(resp.Remark, "look message by offset failed") {
		t.Fatalf("unknown offset: %+v", resp)
	}
	if resp := p.Handle(ctx, nil, remoting.NewRequestList(remoting.ConsumerSendMsgBack, nil)); !strings.Contains(resp.Remark, "offset is missing") {
		t.Fatalf("missing field: %+v", resp)
	}
	*writable = false
	if resp := p.Handle(ctx, nil, sendBackReq(orig.CommitLogOffset, "1")); resp.Code != remoting.ServiceNotAvailable {
		t.Fatalf("not the master of its set: %+v", resp)
	}
}
