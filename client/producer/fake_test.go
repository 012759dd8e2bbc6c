package producer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/testutil"
)

// fakeCluster is a fake name server and fake brokers b1, b2, ... (each a master).
type fakeCluster struct {
	ns      *testutil.FakeServer
	brokers []*testutil.FakeServer
}

// routeBody lists the brokers, each with queues write queues.
func (fc *fakeCluster) routeBody(queues int) string {
	var qd, bd []string
	for i, b := range fc.brokers {
		name := fmt.Sprintf("b%d", i+1)
		qd = append(qd, fmt.Sprintf(`{"brokerName":%q,"readQueueNums":%d,"writeQueueNums":%d,"perm":6,"topicSysFlag":0}`, name, queues, queues))
		bd = append(bd, fmt.Sprintf(`{"cluster":"c","brokerName":%q,"brokerAddrs":{"0":%q}}`, name, b.Addr()))
	}
	return `{"queueDatas":[` + strings.Join(qd, ",") + `],"brokerDatas":[` + strings.Join(bd, ",") + `]}`
}

// newFakeCluster starts a name server answering the route of topics in known (others:
// TOPIC_NOT_EXIST) and n brokers that accept heartbeats and unregistrations.
func newFakeCluster(t *testing.T, n, queues int, known ...string) *fakeCluster {
	fc := &fakeCluster{ns: testutil.NewFakeServer(t)}
	for range n {
		b := testutil.NewFakeServer(t)
		b.Handle(remoting.HeartBeat, remoting.Success, "", "")
		b.Handle(remoting.UnregisterClient, remoting.Success, "", "")
		fc.brokers = append(fc.brokers, b)
	}
	body := fc.routeBody(queues)
	fc.ns.HandleFunc(remoting.GetRouteInfoByTopic, func(req *remoting.Command) *remoting.Command {
		for _, k := range known {
			if req.ExtFields["topic"] == k {
				r := remoting.NewResponse(req, remoting.Success, "")
				r.Body = []byte(body)
				return r
			}
		}
		return remoting.NewResponse(req, remoting.TopicNotExist, "No topic route info in name server for the topic: "+req.ExtFields["topic"])
	})
	return fc
}

// answerSend makes b answer sends with code and the ext fields a broker sets.
func answerSend(b *testutil.FakeServer, code int32, remark string) {
	var offset atomic.Int64
	h := func(req *remoting.Command) *remoting.Command {
		r := remoting.NewResponse(req, code, remark)
		r.ExtFields["msgId"] = "0A00000200002A9F000000000001E240"
		r.ExtFields["queueId"] = req.ExtFields["e"]
		r.ExtFields["queueOffset"] = strconv.FormatInt(100+offset.Add(1)-1, 10)
		r.ExtFields["transactionId"] = "TX"
		return r
	}
	b.HandleFunc(remoting.SendMessageV2, h)
	b.HandleFunc(remoting.SendBatchMessage, h)
}

func startProducer(t *testing.T, fc *fakeCluster, opts ...Option) *Producer {
	t.Helper()
	p := newProducer(t, append([]Option{WithNameServers(fc.ns.Addr()), WithSendTimeout(2 * time.Second), WithGroup("pg")}, opts...)...)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = p.Shutdown(ctx)
	})
	return p
}

func sends(fc *fakeCluster, i int) int { return len(fc.brokers[i].Requests(remoting.SendMessageV2)) }

