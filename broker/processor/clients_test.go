package processor

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/skiffmq/skiff/broker/metadata"
	"github.com/skiffmq/skiff/commitlog"
	"github.com/skiffmq/skiff/internal/protocol"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/server"
)

// fakeClients is a minimal client table: consumers by group, producers by group.
type fakeClients struct {
	producers map[string][]string
	consumers map[string]map[string]string // group → clientID → subscription topics
}

func (f *fakeClients) RegisterProducer(_ *server.Conn, clientID, _ string, _ int32, group string, _ time.Time) {
	f.producers[group] = append(f.producers[group], clientID)
}

func (f *fakeClients) RegisterConsumer(_ *server.Conn, clientID, _ string, _ int32, d protocol.ConsumerData, _ time.Time) bool {
	g := f.consumers[d.GroupName]
	if g == nil {
		g = map[string]string{}
		f.consumers[d.GroupName] = g
	}
	var topics []string
	for _, s := range d.SubscriptionDataSet {
		topics = append(topics, s.Topic)
	}
	old, ok := g[clientID]
	g[clientID] = strings.Join(topics, ",")
	return !ok || old != g[clientID]
}

func (f *fakeClients) Unregister(_ uint64, _, consumerGroup string) []string {
	if _, ok := f.consumers[consumerGroup]; ok {
		delete(f.consumers, consumerGroup)
		return []string{consumerGroup}
	}
	return nil
}

func (f *fakeClients) ConsumerIDs(group string) []string {
	var ids []string
	for id := range f.consumers[group] {
		ids = append(ids, id)
	}
	return ids
}

// autoGroups creates groups when asked to.
type autoGroups struct {
	m map[string]metadata.SubscriptionGroupConfig
}

func (g *autoGroups) GetOrCreate(name string, auto bool) (metadata.SubscriptionGroupConfig, bool, error) {
	if gc, ok := g.m[name]; ok {
		return gc, true, nil
	}
	if !auto {
		return metadata.SubscriptionGroupConfig{}, false, nil
	}
	gc := metadata.SubscriptionGroupConfig{GroupName: name, RetryQueueNums: 2, ConsumeEnable: true}
	g.m[name] = gc
	return gc, true, nil
}

type clientFixture struct {
	p         *ClientManage
	clients   *fakeClients
	topics    *fakeTopics
	groups    *autoGroups
	cfg       Config
	clock     *testClock
	registers int
	notified  []string
}

func newClientFixture() *clientFixture {
	f := &clientFixture{clients: &fakeClients{producers: map[string][]string{}, consumers: map[string]map[string]string{}},
		topics: &fakeTopics{m: map[string]metadata.TopicConfig{}}, groups: &autoGroups{m: map[string]metadata.SubscriptionGroupConfig{}},
		cfg: testConfig(), clock: &testClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}}
	f.p = &ClientManage{Clients: f.clients, Locks: NewQueueLockTable(), Groups: f.groups, Topics: f.topics,
		Config: func() Config { return f.cfg }, Now: f.clock.Now, Log: slog.New(slog.DiscardHandler),
		Register: func() { f.registers++ }, NotifyIDsChanged: func(g string) { f.notified = append(f.notified, g) }}
	return f
}

func heartbeat(clientID string, producerGroups []string, consumerGroup string, topics ...string) *remoting.Command {
	hb := protocol.HeartbeatData{ClientID: clientID}
	for _, g := range producerGroups {
		hb.ProducerDataSet = append(hb.ProducerDataSet, protocol.ProducerData{GroupName: g})
	}
	if consumerGroup != "" {
		cd := protocol.ConsumerData{GroupName: consumerGroup, ConsumeType: "CONSUME_PASSIVELY", MessageModel: "CLUSTERING"}
		for _, t := range topics {
			cd.SubscriptionDataSet = append(cd.SubscriptionDataSet, protocol.SubscriptionData{Topic: t, SubString: "*"})
		}
		hb.ConsumerDataSet = append(hb.ConsumerDataSet, cd)
	}
	body, _ := json.Marshal(hb)
	return remoting.NewRequestList(remoting.HeartBeat, body)
}

