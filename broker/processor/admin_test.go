package processor

import (
	"context"
	"encoding/json"
	"fmt"
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

type adminFixture struct {
	p         *Admin
	store     *commitlog.Store
	topics    *metadata.Topics
	groups    *metadata.Groups
	offsets   *metadata.Offsets
	cfg       Config
	clock     *testClock
	registers int
	forwarded bool
}

func newAdminFixture(t *testing.T) *adminFixture {
	t.Helper()
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	f := &adminFixture{cfg: testConfig(), clock: &testClock{t: time.Date(2030, 3, 4, 5, 6, 7, 0, time.UTC)}}
	f.cfg.BrokerName, f.cfg.DefaultQueryMaxNum = "broker-a", 32
	f.store = openRealStore(t, dir, f.clock)
	var err error
	if f.topics, err = metadata.LoadTopics(dir, f.clock.Now, log); err != nil {
		t.Fatal(err)
	}
	if f.groups, err = metadata.LoadGroups(dir, f.clock.Now, log); err != nil {
		t.Fatal(err)
	}
	if f.offsets, err = metadata.LoadOffsets(dir, log); err != nil {
		t.Fatal(err)
	}
	delays, err := metadata.LoadDelayOffsets(dir, log)
	if err != nil {
		t.Fatal(err)
	}
	f.p = &Admin{Store: f.store, Topics: f.topics, Groups: f.groups, Offsets: f.offsets, DelayOffsets: delays,
		Config: func() Config { return f.cfg }, Log: log, Register: func() { f.registers++ },
		FromMaster: func(*remoting.Command) bool { return f.forwarded }}
	return f
}

func adminReq(code int32, body []byte, kv ...string) *remoting.Command {
	req := remoting.NewRequestList(code, body)
	var ext []protocol.ExtField
	for i := 0; i+1 < len(kv); i += 2 {
		ext = append(ext, protocol.ExtField{Key: kv[i], Value: kv[i+1]})
	}
	return req.SetRawExt(ext)
}

func createTopicReq(topic, read, write, perm string) *remoting.Command {
	return adminReq(remoting.UpdateAndCreateTopic, nil, "topic", topic, "readQueueNums", read, "writeQueueNums", write, "perm", perm, "order", "true")
}

func (f *adminFixture) put(t *testing.T, topic string, qid int32, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		m := &message.Message{Topic: topic, QueueID: qid, Body: []byte(fmt.Sprintf("m%d", i)), BornHost: netip.MustParseAddrPort("127.0.0.1:1"),
			StoreHost: netip.MustParseAddrPort("127.0.0.1:2"), Properties: map[string]string{"KEYS": "k" + strconv.Itoa(i), message.PropertyUniqKey: "U" + strconv.Itoa(i)}}
		if r := f.store.PutMessage(m); r.Status != commitlog.PutOK {
			t.Fatal(r)
		}
		f.clock.Advance(time.Second)
	}
	settle(t, f.store)
}

