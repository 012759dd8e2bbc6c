package processor

import (
	"context"
	"log/slog"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/skiffmq/skiff/broker/metadata"
	"github.com/skiffmq/skiff/commitlog"
	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/protocol"
	"github.com/skiffmq/skiff/internal/remoting"
)

// fakeStore records puts and answers with a fixed status.
type fakeStore struct {
	mu     sync.Mutex
	puts   [][]*message.Message
	status commitlog.PutStatus
	next   int64
}

func (s *fakeStore) PutMessage(m *message.Message) commitlog.PutResult {
	return s.PutMessages([]*message.Message{m})
}

func (s *fakeStore) PutMessages(msgs []*message.Message) commitlog.PutResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.puts = append(s.puts, msgs)
	res := commitlog.PutResult{Status: s.status, MsgCount: len(msgs), QueueOffset: s.next}
	for _, m := range msgs {
		m.CommitLogOffset = s.next * 100
		s.next++
	}
	res.EndOffset = s.next * 100
	return res
}

func (s *fakeStore) GetMessage(string, int32, int64, int, func(int64) bool) commitlog.GetResult {
	return commitlog.GetResult{Status: commitlog.NoMessageInQueue}
}

func (s *fakeStore) MaxOffsetInQueue(string, int32) int64 { return 0 }

type fakeTopics struct {
	m map[string]metadata.TopicConfig
}

func (t *fakeTopics) Get(name string) (metadata.TopicConfig, bool) {
	tc, ok := t.m[name]
	return tc, ok
}
func (t *fakeTopics) PutIfAbsent(tc metadata.TopicConfig) (metadata.TopicConfig, bool, error) {
	if old, ok := t.m[tc.TopicName]; ok {
		return old, false, nil
	}
	t.m[tc.TopicName] = tc
	return tc, true, nil
}

type fakeGroups struct{}

func (fakeGroups) GetOrCreate(name string, auto bool) (metadata.SubscriptionGroupConfig, bool, error) {
	return metadata.SubscriptionGroupConfig{GroupName: name, RetryMaxTimes: 16, ConsumeEnable: true}, true, nil
}

type fakeReplicator struct {
	status ReplicaStatus
	calls  int
	waits  int
}

func (r *fakeReplicator) Replicate(_ commitlog.PutResult, wait bool) ReplicaStatus {
	r.calls++
	if wait {
		r.waits++
		return r.status
	}
	return ReplicaOK
}

func testConfig() Config {
	return Config{IsMaster: true, BrokerPermission: 6, BrokerAddr: "127.0.0.1:10911", BrokerClusterName: "C",
		RegionID: "R", TraceOn: true, AutoCreateSubscriptionGroup: true, MaxMessageSize: 4 << 20, DelayLevels: 18}
}

func newSend(st *fakeStore, rep *fakeReplicator) *Send {
	topics := &fakeTopics{m: map[string]metadata.TopicConfig{
		"T":                   {TopicName: "T", ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6},
		metadata.TopicDefault: {TopicName: metadata.TopicDefault, ReadQueueNums: 8, WriteQueueNums: 8, Perm: 7},
	}}
	w := &Writer{Store: st, Config: testConfig, Replicator: func() Replicator { return rep }}
	return &Send{Config: testConfig, Topics: topics, Groups: fakeGroups{}, Writer: w,
		StoreHost: netip.MustParseAddrPort("127.0.0.1:10911"), Log: slog.New(slog.DiscardHandler), Register: func() {}}
}

func sendRequest(topic, props string) *remoting.Command {
	h := protocol.SendMessageRequestHeader{ProducerGroup: "pg", Topic: topic, DefaultTopic: metadata.TopicDefault,
		DefaultTopicQueueNums: 4, QueueID: 1, BornTimestamp: 1, Properties: props}
	req := remoting.NewRequestList(remoting.SendMessageV2, []byte("body"))
	return req.SetRawExt(h.AppendShort(nil))
}

