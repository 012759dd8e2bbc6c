package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/client/internal/core"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/testutil"
)

const someNamesrv = "127.0.0.1:9876" // never dialled

func noop(context.Context, []*client.MessageExt) ConsumeResult { return ConsumeSuccess }

func TestNewPushConsumerValidatesOptions(t *testing.T) {
	cases := map[string]struct {
		group string
		opts  []Option
	}{
		"empty group":          {"", nil},
		"bad group":            {"a b", nil},
		"long group":           {strings.Repeat("g", 121), nil}, // %RETRY%<group> over 127
		"batch size 0":         {"g", []Option{WithBatchSize(0)}},
		"batch size 1025":      {"g", []Option{WithBatchSize(1025)}},
		"goroutines 0":         {"g", []Option{WithGoroutines(0)}},
		"goroutines 1001":      {"g", []Option{WithGoroutines(1001)}},
		"pull batch 0":         {"g", []Option{WithPullBatchSize(0)}},
		"timestamp without t":  {"g", []Option{WithConsumeFrom(ConsumeFromTimestamp)}},
		"zero timestamp":       {"g", []Option{WithConsumeTimestamp(time.Time{})}},
		"negative reconsume":   {"g", []Option{WithMaxReconsumeTimes(-2)}},
		"bad option and group": {"", []Option{WithBatchSize(0)}},
	}
	for name, c := range cases {
		_, err := NewPushConsumer(c.group, append([]Option{WithNameServers(someNamesrv)}, c.opts...)...)
		if !errors.Is(err, client.ErrInvalidArgument) {
			t.Errorf("%s: NewPushConsumer = %v, want ErrInvalidArgument", name, err)
		} else if !strings.HasPrefix(err.Error(), "consumer: ") {
			t.Errorf("%s: error %q lacks the package prefix", name, err)
		}
	}
	ok := [][]Option{
		nil,
		{WithConsumeTimestamp(time.Now().Add(-time.Hour)), WithBatchSize(1024), WithGoroutines(1000), WithMaxReconsumeTimes(-1)},
		{WithModel(Broadcasting), WithOffsetDir(t.TempDir()), WithOrderly(true), WithMaxReconsumeTimes(0)},
	}
	for i, opts := range ok {
		pc, err := NewPushConsumer(strings.Repeat("g", 120), append([]Option{WithNameServers(someNamesrv)}, opts...)...)
		if err != nil {
			t.Errorf("valid options %d: %v", i, err)
			continue
		}
		_ = pc.Shutdown(context.Background())
	}
}

func TestNewConsumersNeedNameServer(t *testing.T) {
	t.Setenv(client.EnvNameServer, "")
	if _, err := NewPushConsumer("g"); !errors.Is(err, client.ErrNoNameServer) {
		t.Errorf("NewPushConsumer without name servers = %v", err)
	}
	if _, err := NewPullConsumer("g"); !errors.Is(err, client.ErrNoNameServer) {
		t.Errorf("NewPullConsumer without name servers = %v", err)
	}
	if _, err := NewPullConsumer("", WithNameServers(someNamesrv)); !errors.Is(err, client.ErrInvalidArgument) {
		t.Errorf("NewPullConsumer with an empty group = %v", err)
	}
}