func TestAdminCreateTopicValidatesAndPersists(t *testing.T) {
	f := newAdminFixture(t)
	ctx := context.Background()
	if resp := f.p.CreateTopic(ctx, nil, createTopicReq("Orders", "4", "4", "6")); resp.Code != remoting.Success {
		t.Fatalf("create: %+v", resp)
	}
	tc, ok := f.topics.Get("Orders")
	if !ok || tc.ReadQueueNums != 4 || tc.Perm != 6 || !tc.Order || tc.TopicFilterType != "SINGLE_TAG" || f.registers != 1 {
		t.Fatalf("stored %+v %v, registers %d", tc, ok, f.registers)
	}
	for _, c := range []struct {
		req  *remoting.Command
		want string
	}{
		{createTopicReq("bad topic", "1", "1", "6"), "bad topic"},
		{createTopicReq(metadata.TopicDefault, "1", "1", "6"), "conflict with system topic"},
		{createTopicReq(metadata.TopicSchedule, "1", "1", "6"), "conflict with system topic"},
		{createTopicReq("T", "0", "1", "6"), "must be 1..1024 (read 0, write 1)"},
		{createTopicReq("T", "1", "2000", "6"), "must be 1..1024"},
		{createTopicReq("T", "1", "1", "64"), "perm 64 of topic T"},
		{createTopicReq("T", "1", "x", "6"), `writeQueueNums = "x"`},
		{adminReq(remoting.UpdateAndCreateTopic, nil, "topic", "T"), "readQueueNums is missing"},
	} {
		resp := f.p.CreateTopic(ctx, nil, c.req)
		if resp.Code != remoting.SystemError || !strings.Contains(resp.Remark, c.want) {
			t.Errorf("got %d %q, want %q", resp.Code, resp.Remark, c.want)
		}
	}
	if _, ok := f.topics.Get("T"); ok {
		t.Fatal("a refused topic was stored")
	}
	f.cfg.IsMaster = false
	if resp := f.p.CreateTopic(ctx, nil, createTopicReq("OnSlave", "1", "1", "6")); resp.Remark != slaveModifyRemark {
		t.Fatalf("slave: %+v", resp)
	}
	f.forwarded = true // controller mode: the master's forward is applied on a replica
	if resp := f.p.CreateTopic(ctx, nil, createTopicReq("OnSlave", "1", "1", "6")); resp.Code != remoting.Success {
		t.Fatalf("forwarded create on a replica: %+v", resp)
	}
}

func TestAdminDeleteTopicRemovesOffsetsAndQueues(t *testing.T) {
	f := newAdminFixture(t)
	ctx := context.Background()
	f.p.CreateTopic(ctx, nil, createTopicReq("T", "1", "1", "6"))
	f.put(t, "T", 0, 3)
	f.offsets.Commit("cg", "T", 0, 2)
	if resp := f.p.DeleteTopic(ctx, nil, adminReq(remoting.DeleteTopicInBroker, nil, "topic", "T")); resp.Code != remoting.Success {
		t.Fatalf("delete: %+v", resp)
	}
	if _, ok := f.topics.Get("T"); ok || f.offsets.Query("cg", "T", 0) >= 0 || f.store.MaxOffsetInQueue("T", 0) != 0 {
		t.Fatalf("after delete: offset %d, queue max %d", f.offsets.Query("cg", "T", 0), f.store.MaxOffsetInQueue("T", 0))
	}
	if resp := f.p.DeleteTopic(ctx, nil, adminReq(remoting.DeleteTopicInBroker, nil, "topic", metadata.TopicTransHalf)); !strings.Contains(resp.Remark, "conflict with system topic") {
		t.Fatalf("system topic delete: %+v", resp)
	}
}

func TestAdminGroups(t *testing.T) {
	f := newAdminFixture(t)
	ctx := context.Background()
	if resp := f.p.CreateGroup(ctx, nil, adminReq(remoting.UpdateAndCreateSubscriptionGroup, []byte(`{"groupName":"cg","retryMaxTimes":3}`))); resp.Code != remoting.Success {
		t.Fatalf("create group: %+v", resp)
	}
	gc, ok := f.groups.Get("cg")
	if !ok || gc.RetryMaxTimes != 3 || !gc.ConsumeEnable || gc.RetryQueueNums != 1 {
		t.Fatalf("group %+v: the body's value and RocketMQ's defaults for the rest", gc)
	}
	for body, want := range map[string]string{`{"retryMaxTimes":3}`: "no groupName", `{"groupName":`: "bad subscription group body"} {
		if resp := f.p.CreateGroup(ctx, nil, adminReq(remoting.UpdateAndCreateSubscriptionGroup, []byte(body))); !strings.Contains(resp.Remark, want) {
			t.Errorf("body %s: %+v", body, resp)
		}
	}
	var table metadata.GroupTable
	if err := json.Unmarshal(f.p.GetAllGroups(ctx, nil, adminReq(remoting.GetAllSubscriptionGroupConfig, nil)).Body, &table); err != nil {
		t.Fatal(err)
	}
	if _, ok := table.SubscriptionGroupTable["cg"]; !ok {
		t.Fatalf("GET_ALL_SUBSCRIPTIONGROUP_CONFIG lacks cg: %+v", table)
	}
	f.offsets.Commit("cg", "T", 0, 5)
	f.p.DeleteGroup(ctx, nil, adminReq(remoting.DeleteSubscriptionGroup, nil, "groupName", "cg"))
	if f.offsets.Query("cg", "T", 0) != 5 {
		t.Fatal("offsets removed without removeOffset")
	}
	f.p.CreateGroup(ctx, nil, adminReq(remoting.UpdateAndCreateSubscriptionGroup, []byte(`{"groupName":"cg"}`)))
	f.p.DeleteGroup(ctx, nil, adminReq(remoting.DeleteSubscriptionGroup, nil, "groupName", "cg", "removeOffset", "true"))
	if _, ok := f.groups.Get("cg"); ok || f.offsets.Query("cg", "T", 0) >= 0 {
		t.Fatal("group or its offsets survived the delete")
	}
}