func TestProcessorSendStoresOnceAndAnswers(t *testing.T) {
	st, rep := &fakeStore{}, &fakeReplicator{}
	p := newSend(st, rep)
	resp := p.Handle(context.Background(), nil, sendRequest("T", "UNIQ_KEY\x01u1\x02TAGS\x01a"))
	if resp.Code != remoting.Success || resp.ExtValue("queueId") != "1" || resp.ExtValue("queueOffset") != "0" ||
		resp.ExtValue("MSG_REGION") != "R" || resp.ExtValue("TRACE_ON") != "true" || resp.ExtValue("msgId") == "" {
		t.Fatalf("response %+v %v", resp, resp.ExtList())
	}
	if resp.ExtFields != nil {
		t.Fatal("the send response built a map")
	}
	if len(st.puts) != 1 || len(st.puts[0]) != 1 {
		t.Fatalf("%d puts", len(st.puts))
	}
	m := st.puts[0][0]
	if m.Topic != "T" || m.QueueID != 1 || m.Property(message.PropertyCluster) != "C" || m.Property(message.PropertyTags) != "a" {
		t.Fatalf("stored %+v", m)
	}
	if rep.calls != 1 || rep.waits != 1 {
		t.Fatalf("replicator called %d times (%d waits), want once with a wait", rep.calls, rep.waits)
	}
}

func TestProcessorSendDelayedIsParked(t *testing.T) {
	st := &fakeStore{}
	p := newSend(st, &fakeReplicator{})
	resp := p.Handle(context.Background(), nil, sendRequest("T", "DELAY\x0130"))
	if resp.Code != remoting.Success {
		t.Fatalf("response %+v", resp)
	}
	m := st.puts[0][0]
	if m.Topic != metadata.TopicSchedule || m.QueueID != 17 || m.Properties[message.PropertyRealTopic] != "T" ||
		m.Properties[message.PropertyRealQueueID] != "1" || m.Properties[message.PropertyDelayLevel] != "18" {
		t.Fatalf("delayed message stored as %+v", m)
	}
}

func TestProcessorSendReplicaOutcomeWins(t *testing.T) {
	for _, c := range []struct {
		rep  ReplicaStatus
		code int32
	}{{ReplicaOK, remoting.Success}, {ReplicaTimeout, remoting.FlushSlaveTimeout}, {ReplicaSlaveNotAvailable, remoting.SlaveNotAvailable}} {
		p := newSend(&fakeStore{}, &fakeReplicator{status: c.rep})
		if resp := p.Handle(context.Background(), nil, sendRequest("T", "")); resp.Code != c.code {
			t.Errorf("replica %d: code %d, want %d", c.rep, resp.Code, c.code)
		}
	}
	// WAIT=false skips the replica wait.
	rep := &fakeReplicator{status: ReplicaTimeout}
	p := newSend(&fakeStore{}, rep)
	if resp := p.Handle(context.Background(), nil, sendRequest("T", "WAIT\x01false")); resp.Code != remoting.Success || rep.waits != 0 {
		t.Fatalf("WAIT=false: code %d, %d waits", resp.Code, rep.waits)
	}
	// A failed put is not replicated and answers the store's code.
	st := &fakeStore{status: commitlog.ServiceNotAvailable}
	rep = &fakeReplicator{}
	p = newSend(st, rep)
	if resp := p.Handle(context.Background(), nil, sendRequest("T", "")); resp.Code != remoting.ServiceNotAvailable || rep.waits != 0 {
		t.Fatalf("failed put: code %d, %d waits", resp.Code, rep.waits)
	}
}

func TestProcessorSendBatchCountsFromTheStore(t *testing.T) {
	st := &fakeStore{}
	var observed int
	p := newSend(st, &fakeReplicator{})
	p.Meter = func(string) SendMeter { return SendMeterFunc(func(n, _ int, _ time.Time) { observed = n }) }
	body := message.EncodeBatch([]message.BatchEntry{{Body: []byte("a")}, {Body: []byte("b")}, {Body: []byte("c")}})
	h := protocol.SendMessageRequestHeader{ProducerGroup: "pg", Topic: "T", DefaultTopic: metadata.TopicDefault,
		DefaultTopicQueueNums: 4, QueueID: 2, BornTimestamp: 1, Batch: true}
	req := remoting.NewRequestList(remoting.SendBatchMessage, body).SetRawExt(h.AppendShort(nil))
	resp := p.Handle(context.Background(), nil, req)
	if resp.Code != remoting.Success || len(st.puts) != 1 || len(st.puts[0]) != 3 || observed != 3 {
		t.Fatalf("batch: code %d, puts %d, observed %d", resp.Code, len(st.puts), observed)
	}
	if ids := resp.ExtValue("msgId"); len(ids) == 0 || countByte(ids, ',') != 2 {
		t.Fatalf("batch msgId %q", ids)
	}
}