func TestSubscribeErrors(t *testing.T) {
	pc, err := NewPushConsumer("g", WithNameServers(someNamesrv))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Shutdown(context.Background())
	if err := pc.Start(); !errors.Is(err, client.ErrInvalidArgument) || !strings.Contains(err.Error(), "Subscribe") {
		t.Fatalf("Start without Subscribe = %v", err)
	}
	cases := map[string]struct {
		topic, expr string
		h           Handler
	}{
		"empty topic":    {"", "*", noop},
		"bad topic":      {"a.b", "*", noop},
		"nil handler":    {"T", "*", nil},
		"bad expression": {"T", "A || || B", noop},
	}
	for name, c := range cases {
		if err := pc.Subscribe(c.topic, c.expr, c.h); !errors.Is(err, client.ErrInvalidArgument) {
			t.Errorf("%s: Subscribe = %v, want ErrInvalidArgument", name, err)
		}
	}
	if err := pc.Subscribe("T", "A || B", noop); err != nil {
		t.Fatal(err)
	}
	if err := pc.Subscribe("T", "*", noop); !errors.Is(err, client.ErrInvalidArgument) || !strings.Contains(err.Error(), "already subscribed") {
		t.Fatalf("duplicate Subscribe = %v", err)
	}
	if err := pc.Subscribe("U", "", noop); err != nil {
		t.Fatal(err)
	}
	// The heartbeat lists the subscriptions, sorted by topic.
	hb := pc.heartbeat()
	cd := hb.ConsumerDataSet[0]
	if cd.GroupName != "g" || cd.ConsumeType != "CONSUME_PASSIVELY" || cd.MessageModel != "CLUSTERING" ||
		cd.ConsumeFromWhere != "CONSUME_FROM_LAST_OFFSET" || len(cd.SubscriptionDataSet) != 2 ||
		cd.SubscriptionDataSet[0].Topic != "T" || cd.SubscriptionDataSet[0].SubString != "A || B" || cd.SubscriptionDataSet[1].SubString != "*" {
		t.Fatalf("heartbeat = %+v", cd)
	}
}