func TestSendToFakeBroker(t *testing.T) {
	fc := newFakeCluster(t, 1, 2, "TopicA")
	answerSend(fc.brokers[0], remoting.Success, "")
	p := startProducer(t, fc)
	msg := client.NewMessage("TopicA", []byte("hello")).WithTags("TagA").WithKeys("k1")
	res, err := p.Send(context.Background(), msg)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	reqs := fc.brokers[0].Requests(remoting.SendMessageV2)
	if len(reqs) != 1 {
		t.Fatalf("broker got %d sends", len(reqs))
	}
	req := reqs[0]
	props := message.ParseProperties(req.ExtFields["i"])
	if res.Status != client.SendOK || res.OffsetMsgID != "0A00000200002A9F000000000001E240" || res.QueueOffset != 100 ||
		res.TransactionID != "TX" || res.MsgID != props[client.PropertyUniqKey] || res.MsgID == "" {
		t.Fatalf("result = %+v (request properties %v)", res, props)
	}
	if res.Queue.Topic != "TopicA" || res.Queue.BrokerName != "b1" || strconv.Itoa(int(res.Queue.QueueID)) != req.ExtFields["e"] {
		t.Fatalf("result queue %v, request queue %s", res.Queue, req.ExtFields["e"])
	}
	if req.ExtFields["a"] != "pg" || req.ExtFields["b"] != "TopicA" || string(req.Body) != "hello" ||
		props[client.PropertyTags] != "TagA" || props[client.PropertyKeys] != "k1" {
		t.Fatalf("request ext %v body %q", req.ExtFields, req.Body)
	}
	// The answer's queueId wins over the queue asked for.
	fc.brokers[0].HandleFunc(remoting.SendMessageV2, func(req *remoting.Command) *remoting.Command {
		r := remoting.NewResponse(req, remoting.Success, "")
		r.ExtFields["msgId"], r.ExtFields["queueId"], r.ExtFields["queueOffset"] = "ID2", "1", "77"
		return r
	})
	for range 2 {
		res, err = p.Send(context.Background(), msg)
		if err != nil || res.Queue.QueueID != 1 || res.QueueOffset != 77 || res.OffsetMsgID != "ID2" {
			t.Fatalf("Send = %+v, %v", res, err)
		}
	}
	// The route was fetched once; the producer heartbeats the broker after learning the route.
	if n := len(fc.ns.Requests(remoting.GetRouteInfoByTopic)); n != 1 {
		t.Fatalf("route fetched %d times", n)
	}
	testutil.WaitFor(t, 5*time.Second, func() bool { return len(fc.brokers[0].Requests(remoting.HeartBeat)) > 0 }, "a heartbeat")
	var hb struct {
		ClientID        string `json:"clientID"`
		ProducerDataSet []struct {
			GroupName string `json:"groupName"`
		} `json:"producerDataSet"`
	}
	if err := json.Unmarshal(fc.brokers[0].Requests(remoting.HeartBeat)[0].Body, &hb); err != nil ||
		hb.ClientID != p.ClientID() || len(hb.ProducerDataSet) != 1 || hb.ProducerDataSet[0].GroupName != "pg" {
		t.Fatalf("heartbeat %+v, %v", hb, err)
	}
}

func TestSendStoredButNotFlushedIsNotRetried(t *testing.T) {
	cases := []struct {
		code   int32
		status client.SendStatus
		err    error
	}{
		{remoting.FlushDiskTimeout, client.SendFlushDiskTimeout, client.ErrFlushDiskTimeout},
		{remoting.FlushSlaveTimeout, client.SendFlushSlaveTimeout, client.ErrFlushSlaveTimeout},
		{remoting.SlaveNotAvailable, client.SendSlaveNotAvailable, client.ErrSlaveNotAvailable},
	}
	for _, c := range cases {
		t.Run(c.status.String(), func(t *testing.T) {
			fc := newFakeCluster(t, 2, 1, "T")
			answerSend(fc.brokers[0], c.code, "not in time")
			answerSend(fc.brokers[1], c.code, "not in time")
			p := startProducer(t, fc, WithRetries(2))
			res, err := p.Send(context.Background(), client.NewMessage("T", []byte("x")))
			if !errors.Is(err, c.err) {
				t.Fatalf("Send error = %v, want %v", err, c.err)
			}
			if res == nil || res.Status != c.status || res.QueueOffset != 100 || res.MsgID == "" {
				t.Fatalf("Send result = %+v, want status %v with the stored position", res, c.status)
			}
			if n := sends(fc, 0) + sends(fc, 1); n != 1 {
				t.Fatalf("%d send requests, want 1 (a stored message is not retried)", n)
			}
			if !strings.Contains(err.Error(), res.MsgID) {
				t.Fatalf("error %q does not name the message", err)
			}
		})
	}
}