// offsetTable decodes a fastjson {"offsetTable":{{mq}:v}} body into queueId → v.
func offsetTable(t *testing.T, body []byte, topic string) map[int32]json.RawMessage {
	t.Helper()
	// The keys are JSON objects (fastjson), which encoding/json cannot decode as a map: find
	// each queue's key and decode the value after it.
	s := string(body)
	out := map[int32]json.RawMessage{}
	for q := int32(0); q < 16; q++ {
		var key strings.Builder
		key.WriteString(`{"brokerName":"broker-a","queueId":` + strconv.Itoa(int(q)) + `,"topic":"` + topic + `"}:`)
		i := strings.Index(s, key.String())
		if i < 0 {
			continue
		}
		rest := s[i+key.Len():]
		dec := json.NewDecoder(strings.NewReader(rest))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("value of queue %d in %s: %v", q, body, err)
		}
		out[q] = v
	}
	return out
}

func TestAdminTopicAndConsumeStats(t *testing.T) {
	f := newAdminFixture(t)
	ctx := context.Background()
	f.p.CreateTopic(ctx, nil, createTopicReq("T", "2", "2", "6"))
	start := f.clock.Now().UnixMilli()
	f.put(t, "T", 1, 3) // stored at start, start+1 s, start+2 s
	stats := offsetTable(t, f.p.TopicStats(ctx, nil, adminReq(remoting.GetTopicStatsInfo, nil, "topic", "T")).Body, "T")
	var q1 struct{ MaxOffset, MinOffset, LastUpdateTimestamp int64 }
	if err := json.Unmarshal(stats[1], &q1); err != nil || q1.MaxOffset != 3 || q1.MinOffset != 0 || q1.LastUpdateTimestamp != start+2000 {
		t.Fatalf("queue 1 stats %+v (%v), want max 3, last store time %d", q1, err, start+2000)
	}
	if len(stats) != 2 {
		t.Fatalf("stats for %d queues, want 2", len(stats))
	}
	if resp := f.p.TopicStats(ctx, nil, adminReq(remoting.GetTopicStatsInfo, nil, "topic", "Nope")); resp.Code != remoting.TopicNotExist {
		t.Fatalf("unknown topic: %+v", resp)
	}
	f.offsets.Commit("cg", "T", 1, 1)
	cs := offsetTable(t, f.p.ConsumeStats(ctx, nil, adminReq(remoting.GetConsumeStats, nil, "consumerGroup", "cg")).Body, "T")
	var c1, c0 struct{ BrokerOffset, ConsumerOffset, LastTimestamp int64 }
	json.Unmarshal(cs[1], &c1)
	json.Unmarshal(cs[0], &c0)
	if c1.BrokerOffset != 3 || c1.ConsumerOffset != 1 || c1.LastTimestamp != start || c0.BrokerOffset != 0 || c0.ConsumerOffset != 0 {
		t.Fatalf("consume stats q0 %+v q1 %+v (lag of q1 must be 2, last consumed stored at %d)", c0, c1, start)
	}
}

