package broker

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/rpc"
)

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type testBroker struct {
	b    *Broker
	addr string
	cli  *rpc.Client
}

// startBroker starts an in-process broker on free ports with a fresh store (mutate may point it at
// another). A port picked free can be taken by another process before the broker binds it, so a
// start that fails with "address already in use" is retried on fresh ports.
func startBroker(t testing.TB, mutate func(*Config)) *testBroker {
	t.Helper()
	return startBrokerHook(t, mutate, nil)
}

// startBrokerHook is startBroker with hook run on the broker between New and Start.
func startBrokerHook(t testing.TB, mutate func(*Config), hook func(*Broker)) *testBroker {
	t.Helper()
	root := t.TempDir()
	var b *Broker
	for attempt := 1; ; attempt++ {
		cfg := DefaultConfig()
		cfg.BrokerName = "broker-t"
		cfg.BrokerIP1 = "127.0.0.1"
		cfg.BindAddress = "127.0.0.1"
		cfg.ListenPort = freePort(t)
		cfg.HaListenPort = freePort(t)
		for cfg.HaListenPort == cfg.ListenPort { // the kernel may hand out the just-closed port again
			cfg.HaListenPort = freePort(t)
		}
		cfg.StorePathRootDir = root
		cfg.MappedFileSizeCommitLog = 4 << 20
		cfg.MappedFileSizeConsumeQueue = 20 * 1000
		cfg.MaxMessageSize = 1 << 20
		cfg.NamesrvAddr = ""
		cfg.MessageDelayLevel = "1s 2s 3s"
		cfg.HTTPPort = -1
		if mutate != nil {
			mutate(&cfg)
		}
		var err error
		b, err = New(cfg, nil)
		if err == nil {
			if hook != nil {
				hook(b)
			}
			if err = b.Start(); err != nil {
				_ = b.Shutdown(context.Background())
			}
		}
		if err == nil {
			break
		}
		if attempt < 5 && strings.Contains(err.Error(), "address already in use") {
			t.Logf("broker start lost a port race (%v); retrying on fresh ports", err)
			continue
		}
		t.Fatal(err)
	}
	cli := rpc.New(rpc.Config{})
	tb := &testBroker{b: b, addr: b.Addr(), cli: cli}
	t.Cleanup(func() {
		cli.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return tb
}

// heldPulls counts the pulls the hold service keeps.
func heldPulls(b *Broker) int {
	b.hold.mu.Lock()
	defer b.hold.mu.Unlock()
	n := 0
	for _, l := range b.hold.held {
		n += len(l)
	}
	return n
}

// waitFor polls cond every 10 ms until it holds, failing the test after timeout.
func waitFor(t testing.TB, timeout time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (tb *testBroker) call(t testing.TB, code int32, ext map[string]string, body []byte, timeout time.Duration) *remoting.Command {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	resp, err := tb.cli.Invoke(ctx, tb.addr, remoting.NewRequest(code, ext, body))
	if err != nil {
		t.Fatalf("request %d: %v", code, err)
	}
	return resp
}

func (tb *testBroker) send(t *testing.T, topic string, qid int32, tags, keys, body string) *remoting.Command {
	t.Helper()
	props := map[string]string{message.PropertyUniqKey: message.NewUniqKey()}
	if tags != "" {
		props[message.PropertyTags] = tags
	}
	if keys != "" {
		props[message.PropertyKeys] = keys
	}
	ext := map[string]string{
		"producerGroup": "pg", "topic": topic, "defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
		"queueId": strconv.Itoa(int(qid)), "sysFlag": "0", "bornTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10),
		"flag": "0", "properties": message.FormatProperties(props), "reconsumeTimes": "0", "unitMode": "false",
		"batch": "false", "maxReconsumeTimes": "0",
	}
	r := tb.call(t, remoting.SendMessage, ext, []byte(body), 5*time.Second)
	tb.b.store.WaitDispatched(tb.b.store.MaxPhyOffset(), 5*time.Second)
	return r
}

func pullExt(group, topic string, qid int32, offset int64, sysFlag int32, suspendMs int64, sub string) map[string]string {
	return map[string]string{
		"consumerGroup": group, "topic": topic, "queueId": strconv.Itoa(int(qid)),
		"queueOffset": strconv.FormatInt(offset, 10), "maxMsgNums": "32", "sysFlag": strconv.Itoa(int(sysFlag)),
		"commitOffset": "-1", "suspendTimeoutMillis": strconv.FormatInt(suspendMs, 10), "subscription": sub,
		"subVersion": "0", "expressionType": "TAG",
	}
}

func (tb *testBroker) heartbeat(t *testing.T, group, clientID string, subs map[string]string) {
	t.Helper()
	var sd []SubscriptionData
	for topic, expr := range subs {
		sd = append(sd, SubscriptionData{Topic: topic, SubString: expr, TagsSet: parseTagExpression(expr), SubVersion: time.Now().UnixNano(), ExpressionType: "TAG"})
	}
	body, _ := json.Marshal(heartbeatData{ClientID: clientID, ConsumerDataSet: []consumerData{{
		GroupName: group, ConsumeType: "CONSUME_PASSIVELY", MessageModel: "CLUSTERING",
		ConsumeFromWhere: "CONSUME_FROM_FIRST_OFFSET", SubscriptionDataSet: sd}}})
	if r := tb.call(t, remoting.HeartBeat, nil, body, 3*time.Second); r.Code != remoting.Success {
		t.Fatalf("heartbeat: %d %s", r.Code, r.Remark)
	}
}

func decodeBody(t *testing.T, body []byte) []*message.Message {
	t.Helper()
	msgs, err := message.DecodeAll(body)
	if err != nil {
		t.Fatalf("decode pull body: %v", err)
	}
	return msgs
}

func TestBrokerSendPullRoundTrip(t *testing.T) {
	tb := startBroker(t, nil)
	for i := 0; i < 10; i++ {
		r := tb.send(t, "RoundTrip", 1, "TagA", fmt.Sprintf("k%d", i), fmt.Sprintf("body-%d", i))
		if r.Code != remoting.Success {
			t.Fatalf("send %d: code %d remark %q", i, r.Code, r.Remark)
		}
		if r.ExtFields["queueId"] != "1" || r.ExtFields["queueOffset"] != strconv.Itoa(i) || len(r.ExtFields["msgId"]) != 32 {
			t.Fatalf("send %d response ext = %v", i, r.ExtFields)
		}
	}
	tb.heartbeat(t, "cg", "127.0.0.1@1", map[string]string{"RoundTrip": "*"})
	r := tb.call(t, remoting.PullMessage, pullExt("cg", "RoundTrip", 1, 0, 0x2, 1000, ""), nil, 5*time.Second)
	if r.Code != remoting.Success {
		t.Fatalf("pull: code %d remark %q", r.Code, r.Remark)
	}
	if r.ExtFields["nextBeginOffset"] != "10" || r.ExtFields["maxOffset"] != "10" || r.ExtFields["minOffset"] != "0" {
		t.Fatalf("pull ext = %v", r.ExtFields)
	}
	msgs := decodeBody(t, r.Body)
	if len(msgs) != 10 {
		t.Fatalf("pulled %d messages, want 10", len(msgs))
	}
	for i, m := range msgs {
		if string(m.Body) != fmt.Sprintf("body-%d", i) || m.QueueOffset != int64(i) || m.Topic != "RoundTrip" || m.QueueID != 1 {
			t.Fatalf("message %d = topic %s q%d off %d body %q", i, m.Topic, m.QueueID, m.QueueOffset, m.Body)
		}
		if m.Properties[message.PropertyKeys] != fmt.Sprintf("k%d", i) || m.Properties[message.PropertyTags] != "TagA" {
			t.Fatalf("message %d properties = %v", i, m.Properties)
		}
		if m.Properties[message.PropertyCluster] != "DefaultCluster" {
			t.Fatalf("message %d has no CLUSTER property: %v", i, m.Properties)
		}
	}
	// The offset message id of the send response points at the stored record.
	view := tb.call(t, remoting.ViewMessageByID, map[string]string{"offset": strconv.FormatInt(msgs[3].CommitLogOffset, 10)}, nil, 3*time.Second)
	if view.Code != remoting.Success || string(decodeBody(t, view.Body)[0].Body) != "body-3" {
		t.Fatalf("view message: code %d", view.Code)
	}
}

func TestBrokerLongPollAnsweredWhenMessageArrives(t *testing.T) {
	tb := startBroker(t, nil)
	tb.send(t, "LP", 0, "", "", "first")
	tb.heartbeat(t, "cg", "127.0.0.1@1", map[string]string{"LP": "*"})
	done := make(chan *remoting.Command, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		resp, err := tb.cli.Invoke(ctx, tb.addr, remoting.NewRequest(remoting.PullMessage, pullExt("cg", "LP", 0, 1, 0x2, 20000, ""), nil))
		if err != nil {
			t.Errorf("pull: %v", err)
		}
		done <- resp
	}()
	// The pull is held (not answered with PULL_NOT_FOUND), and while it is, a heartbeat on the
	// same connection is answered.
	waitFor(t, 10*time.Second, func() bool {
		select {
		case r := <-done:
			t.Fatalf("pull answered before any message arrived: %+v", r)
		default:
		}
		return heldPulls(tb.b) == 1
	}, "the pull to be held")
	tb.heartbeat(t, "cg", "127.0.0.1@1", map[string]string{"LP": "*"})
	select {
	case r := <-done:
		t.Fatalf("pull answered before any message arrived: %+v", r)
	default:
	}
	if n := heldPulls(tb.b); n != 1 {
		t.Fatalf("%d pulls held after the heartbeat, want 1", n)
	}
	tb.send(t, "LP", 0, "", "", "second")
	r := <-done
	if r == nil || r.Code != remoting.Success {
		t.Fatalf("held pull answered with %+v, want SUCCESS carrying the new message", r)
	}
	msgs := decodeBody(t, r.Body)
	if len(msgs) != 1 || string(msgs[0].Body) != "second" || msgs[0].QueueOffset != 1 {
		t.Fatalf("held pull returned %d messages", len(msgs))
	}
}

func TestBrokerLongPollTimesOutWithNotFound(t *testing.T) {
	tb := startBroker(t, nil)
	tb.send(t, "LPT", 0, "", "", "only")
	tb.heartbeat(t, "cg", "127.0.0.1@1", map[string]string{"LPT": "*"})
	r := tb.call(t, remoting.PullMessage, pullExt("cg", "LPT", 0, 1, 0x2, 300, ""), nil, 10*time.Second)
	if r.Code != remoting.PullNotFound || r.ExtFields["nextBeginOffset"] != "1" {
		t.Fatalf("timed-out pull = code %d ext %v, want PULL_NOT_FOUND next=1", r.Code, r.ExtFields)
	}
	// Offsets past the end and below the start are reported as moved.
	r = tb.call(t, remoting.PullMessage, pullExt("cg", "LPT", 0, 7, 0, 0, ""), nil, 5*time.Second)
	if r.Code != remoting.PullOffsetMoved || r.ExtFields["nextBeginOffset"] != "1" {
		t.Fatalf("pull past the end = code %d ext %v, want PULL_OFFSET_MOVED next=1", r.Code, r.ExtFields)
	}
}

func TestBrokerTagFilterWithSubscriptionFlag(t *testing.T) {
	tb := startBroker(t, nil)
	for _, tag := range []string{"TagA", "TagB", "TagC", "TagA", ""} {
		tb.send(t, "Tags", 0, tag, "", "m-"+tag)
	}
	tb.heartbeat(t, "cg", "127.0.0.1@1", map[string]string{"Tags": "TagA || TagB"})
	r := tb.call(t, remoting.PullMessage, pullExt("cg", "Tags", 0, 0, 0x2, 1000, ""), nil, 5*time.Second)
	if r.Code != remoting.Success {
		t.Fatalf("pull: %d %s", r.Code, r.Remark)
	}
	var got []string
	for _, m := range decodeBody(t, r.Body) {
		got = append(got, m.Properties[message.PropertyTags])
	}
	if strings.Join(got, ",") != "TagA,TagB,TagA" || r.ExtFields["nextBeginOffset"] != "5" {
		t.Fatalf("filtered tags = %v next %s", got, r.ExtFields["nextBeginOffset"])
	}
	// With the subscription carried by the request (sysFlag bit 2).
	r = tb.call(t, remoting.PullMessage, pullExt("cg2", "Tags", 0, 0, 0x2|0x4, 1000, "TagC"), nil, 5*time.Second)
	msgs := decodeBody(t, r.Body)
	if r.Code != remoting.Success || len(msgs) != 1 || msgs[0].Properties[message.PropertyTags] != "TagC" {
		t.Fatalf("request subscription pull: code %d, %d messages", r.Code, len(msgs))
	}
	// A group without a heartbeat subscription is refused.
	r = tb.call(t, remoting.PullMessage, pullExt("nobody", "Tags", 0, 0, 0x2, 1000, ""), nil, 5*time.Second)
	if r.Code != remoting.SubscriptionNotExist {
		t.Fatalf("pull without subscription = %d, want SUBSCRIPTION_NOT_EXIST", r.Code)
	}
}

func TestBrokerConsumerOffsets(t *testing.T) {
	tb := startBroker(t, nil)
	q := func(group string) *remoting.Command {
		return tb.call(t, remoting.QueryConsumerOffset, map[string]string{"consumerGroup": group, "topic": "Off", "queueId": "0"}, nil, 3*time.Second)
	}
	if r := q("g"); r.Code != remoting.Success || r.ExtFields["offset"] != "0" {
		t.Fatalf("new group on an empty queue: code %d offset %q, want 0", r.Code, r.ExtFields["offset"])
	}
	r := tb.call(t, remoting.UpdateConsumerOffset, map[string]string{"consumerGroup": "g", "topic": "Off", "queueId": "0", "commitOffset": "42"}, nil, 3*time.Second)
	if r.Code != remoting.Success {
		t.Fatalf("update offset: %d", r.Code)
	}
	if r := q("g"); r.ExtFields["offset"] != "42" {
		t.Fatalf("stored offset = %q", r.ExtFields["offset"])
	}
	for i := 0; i < 3; i++ {
		tb.send(t, "Off", 0, "", "", "x")
	}
	// The consume queue is written by the dispatcher right after the append.
	deadline := time.Now().Add(5 * time.Second)
	for {
		r = tb.call(t, remoting.GetMaxOffset, map[string]string{"topic": "Off", "queueId": "0"}, nil, 3*time.Second)
		if r.ExtFields["offset"] == "3" || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if r.ExtFields["offset"] != "3" {
		t.Fatalf("max offset = %q", r.ExtFields["offset"])
	}
	// Offsets survive a restart: they are persisted at shutdown (the periodic persist is pushed
	// out of the test's reach) and read back by a new broker on the same store.
	root := tb.b.conf().StorePathRootDir
	if err := tb.b.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	tb2 := startBroker(t, func(c *Config) { c.StorePathRootDir = root; c.FlushConsumerOffsetInterval = 3600_000 })
	r = tb2.call(t, remoting.QueryConsumerOffset, map[string]string{"consumerGroup": "g", "topic": "Off", "queueId": "0"}, nil, 3*time.Second)
	if r.Code != remoting.Success || r.ExtFields["offset"] != "42" {
		t.Fatalf("offset after a restart: code %d offset %q, want 42", r.Code, r.ExtFields["offset"])
	}
	r = tb2.call(t, remoting.GetMaxOffset, map[string]string{"topic": "Off", "queueId": "0"}, nil, 3*time.Second)
	if r.ExtFields["offset"] != "3" {
		t.Fatalf("max offset after a restart = %q, want 3", r.ExtFields["offset"])
	}
}

// TestBrokerSearchOffsetByTimestamp: SEARCH_OFFSET_BY_TIMESTAMP returns the entry stored at the
// timestamp, else the nearer neighbour by store time (the older on a tie), the first entry for a
// time before all and the last for a time after all. The expectations come from the store times
// the pulled messages carry, by a linear scan.
func TestBrokerSearchOffsetByTimestamp(t *testing.T) {
	tb := startBroker(t, nil)
	const n = 4
	for i := 0; i < n; i++ {
		tb.send(t, "Search", 0, "", "", fmt.Sprintf("m%d", i))
		// The next message gets a later store time (ms): wait for the clock to move on.
		stored := time.Now().UnixMilli()
		waitFor(t, 5*time.Second, func() bool { return time.Now().UnixMilli() > stored+2 }, "the clock to pass a millisecond")
	}
	tb.heartbeat(t, "cg", "127.0.0.1@1", map[string]string{"Search": "*"})
	msgs := decodeBody(t, tb.call(t, remoting.PullMessage, pullExt("cg", "Search", 0, 0, 0, 0, ""), nil, 5*time.Second).Body)
	if len(msgs) != n {
		t.Fatalf("pulled %d messages, want %d", len(msgs), n)
	}
	times := make([]int64, n)
	for i, m := range msgs {
		times[i] = m.StoreTimestamp
		if i > 0 && times[i] <= times[i-1] {
			t.Fatalf("store times %v are not increasing", times)
		}
	}
	nearest := func(ts int64) int64 {
		best := 0
		for i := range times {
			d, bd := times[i]-ts, times[best]-ts
			if d < 0 {
				d = -d
			}
			if bd < 0 {
				bd = -bd
			}
			if d < bd {
				best = i
			}
		}
		return int64(best)
	}
	probes := []int64{times[0] - 3600_000, times[0] - 1, times[n-1] + 1, times[n-1] + 3600_000}
	for i := range times {
		probes = append(probes, times[i])
		if i > 0 {
			probes = append(probes, (times[i-1]+times[i])/2, times[i-1]+1, times[i]-1)
		}
	}
	for _, ts := range probes {
		r := tb.call(t, remoting.SearchOffsetByTimestamp, map[string]string{"topic": "Search", "queueId": "0", "timestamp": strconv.FormatInt(ts, 10)}, nil, 3*time.Second)
		got, err := strconv.ParseInt(r.ExtFields["offset"], 10, 64)
		if r.Code != remoting.Success || err != nil || got != nearest(ts) {
			t.Errorf("search by timestamp %d (store times %v) = code %d offset %q, want %d", ts, times, r.Code, r.ExtFields["offset"], nearest(ts))
		}
	}
	// An unknown queue has nothing: 0.
	r := tb.call(t, remoting.SearchOffsetByTimestamp, map[string]string{"topic": "Search", "queueId": "3", "timestamp": strconv.FormatInt(times[0], 10)}, nil, 3*time.Second)
	if r.ExtFields["offset"] != "0" {
		t.Errorf("search in an empty queue = %q, want 0", r.ExtFields["offset"])
	}
}

func TestBrokerSendBackGoesToRetryThenDLQ(t *testing.T) {
	tb := startBroker(t, nil)
	r := tb.send(t, "SB", 0, "TagA", "key1", "payload")
	if r.Code != remoting.Success {
		t.Fatal(r.Remark)
	}
	tb.heartbeat(t, "cg", "127.0.0.1@1", map[string]string{"SB": "*", "%RETRY%cg": "*"})
	pulled := decodeBody(t, tb.call(t, remoting.PullMessage, pullExt("cg", "SB", 0, 0, 0x2, 1000, ""), nil, 5*time.Second).Body)
	orig := pulled[0]
	back := map[string]string{"offset": strconv.FormatInt(orig.CommitLogOffset, 10), "group": "cg", "delayLevel": "1",
		"originMsgId": orig.Properties[message.PropertyUniqKey], "originTopic": "SB", "unitMode": "false", "maxReconsumeTimes": "2"}
	if r := tb.call(t, remoting.ConsumerSendMsgBack, back, nil, 3*time.Second); r.Code != remoting.Success {
		t.Fatalf("send back: %d %s", r.Code, r.Remark)
	}
	// Level 1 is 1 s in this broker: the retry appears in %RETRY%cg after the delay.
	var retried *message.Message
	deadline := time.Now().Add(10 * time.Second)
	for retried == nil && time.Now().Before(deadline) {
		resp := tb.call(t, remoting.PullMessage, pullExt("cg", "%RETRY%cg", 0, 0, 0x2, 2000, ""), nil, 5*time.Second)
		if resp.Code == remoting.Success {
			retried = decodeBody(t, resp.Body)[0]
		}
	}
	if retried == nil {
		t.Fatal("retry message never delivered to the retry topic")
	}
	if string(retried.Body) != "payload" || retried.ReconsumeTimes != 1 ||
		retried.Properties[message.PropertyRetryTopic] != "SB" ||
		retried.Properties[message.PropertyUniqKey] != orig.Properties[message.PropertyUniqKey] {
		t.Fatalf("retried message = body %q reconsume %d props %v", retried.Body, retried.ReconsumeTimes, retried.Properties)
	}
	// Failing again with reconsumeTimes already at the maximum sends it to the DLQ.
	back["offset"] = strconv.FormatInt(retried.CommitLogOffset, 10)
	back["maxReconsumeTimes"] = "1"
	if r := tb.call(t, remoting.ConsumerSendMsgBack, back, nil, 3*time.Second); r.Code != remoting.Success {
		t.Fatalf("send back to DLQ: %d %s", r.Code, r.Remark)
	}
	tb.heartbeat(t, "dlqreader", "127.0.0.1@2", map[string]string{"%DLQ%cg": "*"})
	resp := tb.call(t, remoting.PullMessage, pullExt("dlqreader", "%DLQ%cg", 0, 0, 0x2, 3000, ""), nil, 5*time.Second)
	if resp.Code != remoting.Success {
		t.Fatalf("DLQ pull: %d %s", resp.Code, resp.Remark)
	}
	dead := decodeBody(t, resp.Body)[0]
	if string(dead.Body) != "payload" || dead.ReconsumeTimes != 2 {
		t.Fatalf("dead letter = %q reconsume %d", dead.Body, dead.ReconsumeTimes)
	}
}

func TestBrokerAutoCreateAndRefusals(t *testing.T) {
	tb := startBroker(t, func(c *Config) { c.AutoCreateTopicEnable = false })
	r := tb.send(t, "NoSuchTopic", 0, "", "", "x")
	if r.Code != remoting.TopicNotExist || !strings.Contains(r.Remark, "NoSuchTopic") {
		t.Fatalf("send to unknown topic without auto-create = %d %q", r.Code, r.Remark)
	}
	r = tb.send(t, "bad topic", 0, "", "", "x")
	if r.Code != remoting.SystemError || !strings.Contains(r.Remark, "bad topic") {
		t.Fatalf("send to invalid topic = %d %q", r.Code, r.Remark)
	}
	r = tb.send(t, "SCHEDULE_TOPIC_XXXX", 0, "", "", "x")
	if r.Code != remoting.NoPermission {
		t.Fatalf("send to system topic = %d", r.Code)
	}
	create := map[string]string{"topic": "Made", "defaultTopic": "TBW102", "readQueueNums": "2", "writeQueueNums": "2",
		"perm": "6", "topicFilterType": "SINGLE_TAG", "order": "false", "topicSysFlag": "0"}
	if r := tb.call(t, remoting.UpdateAndCreateTopic, create, nil, 3*time.Second); r.Code != remoting.Success {
		t.Fatalf("create topic: %d %s", r.Code, r.Remark)
	}
	if r := tb.send(t, "Made", 1, "", "", "x"); r.Code != remoting.Success {
		t.Fatalf("send to created topic: %d %s", r.Code, r.Remark)
	}
	if r := tb.send(t, "Made", 5, "", "", "x"); r.Code != remoting.SystemError {
		t.Fatalf("send to queue 5 of a 2-queue topic = %d", r.Code)
	}
	r = tb.call(t, 9999, nil, nil, 3*time.Second)
	if r.Code != remoting.RequestCodeNotSupported {
		t.Fatalf("unknown code = %d", r.Code)
	}
}

func TestBrokerBatchSend(t *testing.T) {
	tb := startBroker(t, nil)
	var entries []message.BatchEntry
	for i := 0; i < 5; i++ {
		entries = append(entries, message.BatchEntry{Body: []byte(fmt.Sprintf("b%d", i)), Properties: map[string]string{message.PropertyKeys: fmt.Sprintf("bk%d", i)}})
	}
	ext := map[string]string{"a": "pg", "b": "Batch", "c": "TBW102", "d": "4", "e": "2", "f": "0",
		"g": strconv.FormatInt(time.Now().UnixMilli(), 10), "h": "0", "i": "", "j": "0", "k": "false", "l": "0", "m": "true"}
	r := tb.call(t, remoting.SendBatchMessage, ext, message.EncodeBatch(entries), 5*time.Second)
	tb.b.store.WaitDispatched(tb.b.store.MaxPhyOffset(), 5*time.Second)
	if r.Code != remoting.Success {
		t.Fatalf("batch send: %d %s", r.Code, r.Remark)
	}
	if ids := strings.Split(r.ExtFields["msgId"], ","); len(ids) != 5 || r.ExtFields["queueOffset"] != "0" {
		t.Fatalf("batch response ext = %v", r.ExtFields)
	}
	tb.heartbeat(t, "cg", "127.0.0.1@1", map[string]string{"Batch": "*"})
	msgs := decodeBody(t, tb.call(t, remoting.PullMessage, pullExt("cg", "Batch", 2, 0, 0x2, 1000, ""), nil, 5*time.Second).Body)
	if len(msgs) != 5 {
		t.Fatalf("pulled %d batch messages", len(msgs))
	}
	for i, m := range msgs {
		if string(m.Body) != fmt.Sprintf("b%d", i) || m.QueueOffset != int64(i) || m.Properties[message.PropertyKeys] != fmt.Sprintf("bk%d", i) {
			t.Fatalf("batch message %d = %q off %d props %v", i, m.Body, m.QueueOffset, m.Properties)
		}
	}
}

func TestBrokerConsumerListAndConnClose(t *testing.T) {
	tb := startBroker(t, nil)
	tb.heartbeat(t, "cg", "10.0.0.1@1", map[string]string{"CL": "*"})
	other := rpc.New(rpc.Config{})
	body, _ := json.Marshal(heartbeatData{ClientID: "10.0.0.2@2", ConsumerDataSet: []consumerData{{GroupName: "cg",
		SubscriptionDataSet: []SubscriptionData{{Topic: "CL", SubString: "*"}}}}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := other.Invoke(ctx, tb.addr, remoting.NewRequest(remoting.HeartBeat, nil, body)); err != nil {
		t.Fatal(err)
	}
	list := func() []string {
		r := tb.call(t, remoting.GetConsumerListByGroup, map[string]string{"consumerGroup": "cg"}, nil, 3*time.Second)
		var v struct {
			ConsumerIDList []string `json:"consumerIdList"`
		}
		_ = json.Unmarshal(r.Body, &v)
		return v.ConsumerIDList
	}
	if got := list(); strings.Join(got, ",") != "10.0.0.1@1,10.0.0.2@2" {
		t.Fatalf("consumer list = %v", got)
	}
	other.Close()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && len(list()) != 1 {
		time.Sleep(20 * time.Millisecond)
	}
	if got := list(); strings.Join(got, ",") != "10.0.0.1@1" {
		t.Fatalf("consumer list after the other connection closed = %v", got)
	}
}

func TestBrokerConfigRefusesBadValues(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "b.toml")
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := map[string]string{
		"brokerRole = \"BOSS\"\n":                    "brokerRole",
		"flushDiskType = \"SOMETIMES\"\n":            "flushDiskType",
		"listenPort = 70000\n":                       "listenPort",
		"brokerRole = \"SLAVE\"\nbrokerId = 0\n":     "brokerId",
		"namesrvAddr = \"127.0.0.1\"\n":              "namesrvAddr",
		"controllerAddr = \"127.0.0.1:9878;nope\"\n": "controllerAddr",
		"noSuchKey = 1\n":                            "noSuchKey",
		"messageDelayLevel = \"1x\"\n":               "messageDelayLevel",
		"mappedFileSizeConsumeQueue = 21\n":          "mappedFileSizeConsumeQueue",
		"gcPercent = 5\n":                            "gcPercent",
	}
	for text, key := range cases {
		_, err := LoadConfig(write("storePathRootDir = \"" + dir + "\"\n" + text))
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("config %q: err = %v, want one naming %s", text, err, key)
		}
	}
	cfg, err := LoadConfig(write("storePathRootDir = \"" + dir + "\"\nbrokerRole = \"SYNC_MASTER\"\nbrokerId = 3\nlistenPort = 20911\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BrokerID != 0 || cfg.HaListenPort != 20912 || cfg.StorePathCommitLog != filepath.Join(dir, "commitlog") {
		t.Fatalf("derived config: id %d ha %d commitlog %s", cfg.BrokerID, cfg.HaListenPort, cfg.StorePathCommitLog)
	}
}

func TestBrokerHTTPMetricsAndReadiness(t *testing.T) {
	// httpPort 0 is listenPort+3; startBroker retries on fresh ports if another process has it.
	tb := startBroker(t, func(c *Config) { c.HTTPPort = 0; c.FlushDiskType = SyncFlush })
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + tb.b.HTTPAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Fatalf("/healthz = %d", code)
	}
	// No name server configured: never registered, so not ready.
	if code, _ := get("/readyz"); code != 503 {
		t.Fatalf("/readyz before registration = %d, want 503", code)
	}
	for i := 0; i < 7; i++ {
		tb.send(t, "Metered", 0, "", "", "0123456789")
	}
	tb.heartbeat(t, "cg", "127.0.0.1@1", map[string]string{"Metered": "*"})
	r := tb.call(t, remoting.PullMessage, pullExt("cg", "Metered", 0, 0, 0x2, 1000, ""), nil, 5*time.Second)
	if n := len(decodeBody(t, r.Body)); n != 7 {
		t.Fatalf("pulled %d", n)
	}
	tb.call(t, remoting.UpdateConsumerOffset, map[string]string{"consumerGroup": "cg", "topic": "Metered", "queueId": "0", "commitOffset": "3"}, nil, 3*time.Second)
	_, body := get("/metrics")
	for _, want := range []string{
		`skiff_messages_in_total{topic="Metered"} 7`,
		`skiff_bytes_in_total{topic="Metered"} 70`,
		`skiff_messages_out_total{topic="Metered"} 7`,
		`skiff_consumer_lag_messages{group="cg",topic="Metered",queue="0"} 4`,
		`skiff_send_latency_seconds_bucket`,
		`skiff_commitlog_max_offset_bytes`,
		`skiff_commitlog_flush_seconds_bucket`,
		`skiff_store_prefault_cpu_seconds_total `,
		"\ngo_goroutines ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// go_goroutines (a gauge, from the process metrics) is exported once; a counter-suffixed
	// duplicate is not.
	if strings.Contains(body, "go_goroutines_total") || strings.Count(body, "\ngo_goroutines ") != 1 {
		t.Errorf("/metrics exports go_goroutines other than once as a gauge:\n%s", body)
	}
	if code, body := get("/api/consumerProgress?group=cg"); code != 200 || !strings.Contains(body, `"diff":4`) {
		t.Fatalf("/api/consumerProgress = %d %s", code, body)
	}
	if code, _ := get("/api/nothing"); code != 404 {
		t.Fatalf("unknown endpoint = %d", code)
	}
}

// TestBrokerLongPollRacesWithArrivals: pulls that are suspended while messages keep arriving
// are all answered, and the broker survives (a held pull was once visible to the dispatcher
// before its timer existed, which crashed the broker with a nil timer).
func TestBrokerLongPollRacesWithArrivals(t *testing.T) {
	tb := startBroker(t, nil)
	tb.send(t, "LPR", 0, "", "", "first")
	tb.heartbeat(t, "cg", "127.0.0.1@1", map[string]string{"LPR": "*"})
	stop := make(chan struct{})
	var sends sync.WaitGroup
	sends.Add(1)
	go func() {
		defer sends.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			props := message.FormatProperties(map[string]string{message.PropertyUniqKey: message.NewUniqKey()})
			ext := map[string]string{"producerGroup": "pg", "topic": "LPR", "defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
				"queueId": "0", "sysFlag": "0", "bornTimestamp": "0", "flag": "0", "properties": props}
			if _, err := invoke(tb, remoting.SendMessage, ext, []byte(fmt.Sprint("m", i))); err != nil {
				t.Errorf("send: %v", err)
				return
			}
			time.Sleep(time.Millisecond) // pulls at the end get held, then woken by the next message
		}
	}()
	var pulls sync.WaitGroup
	var answered atomic.Int64
	for g := 0; g < 8; g++ {
		pulls.Add(1)
		go func() {
			defer pulls.Done()
			for i := 0; i < 150; i++ {
				offR, err := invoke(tb, remoting.GetMaxOffset, map[string]string{"topic": "LPR", "queueId": "0"}, nil)
				if err != nil {
					t.Errorf("max offset: %v", err)
					return
				}
				off, _ := strconv.ParseInt(offR.ExtFields["offset"], 10, 64)
				r, err := invoke(tb, remoting.PullMessage, pullExt("cg", "LPR", 0, off, 0x2, 500, ""), nil)
				if err != nil {
					t.Errorf("pull: %v", err)
					return
				}
				if r.Code != remoting.Success && r.Code != remoting.PullNotFound {
					t.Errorf("held pull answered with code %d", r.Code)
					return
				}
				answered.Add(1)
			}
		}()
	}
	pulls.Wait()
	close(stop)
	sends.Wait()
	if answered.Load() != 8*150 {
		t.Fatalf("%d of %d pulls answered", answered.Load(), 8*150)
	}
}

// invoke is tb.call for goroutines other than the test's (it returns the error).
func invoke(tb *testBroker, code int32, ext map[string]string, body []byte) (*remoting.Command, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return tb.cli.Invoke(ctx, tb.addr, remoting.NewRequest(code, ext, body))
}

// TestBrokerShutdownAnswersHeldPulls: shutdown answers every held pull (PULL_NOT_FOUND, on the
// still-open connection), and a pull that reaches the hold service once it has stopped is
// answered at once instead of being held until its timer — the window in which a pull used to
// wait out the shutdown deadline.
func TestBrokerShutdownAnswersHeldPulls(t *testing.T) {
	tb := startBroker(t, nil)
	tb.send(t, "SD", 0, "", "", "only")
	tb.heartbeat(t, "cg", "127.0.0.1@1", map[string]string{"SD": "*"})
	const n = 3
	answers := make(chan *remoting.Command, n)
	for q := range n {
		offset := int64(0)
		if q == 0 {
			offset = 1 // past "only"
		}
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			r, err := tb.cli.Invoke(ctx, tb.addr, remoting.NewRequest(remoting.PullMessage, pullExt("cg", "SD", int32(q), offset, 0x2, 50000, ""), nil))
			if err != nil {
				t.Errorf("held pull %d: %v", q, err)
			}
			answers <- r
		}()
	}
	waitFor(t, 10*time.Second, func() bool { return heldPulls(tb.b) == n }, "the pulls to be held")

	// The hold service stops first in Shutdown: it answers what it holds, and a pull that still
	// reaches it is answered now.
	tb.b.hold.stop()
	for range n {
		if r := <-answers; r == nil || r.Code != remoting.PullNotFound {
			t.Fatalf("held pull answered with %+v, want PULL_NOT_FOUND", r)
		}
	}
	r := tb.call(t, remoting.PullMessage, pullExt("cg", "SD", 2, 0, 0x2, 50000, ""), nil, 10*time.Second)
	if r.Code != remoting.PullNotFound || heldPulls(tb.b) != 0 {
		t.Fatalf("pull after the hold service stopped = code %d (held %d), want PULL_NOT_FOUND at once", r.Code, heldPulls(tb.b))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := tb.b.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}