func TestSendBusyIsRetried(t *testing.T) {
	for _, retries := range []int{0, 2, 4} {
		t.Run(strconv.Itoa(retries), func(t *testing.T) {
			fc := newFakeCluster(t, 1, 4, "T")
			answerSend(fc.brokers[0], remoting.SystemBusy, "[PCBUSY_CLEAN_QUEUE]broker busy")
			p := startProducer(t, fc, WithRetries(retries))
			res, err := p.Send(context.Background(), client.NewMessage("T", []byte("x")))
			if res != nil || !errors.Is(err, client.ErrBrokerBusy) {
				t.Fatalf("Send = %+v, %v; want ErrBrokerBusy", res, err)
			}
			if n := sends(fc, 0); n != retries+1 {
				t.Fatalf("broker got %d sends, want %d", n, retries+1)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("after %d attempt(s)", retries+1)) || !strings.Contains(err.Error(), "PCBUSY") {
				t.Fatalf("error %q does not count the attempts or carry the remark", err)
			}
			// Every attempt sent the same message.
			reqs := fc.brokers[0].Requests(remoting.SendMessageV2)
			for _, r := range reqs[1:] {
				if r.ExtFields["i"] != reqs[0].ExtFields["i"] {
					t.Fatalf("retry changed the properties: %q vs %q", r.ExtFields["i"], reqs[0].ExtFields["i"])
				}
			}
		})
	}
}

func TestSendNonRetryableBrokerError(t *testing.T) {
	fc := newFakeCluster(t, 2, 1, "T")
	answerSend(fc.brokers[0], remoting.MessageIllegal, "too big")
	answerSend(fc.brokers[1], remoting.MessageIllegal, "too big")
	p := startProducer(t, fc)
	_, err := p.Send(context.Background(), client.NewMessage("T", []byte("x")))
	var be *client.BrokerError
	if !errors.Is(err, client.ErrMessageIllegal) || !errors.As(err, &be) || be.Remark != "too big" {
		t.Fatalf("Send = %v, want ErrMessageIllegal", err)
	}
	if n := sends(fc, 0) + sends(fc, 1); n != 1 {
		t.Fatalf("%d sends, want 1", n)
	}
}

func TestSendFailsOverToHealthyBroker(t *testing.T) {
	fc := newFakeCluster(t, 2, 2, "T")
	answerSend(fc.brokers[0], remoting.SystemBusy, "busy")
	answerSend(fc.brokers[1], remoting.Success, "")
	p := startProducer(t, fc, WithRetries(2))
	ctx := context.Background()
	res, err := p.Send(ctx, client.NewMessage("T", []byte("x")))
	if err != nil || res.Queue.BrokerName != "b2" {
		t.Fatalf("Send = %+v, %v; want stored on b2 after b1 was busy", res, err)
	}
	if sends(fc, 0) != 1 || sends(fc, 1) != 1 {
		t.Fatalf("sends b1 %d b2 %d, want 1 and 1", sends(fc, 0), sends(fc, 1))
	}
	// b1 is avoided from now on.
	for range 6 {
		res, err := p.Send(ctx, client.NewMessage("T", []byte("x")))
		if err != nil || res.Queue.BrokerName != "b2" {
			t.Fatalf("Send = %+v, %v", res, err)
		}
	}
	if sends(fc, 0) != 1 {
		t.Fatalf("the failed broker got %d more sends within its avoidance", sends(fc, 0)-1)
	}
	// Without fault tolerance the round robin keeps hitting b1.
	q := startProducer(t, fc, WithRetries(2), WithLatencyFaultTolerance(false))
	for range 6 {
		if _, err := q.Send(ctx, client.NewMessage("T", []byte("x"))); err != nil {
			t.Fatal(err)
		}
	}
	if sends(fc, 0) < 3 {
		t.Fatalf("without fault tolerance b1 got %d sends in total, want it tried again", sends(fc, 0))
	}
}