func TestAdminResetOffset(t *testing.T) {
	f := newAdminFixture(t)
	ctx := context.Background()
	f.p.CreateTopic(ctx, nil, createTopicReq("T", "1", "1", "6"))
	start := f.clock.Now().UnixMilli()
	f.put(t, "T", 0, 5) // stored at start + i s
	f.offsets.Commit("cg", "T", 0, 1)
	reset := func(ts int64, force bool) int64 {
		resp := f.p.ResetOffset(ctx, nil, adminReq(remoting.InvokeBrokerToResetOffset, nil, "topic", "T", "group", "cg",
			"timestamp", strconv.FormatInt(ts, 10), "isForce", strconv.FormatBool(force)))
		if resp.Code != remoting.Success {
			t.Fatalf("reset: %+v", resp)
		}
		v := offsetTable(t, resp.Body, "T")[0]
		n, _ := strconv.ParseInt(string(v), 10, 64)
		if got := f.offsets.Query("cg", "T", 0); got != n {
			t.Fatalf("answered %d, stored %d", n, got)
		}
		return n
	}
	if got := reset(start+3000, false); got != 1 {
		t.Fatalf("a later target without force moved the offset forward to %d", got)
	}
	if got := reset(start+3000, true); got != 3 {
		t.Fatalf("forced reset to the message stored at +3 s: %d", got)
	}
	if got := reset(start, false); got != 0 {
		t.Fatalf("an earlier target moves back without force: %d", got)
	}
	if got := reset(-1, true); got != 5 {
		t.Fatalf("-1 means the queue's end: %d", got)
	}
	f.cfg.IsMaster = false
	if resp := f.p.ResetOffset(ctx, nil, adminReq(remoting.InvokeBrokerToResetOffset, nil, "topic", "T", "group", "cg", "timestamp", "0")); resp.Code != remoting.SystemError {
		t.Fatalf("slave reset: %+v", resp)
	}
}

func TestAdminQueryAndViewMessage(t *testing.T) {
	f := newAdminFixture(t)
	ctx := context.Background()
	f.put(t, "T", 0, 3)
	end := strconv.FormatInt(f.clock.Now().UnixMilli()+1000, 10)
	resp := f.p.QueryMessage(ctx, nil, adminReq(remoting.QueryMessage, nil, "topic", "T", "key", "k1", "maxNum", "8", "beginTimestamp", "0", "endTimestamp", end))
	if resp.Code != remoting.Success {
		t.Fatalf("query: %+v", resp)
	}
	m, err := message.Decode(resp.Body, false)
	if err != nil || string(m.Body) != "m1" {
		t.Fatalf("query found %+v, %v", m, err)
	}
	if v, ok := protocol.Lookup(resp.RawExt(), "indexLastUpdateTimestamp"); !ok || v == "0" {
		t.Fatalf("indexLastUpdateTimestamp %q", v)
	}
	if resp := f.p.QueryMessage(ctx, nil, adminReq(remoting.QueryMessage, nil, "topic", "T", "key", "nope", "maxNum", "8", "beginTimestamp", "0", "endTimestamp", end)); resp.Code != remoting.QueryNotFound {
		t.Fatalf("absent key: %+v", resp)
	}
	view := f.p.ViewMessage(ctx, nil, adminReq(remoting.ViewMessageByID, nil, "offset", strconv.FormatInt(m.CommitLogOffset, 10)))
	if v, err := message.Decode(view.Body, false); err != nil || string(v.Body) != "m1" {
		t.Fatalf("view: %+v %v", view, err)
	}
	if resp := f.p.ViewMessage(ctx, nil, adminReq(remoting.ViewMessageByID, nil, "offset", "123456789")); !strings.Contains(resp.Remark, "123456789") {
		t.Fatalf("bad offset: %+v", resp)
	}
}