func TestStartFailsWithoutNameServer(t *testing.T) {
	pc, err := NewPushConsumer("g", WithNameServers(testutil.DeadAddr(t)), WithCallTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.Subscribe("T", "*", noop); err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); !errors.Is(err, client.ErrConnect) {
		t.Fatalf("Start with no name server = %v, want ErrConnect", err)
	}
	if err := pc.Start(); err == nil {
		t.Fatal("Start after a failed Start succeeded")
	}
	if err := pc.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// fakeGroup is a name server and one broker b1 with queues queues of topic T, where the group
// has the members ids (this consumer is added).
type fakeGroup struct {
	ns, broker *testutil.FakeServer
}

func newFakeGroup(t *testing.T, queues int, others ...string) (*fakeGroup, *PushConsumer) {
	t.Helper()
	fg := &fakeGroup{ns: testutil.NewFakeServer(t), broker: testutil.NewFakeServer(t)}
	route := `{"queueDatas":[{"brokerName":"b1","readQueueNums":` + strconv.Itoa(queues) + `,"writeQueueNums":` + strconv.Itoa(queues) +
		`,"perm":6,"topicSysFlag":0}],"brokerDatas":[{"cluster":"c","brokerName":"b1","brokerAddrs":{"0":"` + fg.broker.Addr() + `"}}]}`
	fg.ns.HandleFunc(remoting.GetRouteInfoByTopic, func(req *remoting.Command) *remoting.Command {
		if req.ExtFields["topic"] != "T" {
			return remoting.NewResponse(req, remoting.TopicNotExist, "no route")
		}
		r := remoting.NewResponse(req, remoting.Success, "")
		r.Body = []byte(route)
		return r
	})
	pc, err := NewPushConsumer("g", WithNameServers(fg.ns.Addr()), WithLogger(testutil.Logger(t)),
		WithCallTimeout(2*time.Second), WithInstanceName("me"))
	if err != nil {
		t.Fatal(err)
	}
	ids, _ := json.Marshal(map[string][]string{"consumerIdList": append([]string{pc.ClientID()}, others...)})
	for code, body := range map[int32]string{remoting.HeartBeat: "", remoting.UnregisterClient: "",
		remoting.UpdateConsumerOffset: "", remoting.GetConsumerListByGroup: string(ids)} {
		fg.broker.Handle(code, remoting.Success, "", body)
	}
	fg.broker.HandleFunc(remoting.QueryConsumerOffset, func(req *remoting.Command) *remoting.Command {
		r := remoting.NewResponse(req, remoting.Success, "")
		r.ExtFields["offset"] = "5"
		return r
	})
	// Pulls are left unanswered (a long poll that never ends).
	return fg, pc
}

func TestStartAssignsQueuesAndShutdownCommits(t *testing.T) {
	fg, pc := newFakeGroup(t, 4, "0.0.0.0@zz-other")
	if err := pc.Subscribe("T", "*", noop); err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := pc.Subscribe("U", "*", noop); !errors.Is(err, client.ErrInvalidArgument) || !strings.Contains(err.Error(), "after Start") {
		t.Fatalf("Subscribe after Start = %v", err)
	}
	if err := pc.Start(); !errors.Is(err, client.ErrInvalidArgument) {
		t.Fatalf("second Start = %v", err)
	}
	all := []client.MessageQueue{{Topic: "T", BrokerName: "b1", QueueID: 0}, {Topic: "T", BrokerName: "b1", QueueID: 1},
		{Topic: "T", BrokerName: "b1", QueueID: 2}, {Topic: "T", BrokerName: "b1", QueueID: 3}}
	ids := []string{pc.ClientID(), "0.0.0.0@zz-other"}
	sort.Strings(ids)
	// Averagely: 4 queues over 2 sorted consumers, two contiguous queues each, in id order.
	idx := slices.Index(ids, pc.ClientID())
	want := all[2*idx : 2*idx+2]
	if got := pc.Assigned(); !slices.Equal(got, want) {
		t.Fatalf("Assigned = %v, want %v", got, want)
	}
	// Each assigned queue is pulled from its committed offset.
	testutil.WaitFor(t, 5*time.Second, func() bool { return len(fg.broker.Requests(remoting.PullMessage)) >= 2 }, "pulls of both queues")
	pulled := map[string]string{}
	for _, r := range fg.broker.Requests(remoting.PullMessage) {
		if r.ExtFields["consumerGroup"] != "g" || r.ExtFields["topic"] != "T" || r.ExtFields["subscription"] != "*" {
			t.Fatalf("pull ext %v", r.ExtFields)
		}
		pulled[r.ExtFields["queueId"]] = r.ExtFields["queueOffset"]
	}
	for _, mq := range want {
		if off := pulled[strconv.Itoa(int(mq.QueueID))]; off != "5" {
			t.Fatalf("queue %v pulled from %q, want 5 (pulls %v)", mq, off, pulled)
		}
	}
	// The heartbeat carries the subscription and the group's retry topic.
	hbs := fg.broker.Requests(remoting.HeartBeat)
	if len(hbs) == 0 {
		t.Fatal("no heartbeat")
	}
	var hb core.HeartbeatData
	if err := json.Unmarshal(hbs[0].Body, &hb); err != nil {
		t.Fatal(err)
	}
	var topics []string
	for _, s := range hb.ConsumerDataSet[0].SubscriptionDataSet {
		topics = append(topics, s.Topic)
	}
	if hb.ClientID != pc.ClientID() || !slices.Equal(topics, []string{"%RETRY%g", "T"}) {
		t.Fatalf("heartbeat client %q topics %v", hb.ClientID, topics)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := pc.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	committed := map[string]string{}
	for _, r := range fg.broker.Requests(remoting.UpdateConsumerOffset) {
		committed[r.ExtFields["queueId"]] = r.ExtFields["commitOffset"]
	}
	for _, mq := range want {
		if off := committed[strconv.Itoa(int(mq.QueueID))]; off != "5" {
			t.Fatalf("queue %v committed %q at shutdown, want 5 (%v)", mq, off, committed)
		}
	}
	if len(fg.broker.Requests(remoting.UnregisterClient)) == 0 {
		t.Fatal("no unregistration at shutdown")
	}
	if err := pc.Shutdown(ctx); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
}

func TestStartWithUnknownTopicWaits(t *testing.T) {
	ns := testutil.NewFakeServer(t)
	ns.Handle(remoting.GetRouteInfoByTopic, remoting.TopicNotExist, "no route", "")
	pc, err := NewPushConsumer("g", WithNameServers(ns.Addr()), WithLogger(testutil.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.Subscribe("T", "*", noop); err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatalf("Start with a topic that has no route yet: %v", err)
	}
	if got := pc.Assigned(); len(got) != 0 {
		t.Fatalf("Assigned = %v", got)
	}
	if err := pc.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestPullConsumerChecks(t *testing.T) {
	pc, err := NewPullConsumer("g", WithNameServers(someNamesrv), WithModel(Broadcasting), WithOffsetDir(t.TempDir()), WithInstanceName("i/x"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	mq := client.MessageQueue{Topic: "T", BrokerName: "b1"}
	if _, err := pc.Pull(ctx, mq, "*", 0, 1); !errors.Is(err, client.ErrNotStarted) {
		t.Fatalf("Pull before Start = %v", err)
	}
	if _, err := pc.Queues(ctx, "T"); !errors.Is(err, client.ErrNotStarted) {
		t.Fatalf("Queues before Start = %v", err)
	}
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		expr   string
		offset int64
		max    int
	}{{"*", -1, 1}, {"*", 0, 0}, {"*", 0, 1025}, {"A || || B", 0, 1}} {
		if _, err := pc.Pull(ctx, mq, c.expr, c.offset, c.max); !errors.Is(err, client.ErrInvalidArgument) {
			t.Errorf("Pull(%q, %d, %d) = %v, want ErrInvalidArgument", c.expr, c.offset, c.max, err)
		}
	}
	if err := pc.CommitOffset(ctx, mq, -1); !errors.Is(err, client.ErrInvalidArgument) {
		t.Errorf("CommitOffset(-1) = %v", err)
	}
	// Broadcasting keeps offsets in a file under the offset dir, named after instance and group.
	ls, ok := pc.OffsetStore().(*LocalOffsetStore)
	if !ok || !strings.HasSuffix(ls.Path(), filepath.Join("i_x", "g", "offsets.json")) {
		t.Fatalf("offset store %T at %v", pc.OffsetStore(), pc.OffsetStore())
	}
	if err := pc.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := pc.Pull(ctx, mq, "*", 0, 1); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("Pull after Shutdown = %v", err)
	}
}

func TestStrings(t *testing.T) {
	if Clustering.String() != "CLUSTERING" || Broadcasting.String() != "BROADCASTING" {
		t.Error("MessageModel strings")
	}
	if ConsumeFromLastOffset.String() != "CONSUME_FROM_LAST_OFFSET" || ConsumeFromFirstOffset.String() != "CONSUME_FROM_FIRST_OFFSET" ||
		ConsumeFromTimestamp.String() != "CONSUME_FROM_TIMESTAMP" {
		t.Error("ConsumeFrom strings")
	}
	if ConsumeSuccess.String() != "SUCCESS" || ConsumeRetryLater.String() != "RETRY_LATER" {
		t.Error("ConsumeResult strings")
	}
}

// TestResetOffsetWinsOverAStaleBrokerOffset: after RESET_CONSUMER_CLIENT_OFFSET the queue
// restarts at the reset offset and the consumer commits it, even while the broker still answers
// the offset from before the reset (a commit this client sent before the reset can land on the
// broker after it; the fake broker here always answers 5).
func TestResetOffsetWinsOverAStaleBrokerOffset(t *testing.T) {
	fg, pc := newFakeGroup(t, 1)
	if err := pc.Subscribe("T", "*", noop); err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	defer pc.Shutdown(context.Background())
	pulledAt := func(off string) bool {
		for _, r := range fg.broker.Requests(remoting.PullMessage) {
			if r.ExtFields["queueOffset"] == off {
				return true
			}
		}
		return false
	}
	testutil.WaitFor(t, 5*time.Second, func() bool { return pulledAt("5") }, "a pull from the committed offset 5")

	req := remoting.NewRequest(remoting.ResetConsumerClientOffset, map[string]string{"topic": "T", "group": "g"},
		[]byte(`{"offsetTable":{{"topic":"T","brokerName":"b1","queueId":0}:2}}`))
	pc.handleResetOffset(fg.broker.Addr(), req)

	testutil.WaitFor(t, 10*time.Second, func() bool { return pulledAt("2") }, "a pull from the reset offset 2")
	testutil.WaitFor(t, 10*time.Second, func() bool {
		for _, r := range fg.broker.Requests(remoting.UpdateConsumerOffset) {
			if r.ExtFields["queueId"] == "0" && r.ExtFields["commitOffset"] == "2" {
				return true
			}
		}
		return false
	}, "the reset offset committed by the consumer")
}