func TestClientManageHeartbeatCreatesGroupAndRetryTopicOnAMaster(t *testing.T) {
	f := newClientFixture()
	c := &server.Conn{}
	resp := f.p.Heartbeat(context.Background(), c, heartbeat("10.0.0.1@1", []string{"pg"}, "cg", "T"))
	if resp.Code != remoting.Success {
		t.Fatalf("heartbeat: %+v", resp)
	}
	if got := f.clients.producers["pg"]; len(got) != 1 || got[0] != "10.0.0.1@1" {
		t.Fatalf("producers: %v", f.clients.producers)
	}
	if _, ok := f.groups.m["cg"]; !ok {
		t.Fatal("group not auto-created")
	}
	retry, ok := f.topics.m[metadata.RetryGroupPrefix+"cg"]
	if !ok || retry.ReadQueueNums != 2 || retry.WriteQueueNums != 2 || retry.Perm != metadata.PermRead|metadata.PermWrite {
		t.Fatalf("retry topic: %+v, %v", retry, ok)
	}
	if f.registers != 1 || fmt.Sprint(f.notified) != "[cg]" {
		t.Fatalf("registers %d, notified %v", f.registers, f.notified)
	}
	// The same heartbeat again changes nothing: no registration, no notification.
	f.p.Heartbeat(context.Background(), c, heartbeat("10.0.0.1@1", nil, "cg", "T"))
	if f.registers != 1 || len(f.notified) != 1 {
		t.Fatalf("repeat heartbeat: registers %d, notified %v", f.registers, f.notified)
	}
	// A subscription change notifies the group.
	f.p.Heartbeat(context.Background(), c, heartbeat("10.0.0.1@1", nil, "cg", "T", "U"))
	if len(f.notified) != 2 {
		t.Fatalf("subscription change not notified: %v", f.notified)
	}
}

func TestClientManageHeartbeatOnASlaveOrWithoutAutoCreate(t *testing.T) {
	f := newClientFixture()
	f.cfg.IsMaster = false
	f.p.Heartbeat(context.Background(), &server.Conn{}, heartbeat("c1", nil, "cg", "T"))
	if len(f.topics.m) != 0 || f.registers != 0 {
		t.Fatalf("a slave created topics: %v", f.topics.m)
	}
	g := newClientFixture()
	g.cfg.AutoCreateSubscriptionGroup = false
	g.p.Heartbeat(context.Background(), &server.Conn{}, heartbeat("c1", nil, "unknown", "T"))
	if len(g.groups.m) != 0 || len(g.topics.m) != 0 {
		t.Fatalf("group or retry topic created without autoCreateSubscriptionGroup: %v %v", g.groups.m, g.topics.m)
	}
	if ids := g.clients.ConsumerIDs("unknown"); len(ids) != 1 {
		t.Fatalf("the member is still registered (RocketMQ keeps it): %v", ids)
	}
	bad := remoting.NewRequestList(remoting.HeartBeat, []byte(`{"clientID":`))
	if resp := g.p.Heartbeat(context.Background(), &server.Conn{}, bad); resp.Code != remoting.SystemError || !strings.Contains(resp.Remark, "bad heartbeat body") {
		t.Fatalf("bad body: %+v", resp)
	}
}