func TestSendToDeadBrokerIsRetried(t *testing.T) {
	fc := newFakeCluster(t, 1, 1, "T")
	dead := testutil.DeadAddr(t)
	fc.ns.Handle(remoting.GetRouteInfoByTopic, remoting.Success, "",
		`{"queueDatas":[{"brokerName":"b1","readQueueNums":1,"writeQueueNums":1,"perm":6,"topicSysFlag":0}],`+
			`"brokerDatas":[{"cluster":"c","brokerName":"b1","brokerAddrs":{"0":"`+dead+`"}}]}`)
	p := startProducer(t, fc, WithRetries(1))
	_, err := p.Send(context.Background(), client.NewMessage("T", []byte("x")))
	if !errors.Is(err, client.ErrConnect) || !strings.Contains(err.Error(), dead) || !strings.Contains(err.Error(), "2 attempt(s)") {
		t.Fatalf("Send to a dead broker = %v", err)
	}
	// A transport failure refreshes the route.
	if n := len(fc.ns.Requests(remoting.GetRouteInfoByTopic)); n < 2 {
		t.Fatalf("route fetched %d times, want a refresh after the failure", n)
	}
}

func TestSendUnknownTopic(t *testing.T) {
	fc := newFakeCluster(t, 1, 8) // the name server knows no topic, not even TBW102
	answerSend(fc.brokers[0], remoting.Success, "")
	p := startProducer(t, fc)
	_, err := p.Send(context.Background(), client.NewMessage("Nope", []byte("x")))
	if !errors.Is(err, client.ErrTopicNotExist) || !strings.Contains(err.Error(), `"Nope"`) {
		t.Fatalf("Send to an unknown topic = %v, want ErrTopicNotExist", err)
	}
	if sends(fc, 0) != 0 {
		t.Fatal("a send reached the broker")
	}
}

func TestSendAutoCreatesTopicThroughDefaultRoute(t *testing.T) {
	fc := newFakeCluster(t, 1, 8, "TBW102") // only the auto-create topic is known
	answerSend(fc.brokers[0], remoting.Success, "")
	p := startProducer(t, fc, WithDefaultTopicQueueNums(2))
	for range 6 {
		res, err := p.Send(context.Background(), client.NewMessage("Fresh", []byte("x")))
		if err != nil {
			t.Fatalf("Send to a new topic: %v", err)
		}
		if res.Queue.Topic != "Fresh" {
			t.Fatalf("result queue %v", res.Queue)
		}
	}
	for _, r := range fc.brokers[0].Requests(remoting.SendMessageV2) {
		if q, _ := strconv.Atoi(r.ExtFields["e"]); q >= 2 || r.ExtFields["b"] != "Fresh" || r.ExtFields["c"] != "TBW102" || r.ExtFields["d"] != "2" {
			t.Fatalf("auto-create send ext %v", r.ExtFields)
		}
	}
}

func TestSendToQueueIsNotRetried(t *testing.T) {
	fc := newFakeCluster(t, 2, 4, "T")
	answerSend(fc.brokers[0], remoting.SystemBusy, "busy")
	answerSend(fc.brokers[1], remoting.Success, "")
	p := startProducer(t, fc, WithRetries(3))
	ctx := context.Background()
	mq := client.MessageQueue{Topic: "T", BrokerName: "b1", QueueID: 3}
	if _, err := p.SendToQueue(ctx, client.NewMessage("T", []byte("x")), mq); !errors.Is(err, client.ErrBrokerBusy) {
		t.Fatalf("SendToQueue to a busy broker = %v", err)
	}
	if sends(fc, 0) != 1 || sends(fc, 1) != 0 {
		t.Fatalf("sends b1 %d b2 %d, want 1 and 0", sends(fc, 0), sends(fc, 1))
	}
	if e := fc.brokers[0].Requests(remoting.SendMessageV2)[0].ExtFields["e"]; e != "3" {
		t.Fatalf("queue id sent %q, want 3", e)
	}
	mq.BrokerName = "b2"
	if res, err := p.SendToQueue(ctx, client.NewMessage("T", []byte("x")), mq); err != nil || res.Queue.BrokerName != "b2" {
		t.Fatalf("SendToQueue b2 = %+v, %v", res, err)
	}
	if _, err := p.SendToQueue(ctx, client.NewMessage("U", []byte("x")), mq); !errors.Is(err, client.ErrInvalidArgument) {
		t.Fatalf("SendToQueue with another topic = %v", err)
	}
	if _, err := p.SendToQueue(ctx, nil, mq); !errors.Is(err, client.ErrInvalidArgument) {
		t.Fatalf("SendToQueue(nil) = %v", err)
	}
}