func countByte(s string, c byte) int {
	n := 0
	for i := range len(s) {
		if s[i] == c {
			n++
		}
	}
	return n
}

func TestProcessorSendRefusesBadHeader(t *testing.T) {
	st := &fakeStore{}
	p := newSend(st, &fakeReplicator{})
	req := remoting.NewRequestList(remoting.SendMessageV2, []byte("x")).AddExt("b", "T")
	resp := p.Handle(context.Background(), nil, req)
	if resp.Code != remoting.SystemError || resp.Remark != "the request header field a is missing" || len(st.puts) != 0 {
		t.Fatalf("bad header: %+v", resp)
	}
}

// TestProcessorSendAnswerFields: the SEND_OK fields built inside the send's own allocation are
// the offset message id of the stored record, its queue and queue offset; a half message's
// answer carries its UNIQ_KEY as transactionId (and an ordinary one none); a broker with
// rejectTransactionMessage refuses a half message and stores nothing, but takes a plain one.
func TestProcessorSendAnswerFields(t *testing.T) {
	st := &fakeStore{next: 7}
	p := newSend(st, &fakeReplicator{})
	for i, props := range []string{"UNIQ_KEY\x01u1", "TRAN_MSG\x01true\x02UNIQ_KEY\x01u2"} {
		resp := p.Handle(context.Background(), nil, sendRequest("T", props))
		m := st.puts[i][0]
		wantTx := ""
		if i == 1 {
			wantTx = "u2"
			if m.Topic != metadata.TopicTransHalf {
				t.Fatalf("half message stored in %s", m.Topic)
			}
		}
		if resp.Code != remoting.Success || resp.ExtValue("msgId") != message.OffsetMsgID(p.StoreHost, m.CommitLogOffset) ||
			resp.ExtValue("queueId") != "1" || resp.ExtValue("queueOffset") != strconv.Itoa(7+i) || resp.ExtValue("transactionId") != wantTx {
			t.Fatalf("send %d: response %v, stored at %d", i, resp.ExtList(), m.CommitLogOffset)
		}
	}
	reject := testConfig()
	reject.RejectTransactionMessage = true
	p.Config = func() Config { return reject }
	if resp := p.Handle(context.Background(), nil, sendRequest("T", "TRAN_MSG\x01true")); resp.Code != remoting.NoPermission || len(st.puts) != 2 {
		t.Fatalf("half message with rejectTransactionMessage: %d %q, %d puts", resp.Code, resp.Remark, len(st.puts))
	}
	if resp := p.Handle(context.Background(), nil, sendRequest("T", "UNIQ_KEY\x01u3")); resp.Code != remoting.Success || len(st.puts) != 3 {
		t.Fatalf("plain message with rejectTransactionMessage: %d %q, %d puts", resp.Code, resp.Remark, len(st.puts))
	}
}

// FuzzClusterOnly: the one-pass check of appendClusterOnly answers as the three TextProperty
// look-ups it replaced.
func FuzzClusterOnly(f *testing.F) {
	for _, s := range []string{"", "KEYS\x01a", "TRAN_MSG\x01true", "TRAN_MSG\x01true\x02TRAN_MSG\x01false",
		"TRAN_MSG\x01false\x02TRAN_MSG\x01true", "DELAY\x01", "DELAY\x013", "\x01CLUSTER", "CLUSTER\x01c\x02", "\x02\x02UNIQ_KEY\x01x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		tran, _ := message.TextProperty(text, message.PropertyTransactionPrepared)
		_, delay := message.TextProperty(text, message.PropertyDelayLevel)
		_, cluster := message.TextProperty(text, message.PropertyCluster)
		if want := tran != "true" && !delay && !cluster; clusterOnly(text) != want {
			t.Fatalf("clusterOnly(%q) = %v, want %v", text, !want, want)
		}
	})
}