func TestClientManageConsumerListAndUnregister(t *testing.T) {
	f := newClientFixture()
	c := &server.Conn{}
	f.p.Heartbeat(context.Background(), c, heartbeat("c1", nil, "cg", "T"))
	f.p.Heartbeat(context.Background(), c, heartbeat("c2", nil, "cg", "T"))
	req := remoting.NewRequestList(remoting.GetConsumerListByGroup, nil).SetRawExt([]protocol.ExtField{{Key: "consumerGroup", Value: "cg"}})
	resp := f.p.ConsumerList(context.Background(), c, req)
	var body struct {
		ConsumerIDList []string `json:"consumerIdList"`
	}
	if err := json.Unmarshal(resp.Body, &body); err != nil || len(body.ConsumerIDList) != 2 {
		t.Fatalf("consumer list: %s, %v", resp.Body, err)
	}
	if resp := f.p.ConsumerList(context.Background(), c, remoting.NewRequestList(remoting.GetConsumerListByGroup, nil)); !strings.Contains(resp.Remark, "consumerGroup is missing") {
		t.Fatalf("missing group: %+v", resp)
	}
	f.notified = nil
	unreg := remoting.NewRequestList(remoting.UnregisterClient, nil).SetRawExt([]protocol.ExtField{{Key: "clientID", Value: "c1"}, {Key: "consumerGroup", Value: "cg"}})
	if resp := f.p.Unregister(context.Background(), c, unreg); resp.Code != remoting.Success || fmt.Sprint(f.notified) != "[cg]" {
		t.Fatalf("unregister: %+v, notified %v", resp, f.notified)
	}
	resp = f.p.ConsumerList(context.Background(), c, req)
	if resp.Code != remoting.SystemError || !strings.Contains(resp.Remark, "cg") {
		t.Fatalf("empty group: %+v", resp)
	}
}

func lockRequest(code int32, group, clientID string, qids ...int32) *remoting.Command {
	b := protocol.LockBatchRequestBody{ConsumerGroup: group, ClientID: clientID}
	for _, q := range qids {
		b.MqSet = append(b.MqSet, protocol.MessageQueue{Topic: "T", BrokerName: "b", QueueID: q})
	}
	body, _ := json.Marshal(b)
	return remoting.NewRequestList(code, body)
}

func lockedQueues(t *testing.T, resp *remoting.Command) []int32 {
	t.Helper()
	var out protocol.LockBatchResponseBody
	if err := json.Unmarshal(resp.Body, &out); err != nil {
		t.Fatalf("lock answer %q: %v", resp.Body, err)
	}
	if out.LockOKMQSet == nil {
		t.Fatalf("lock answer without lockOKMQSet: %s", resp.Body)
	}
	var q []int32
	for _, mq := range out.LockOKMQSet {
		q = append(q, mq.QueueID)
	}
	return q
}

func TestClientManageQueueLocks(t *testing.T) {
	f := newClientFixture()
	ctx, c := context.Background(), &server.Conn{}
	if got := lockedQueues(t, f.p.LockBatch(ctx, c, lockRequest(remoting.LockBatchMQ, "cg", "a", 0, 1))); fmt.Sprint(got) != "[0 1]" {
		t.Fatalf("a locks: %v", got)
	}
	if got := lockedQueues(t, f.p.LockBatch(ctx, c, lockRequest(remoting.LockBatchMQ, "cg", "b", 1, 2))); fmt.Sprint(got) != "[2]" {
		t.Fatalf("b locks: %v, want only the free queue 2", got)
	}
	if got := lockedQueues(t, f.p.LockBatch(ctx, c, lockRequest(remoting.LockBatchMQ, "other", "b", 1))); fmt.Sprint(got) != "[1]" {
		t.Fatalf("another group locks independently: %v", got)
	}
	// b cannot release a's lock; a can.
	f.p.UnlockBatch(ctx, c, lockRequest(remoting.UnlockBatchMQ, "cg", "b", 0))
	if got := lockedQueues(t, f.p.LockBatch(ctx, c, lockRequest(remoting.LockBatchMQ, "cg", "b", 0))); len(got) != 0 {
		t.Fatalf("b unlocked a's queue: %v", got)
	}
	f.p.UnlockBatch(ctx, c, lockRequest(remoting.UnlockBatchMQ, "cg", "a", 0))
	if got := lockedQueues(t, f.p.LockBatch(ctx, c, lockRequest(remoting.LockBatchMQ, "cg", "b", 0))); fmt.Sprint(got) != "[0]" {
		t.Fatalf("after a's unlock: %v", got)
	}
	// a's lock on 1 expires without renewal.
	f.clock.Advance(LockMaxLive - time.Second)
	if got := lockedQueues(t, f.p.LockBatch(ctx, c, lockRequest(remoting.LockBatchMQ, "cg", "b", 1))); len(got) != 0 {
		t.Fatalf("locked before expiry: %v", got)
	}
	f.clock.Advance(2 * time.Second)
	if got := lockedQueues(t, f.p.LockBatch(ctx, c, lockRequest(remoting.LockBatchMQ, "cg", "b", 1))); fmt.Sprint(got) != "[1]" {
		t.Fatalf("after expiry: %v", got)
	}
	if resp := f.p.LockBatch(ctx, c, remoting.NewRequestList(remoting.LockBatchMQ, []byte("{"))); resp.Code != remoting.SystemError {
		t.Fatalf("bad body: %+v", resp)
	}
}