func TestSendWithHashSelector(t *testing.T) {
	fc := newFakeCluster(t, 2, 4, "T")
	answerSend(fc.brokers[0], remoting.Success, "")
	answerSend(fc.brokers[1], remoting.Success, "")
	p := startProducer(t, fc, WithQueueSelector(HashQueueSelector()))
	ctx := context.Background()
	var first client.MessageQueue
	for i := range 5 {
		res, err := p.Send(ctx, client.NewMessage("T", []byte("x")).WithShardingKey("order-42"))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = res.Queue
		} else if res.Queue != first {
			t.Fatalf("sharding key went to %v then %v", first, res.Queue)
		}
	}
}

func TestSendBatchToFakeBroker(t *testing.T) {
	fc := newFakeCluster(t, 1, 1, "T")
	answerSend(fc.brokers[0], remoting.Success, "")
	p := startProducer(t, fc)
	msgs := []*client.Message{client.NewMessage("T", []byte("one")), client.NewMessage("T", []byte("two")).WithTags("B")}
	res, err := p.SendBatch(context.Background(), msgs...)
	if err != nil {
		t.Fatal(err)
	}
	reqs := fc.brokers[0].Requests(remoting.SendBatchMessage)
	if len(reqs) != 1 || reqs[0].ExtFields["m"] != "true" {
		t.Fatalf("batch requests %v", reqs)
	}
	entries, err := message.DecodeBatch(reqs[0].Body)
	if err != nil || len(entries) != 2 || string(entries[1].Body) != "two" || entries[1].Properties[client.PropertyTags] != "B" {
		t.Fatalf("batch body: %+v, %v", entries, err)
	}
	ids := strings.Split(res.MsgID, ",")
	if len(ids) != 2 || ids[0] != entries[0].Properties[client.PropertyUniqKey] || ids[1] != entries[1].Properties[client.PropertyUniqKey] {
		t.Fatalf("batch MsgID %q", res.MsgID)
	}
	if _, err := p.SendBatch(context.Background(), msgs[0], client.NewMessage("U", []byte("x"))); !errors.Is(err, client.ErrInvalidArgument) {
		t.Fatalf("mixed batch = %v", err)
	}
	if n := len(fc.brokers[0].Requests(remoting.SendBatchMessage)); n != 1 {
		t.Fatalf("a refused batch reached the broker (%d requests)", n)
	}
}

func TestSendAsync(t *testing.T) {
	fc := newFakeCluster(t, 1, 2, "T")
	answerSend(fc.brokers[0], remoting.Success, "")
	p := startProducer(t, fc, WithRetries(2))
	type out struct {
		res *client.SendResult
		err error
	}
	send := func() out {
		ch := make(chan out, 2)
		if err := p.SendAsync(context.Background(), client.NewMessage("T", []byte("x")), func(r *client.SendResult, err error) {
			ch <- out{r, err}
		}); err != nil {
			return out{nil, err}
		}
		select {
		case o := <-ch:
			select {
			case <-ch:
				t.Fatal("callback called twice")
			case <-time.After(50 * time.Millisecond):
			}
			return o
		case <-time.After(10 * time.Second):
			t.Fatal("callback never called")
		}
		return out{}
	}
	if o := send(); o.err != nil || o.res.Status != client.SendOK || o.res.QueueOffset != 100 {
		t.Fatalf("SendAsync = %+v, %v", o.res, o.err)
	}
	answerSend(fc.brokers[0], remoting.SystemBusy, "busy")
	if o := send(); !errors.Is(o.err, client.ErrBrokerBusy) || o.res != nil {
		t.Fatalf("SendAsync to a busy broker = %+v, %v", o.res, o.err)
	}
	if n := sends(fc, 0); n != 1+3 {
		t.Fatalf("broker got %d sends, want 1 + 3 attempts", n)
	}
	answerSend(fc.brokers[0], remoting.FlushDiskTimeout, "slow disk")
	if o := send(); !errors.Is(o.err, client.ErrFlushDiskTimeout) || o.res == nil || o.res.Status != client.SendFlushDiskTimeout {
		t.Fatalf("SendAsync flush timeout = %+v, %v", o.res, o.err)
	}
	if err := p.SendAsync(context.Background(), client.NewMessage("T", []byte("x")), nil); !errors.Is(err, client.ErrInvalidArgument) {
		t.Fatalf("SendAsync(nil callback) = %v", err)
	}
	if err := p.SendAsync(context.Background(), client.NewMessage("", []byte("x")), func(*client.SendResult, error) {}); !errors.Is(err, client.ErrInvalidArgument) {
		t.Fatalf("SendAsync(bad message) = %v", err)
	}
}

// TestSendAsyncTimesOut: a broker that never answers fails an async send with ErrTimeout, once,
// both for a context that cannot be cancelled (the send timeout, enforced by the transport's
// deadline sweeper) and for one with a deadline (which then bounds the attempt, through a
// context per attempt); a cancelled context ends the send early.
func TestSendAsyncTimesOut(t *testing.T) {
	fc := newFakeCluster(t, 1, 2, "T")
	fc.brokers[0].HandleFunc(remoting.SendMessageV2, func(*remoting.Command) *remoting.Command { return nil })
	p := startProducer(t, fc, WithRetries(0), WithSendTimeout(100*time.Millisecond))
	wait := func(ctx context.Context) error {
		ch := make(chan error, 2)
		if err := p.SendAsync(ctx, client.NewMessage("T", []byte("x")), func(_ *client.SendResult, err error) { ch <- err }); err != nil {
			return err
		}
		select {
		case err := <-ch:
			select {
			case <-ch:
				t.Fatal("callback called twice")
			case <-time.After(200 * time.Millisecond):
			}
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("callback never called")
		}
		return nil
	}
	if err := wait(context.Background()); !errors.Is(err, client.ErrTimeout) {
		t.Fatalf("SendAsync(background) to a silent broker = %v, want ErrTimeout", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	if err := wait(ctx); !errors.Is(err, client.ErrTimeout) {
		t.Fatalf("SendAsync(ctx) to a silent broker = %v, want ErrTimeout", err)
	}
	cctx, ccancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, ccancel)
	if err := wait(cctx); err == nil {
		t.Fatal("SendAsync with a cancelled context succeeded")
	}
}

func TestSendOneway(t *testing.T) {
	fc := newFakeCluster(t, 1, 1, "T")
	p := startProducer(t, fc)
	if err := p.SendOneway(context.Background(), client.NewMessage("T", []byte("fire"))); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, func() bool { return sends(fc, 0) == 1 }, "the oneway send")
	r := fc.brokers[0].Requests(remoting.SendMessageV2)[0]
	if !r.IsOneway() || string(r.Body) != "fire" {
		t.Fatalf("oneway request flag %d body %q", r.Flag, r.Body)
	}
}