// offsetStore is a store with fixed queue figures for the offset processor.
type offsetStore struct {
	max, min, byTime, earliest int64
	lastTS                     int64
}

func (s *offsetStore) GetMessage(string, int32, int64, int, func(int64) bool) commitlog.GetResult {
	return commitlog.GetResult{Status: commitlog.Found, Messages: [][]byte{nil}, MaxPhyOffset: 1 << 30, LastPhyOffset: 0}
}
func (s *offsetStore) MaxOffsetInQueue(string, int32) int64 { return s.max }
func (s *offsetStore) MinOffsetInQueue(string, int32) int64 { return s.min }
func (s *offsetStore) OffsetByTime(_ string, _ int32, ts int64) int64 {
	s.lastTS = ts
	return s.byTime
}
func (s *offsetStore) EarliestMsgStoreTime(string, int32) int64 { return s.earliest }

type mapOffsets map[string]int64

func (m mapOffsets) Query(group, topic string, qid int32) int64 {
	if v, ok := m[fmt.Sprint(group, topic, qid)]; ok {
		return v
	}
	return -1
}
func (m mapOffsets) Commit(group, topic string, qid int32, off int64) {
	m[fmt.Sprint(group, topic, qid)] = off
}

func offsetReq(code int32, kv ...string) *remoting.Command {
	var ext []protocol.ExtField
	for i := 0; i+1 < len(kv); i += 2 {
		ext = append(ext, protocol.ExtField{Key: kv[i], Value: kv[i+1]})
	}
	return remoting.NewRequestList(code, nil).SetRawExt(ext)
}

func extValue(t *testing.T, resp *remoting.Command, key string) string {
	t.Helper()
	v, ok := protocol.Lookup(resp.RawExt(), key)
	if !ok {
		t.Fatalf("response %+v has no %s", resp, key)
	}
	return v
}