func TestShutdownUnregisters(t *testing.T) {
	fc := newFakeCluster(t, 1, 1, "T")
	answerSend(fc.brokers[0], remoting.Success, "")
	p := startProducer(t, fc)
	if _, err := p.Send(context.Background(), client.NewMessage("T", []byte("x"))); err != nil {
		t.Fatal(err)
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	reqs := fc.brokers[0].Requests(remoting.UnregisterClient)
	if len(reqs) != 1 || reqs[0].ExtFields["producerGroup"] != "pg" || reqs[0].ExtFields["clientID"] != p.ClientID() {
		t.Fatalf("unregister requests %v", reqs)
	}
}

type txListener struct{}

func (txListener) ExecuteLocalTransaction(context.Context, *client.Message) LocalTransactionState {
	return Commit
}
func (txListener) CheckLocalTransaction(*client.MessageExt) LocalTransactionState { return Commit }

func TestTransactionProducerArguments(t *testing.T) {
	if _, err := NewTransactionProducer(nil, WithNameServers(someNamesrv)); !errors.Is(err, client.ErrInvalidArgument) {
		t.Fatalf("nil listener = %v", err)
	}
	if _, err := NewTransactionProducer(txListener{}, WithNameServers(someNamesrv), WithRetries(-1)); !errors.Is(err, client.ErrInvalidArgument) {
		t.Fatalf("bad option = %v", err)
	}
	tp, err := NewTransactionProducer(txListener{}, WithNameServers(someNamesrv))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := tp.SendMessageInTransaction(ctx, client.NewMessage("T", []byte("x"))); !errors.Is(err, client.ErrNotStarted) {
		t.Fatalf("before Start = %v", err)
	}
	if err := tp.Start(); err != nil {
		t.Fatal(err)
	}
	defer tp.Shutdown(ctx)
	if _, err := tp.SendMessageInTransaction(ctx, nil); !errors.Is(err, client.ErrInvalidArgument) {
		t.Fatalf("nil message = %v", err)
	}
	if _, err := tp.SendMessageInTransaction(ctx, client.NewMessage("T", []byte("x")).WithDelayLevel(2)); !errors.Is(err, client.ErrInvalidArgument) {
		t.Fatalf("delayed transactional message = %v", err)
	}
	for s, want := range map[LocalTransactionState]string{Commit: "COMMIT", Rollback: "ROLLBACK", Unknown: "UNKNOWN"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q", s, s.String())
		}
	}
	if Commit.code() != message.TransactionCommit || Rollback.code() != message.TransactionRollback || Unknown.code() != message.TransactionNotType {
		t.Error("wire codes of the transaction states")
	}
}

// TestSendRefreshesRouteWhenMasterUnknown: a cached route whose broker set has no known master
// (another topic's newer route listed only its slave) makes both the sync and the async send fetch
// the route again and send to the master it names; the two share one retry loop.
func TestSendRefreshesRouteWhenMasterUnknown(t *testing.T) {
	for _, mode := range []string{"sync", "async"} {
		t.Run(mode, func(t *testing.T) {
			fc := newFakeCluster(t, 1, 1, "T")
			answerSend(fc.brokers[0], remoting.Success, "")
			full := fc.routeBody(1)
			slaveOnly := `{"queueDatas":[{"brokerName":"b1","readQueueNums":1,"writeQueueNums":1,"perm":6,"topicSysFlag":0}],` +
				`"brokerDatas":[{"cluster":"c","brokerName":"b1","brokerAddrs":{"1":"127.0.0.1:1"}}]}`
			fc.ns.HandleFunc(remoting.GetRouteInfoByTopic, func(req *remoting.Command) *remoting.Command {
				r := remoting.NewResponse(req, remoting.Success, "")
				r.Body = []byte(full)
				if req.ExtFields["topic"] == "U" {
					r.Body = []byte(slaveOnly)
				}
				return r
			})
			p := startProducer(t, fc, WithRetries(0))
			send := func(topic string) error {
				msg := client.NewMessage(topic, []byte("x"))
				if mode == "sync" {
					_, err := p.Send(context.Background(), msg)
					return err
				}
				ch := make(chan error, 1)
				if err := p.SendAsync(context.Background(), msg, func(_ *client.SendResult, err error) { ch <- err }); err != nil {
					return err
				}
				select {
				case err := <-ch:
					return err
				case <-time.After(10 * time.Second):
					t.Fatal("callback never called")
				}
				return nil
			}
			if err := send("T"); err != nil {
				t.Fatal(err)
			}
			// U's route now tells the client that b1 has no master.
			if err := send("U"); !errors.Is(err, client.ErrNoPermission) {
				t.Fatalf("send to U (slave only) = %v, want ErrNoPermission", err)
			}
			before := len(fc.ns.Requests(remoting.GetRouteInfoByTopic))
			if err := send("T"); err != nil {
				t.Fatalf("send to T after b1's master was forgotten = %v, want the route refreshed and the send stored", err)
			}
			if n := sends(fc, 0); n != 2 {
				t.Fatalf("broker got %d sends, want 2", n)
			}
			if n := len(fc.ns.Requests(remoting.GetRouteInfoByTopic)); n <= before {
				t.Fatal("T's route was not fetched again")
			}
		})
	}
}