func TestQueueOffsets(t *testing.T) {
	st := &offsetStore{max: 10, min: 2, byTime: 7, earliest: 1234}
	offs := mapOffsets{}
	cfg := testConfig()
	memLimit := int64(1 << 40) // everything is "in memory"
	p := &QueueOffsets{Store: st, Offsets: offs, Config: func() Config { return cfg }, MemoryBehindLimit: func() int64 { return memLimit }}
	ctx := context.Background()
	q := []string{"consumerGroup", "cg", "topic", "T", "queueId", "1"}

	// A new group on a queue that starts at offset 2: QUERY_NOT_FOUND (consume-from-where applies).
	if resp := p.QueryConsumerOffset(ctx, nil, offsetReq(remoting.QueryConsumerOffset, q...)); resp.Code != remoting.QueryNotFound {
		t.Fatalf("new group on a trimmed queue: %+v", resp)
	}
	// A new group on a queue that starts at 0 whose first message is in memory: 0.
	st.min = 0
	if resp := p.QueryConsumerOffset(ctx, nil, offsetReq(remoting.QueryConsumerOffset, q...)); resp.Code != remoting.Success || extValue(t, resp, "offset") != "0" {
		t.Fatalf("new group, young queue: %+v", resp)
	}
	// ... and on disk: QUERY_NOT_FOUND.
	memLimit = 10
	if resp := p.QueryConsumerOffset(ctx, nil, offsetReq(remoting.QueryConsumerOffset, q...)); resp.Code != remoting.QueryNotFound {
		t.Fatalf("new group, first message on disk: %+v", resp)
	}
	if resp := p.UpdateConsumerOffset(ctx, nil, offsetReq(remoting.UpdateConsumerOffset, append(q, "commitOffset", "6")...)); resp.Code != remoting.Success {
		t.Fatalf("commit: %+v", resp)
	}
	if resp := p.QueryConsumerOffset(ctx, nil, offsetReq(remoting.QueryConsumerOffset, q...)); extValue(t, resp, "offset") != "6" {
		t.Fatalf("committed offset: %+v", resp)
	}
	cfg.IsMaster = false
	if resp := p.UpdateConsumerOffset(ctx, nil, offsetReq(remoting.UpdateConsumerOffset, append(q, "commitOffset", "8")...)); resp.Code != remoting.SystemError || offs.Query("cg", "T", 1) != 6 {
		t.Fatalf("a slave took a commit: %+v", resp)
	}
	if resp := p.UpdateConsumerOffset(ctx, nil, offsetReq(remoting.UpdateConsumerOffset, q...)); !strings.Contains(resp.Remark, "commitOffset is missing") {
		t.Fatalf("missing commitOffset: %+v", resp)
	}
	tq := []string{"topic", "T", "queueId", "1"}
	for _, c := range []struct {
		resp      *remoting.Command
		key, want string
	}{
		{p.GetMaxOffset(ctx, nil, offsetReq(remoting.GetMaxOffset, tq...)), "offset", "10"},
		{p.GetMinOffset(ctx, nil, offsetReq(remoting.GetMinOffset, tq...)), "offset", "0"},
		{p.SearchOffsetByTimestamp(ctx, nil, offsetReq(remoting.SearchOffsetByTimestamp, append(tq, "timestamp", "99")...)), "offset", "7"},
		{p.EarliestMsgStoreTime(ctx, nil, offsetReq(remoting.GetEarliestMsgStoretime, tq...)), "timestamp", "1234"},
	} {
		if got := extValue(t, c.resp, c.key); got != c.want {
			t.Errorf("%s = %s, want %s", c.key, got, c.want)
		}
	}
	if st.lastTS != 99 {
		t.Errorf("search used timestamp %d", st.lastTS)
	}
	for _, resp := range []*remoting.Command{
		p.GetMaxOffset(ctx, nil, offsetReq(remoting.GetMaxOffset, "topic", "T", "queueId", "x")),
		p.SearchOffsetByTimestamp(ctx, nil, offsetReq(remoting.SearchOffsetByTimestamp, tq...)),
	} {
		if resp.Code != remoting.SystemError || !strings.Contains(resp.Remark, "the request header field") {
			t.Errorf("bad request answered %+v", resp)
		}
	}
}

// failingTopics refuses every creation (controller mode: a replica did not take it).
type failingTopics struct{ fakeTopics }

func (t *failingTopics) PutIfAbsent(tc metadata.TopicConfig) (metadata.TopicConfig, bool, error) {
	return metadata.TopicConfig{}, false, fmt.Errorf("replica 2 did not take topic %s", tc.TopicName)
}

func TestClientManageHeartbeatFailsWhenTheRetryTopicCannotBeCreated(t *testing.T) {
	f := newClientFixture()
	f.p.Topics = &failingTopics{}
	resp := f.p.Heartbeat(context.Background(), &server.Conn{}, heartbeat("c1", nil, "cg", "T"))
	if resp.Code != remoting.SystemError || !strings.Contains(resp.Remark, "replica 2 did not take topic %RETRY%cg") {
		t.Fatalf("heartbeat answered %+v", resp)
	}
}