// TestSendRefreshesRouteWhenBrokerIsNotMaster: a failover moved the master of the set; the old
// one answers SERVICE_NOT_AVAILABLE. The retry asks the name server at once and reaches the new
// master instead of waiting for the 30 s route refresh.
func TestSendRefreshesRouteWhenBrokerIsNotMaster(t *testing.T) {
	fc := newFakeCluster(t, 2, 1, "T")
	answerSend(fc.brokers[0], remoting.ServiceNotAvailable, "the broker is not the master of its set")
	answerSend(fc.brokers[1], remoting.Success, "")
	route := func(master string) string {
		return `{"queueDatas":[{"brokerName":"b1","readQueueNums":1,"writeQueueNums":1,"perm":6,"topicSysFlag":0}],` +
			`"brokerDatas":[{"cluster":"c","brokerName":"b1","brokerAddrs":{"0":"` + master + `"}}]}`
	}
	var asked atomic.Int64
	fc.ns.HandleFunc(remoting.GetRouteInfoByTopic, func(req *remoting.Command) *remoting.Command {
		r := remoting.NewResponse(req, remoting.Success, "")
		if asked.Add(1) == 1 {
			r.Body = []byte(route(fc.brokers[0].Addr()))
		} else {
			r.Body = []byte(route(fc.brokers[1].Addr()))
		}
		return r
	})
	p := startProducer(t, fc, WithRetries(1))
	res, err := p.Send(context.Background(), client.NewMessage("T", []byte("x")))
	if err != nil || res.Status != client.SendOK {
		t.Fatalf("send after a failover = %v, %v", res, err)
	}
	if sends(fc, 0) != 1 || sends(fc, 1) != 1 {
		t.Fatalf("sends: old master %d, new master %d; want 1 and 1", sends(fc, 0), sends(fc, 1))
	}
}

// TestSendHeaderSerialization: requests carry RocketMQ's binary header by default and JSON with
// WithJSONHeaders; the broker's answer (in the request's form) decodes either way.
func TestSendHeaderSerialization(t *testing.T) {
	for _, c := range []struct {
		name string
		opts []Option
		want byte
	}{{"default", nil, remoting.SerializeRocketMQ}, {"json", []Option{WithJSONHeaders()}, remoting.SerializeJSON}} {
		t.Run(c.name, func(t *testing.T) {
			fc := newFakeCluster(t, 1, 2, "T")
			answerSend(fc.brokers[0], remoting.Success, "")
			p := startProducer(t, fc, c.opts...)
			res, err := p.Send(context.Background(), client.NewMessage("T", []byte("x")).WithTags("A"))
			if err != nil || res.Status != client.SendOK || res.QueueOffset != 100 {
				t.Fatalf("send = %+v, %v", res, err)
			}
			reqs := fc.brokers[0].Requests(remoting.SendMessageV2)
			if len(reqs) != 1 || reqs[0].SerializeType != c.want {
				t.Fatalf("send requests %d, serialize type %d, want %d", len(reqs), reqs[0].SerializeType, c.want)
			}
			if reqs[0].ExtFields["b"] != "T" {
				t.Fatalf("topic field %q", reqs[0].ExtFields["b"])
			}
		})
	}
}
