package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/testutil"
)

func newTestClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = testutil.Logger(t)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(c.Shutdown)
	return c
}

// routeJSON is a GET_ROUTEINFO_BY_TOPIC body with one broker name b1 at addrs (id -> addr).
func routeJSON(addrs map[int64]string, queues int) string {
	r := TopicRoute{
		QueueDatas:  []QueueData{{BrokerName: "b1", ReadQueueNums: int32(queues), WriteQueueNums: int32(queues), Perm: 6}},
		BrokerDatas: []BrokerData{{Cluster: "c", BrokerName: "b1", BrokerAddrs: addrs}},
	}
	b, _ := json.Marshal(r)
	return string(b)
}

func TestNewConfig(t *testing.T) {
	t.Setenv(client.EnvNameServer, "")
	_, err := New(Config{Name: "producer"})
	if !errors.Is(err, client.ErrNoNameServer) || !strings.HasPrefix(err.Error(), "producer: ") {
		t.Fatalf("New without name servers = %v", err)
	}
	c := newTestClient(t, Config{NameServers: []string{"127.0.0.1:1;127.0.0.1:2"}, InstanceName: "inst"})
	if c.Name() != "client" || c.Timeout() != 2*time.Second || !strings.HasSuffix(c.ClientID(), "@inst") {
		t.Fatalf("name %q timeout %v id %q", c.Name(), c.Timeout(), c.ClientID())
	}
	if ns := c.NameServers(); !slices.Equal(ns, []string{"127.0.0.1:1", "127.0.0.1:2"}) {
		t.Fatalf("NameServers = %v", ns)
	}
	t.Setenv(client.EnvNameServer, "127.0.0.1:3")
	c1 := newTestClient(t, Config{})
	c2 := newTestClient(t, Config{})
	if c1.ClientID() == c2.ClientID() {
		t.Fatalf("two clients share the id %q", c1.ClientID())
	}
	if !slices.Equal(c1.NameServers(), []string{"127.0.0.1:3"}) {
		t.Fatalf("NAMESRV_ADDR not used: %v", c1.NameServers())
	}
}

func TestFetchRouteFailsOverDeadNameServer(t *testing.T) {
	ns := testutil.NewFakeServer(t)
	ns.Handle(remoting.GetRouteInfoByTopic, remoting.Success, "", routeJSON(map[int64]string{0: "127.0.0.1:10911"}, 4))
	c := newTestClient(t, Config{NameServers: []string{testutil.DeadAddr(t), ns.Addr()}})
	r, err := c.FetchRoute(context.Background(), "TopicA")
	if err != nil {
		t.Fatalf("FetchRoute: %v", err)
	}
	if len(r.PublishQueues("TopicA")) != 4 || r.BrokerDatas[0].MasterAddr() != "127.0.0.1:10911" {
		t.Fatalf("route = %+v", r)
	}
	reqs := ns.Requests(remoting.GetRouteInfoByTopic)
	if len(reqs) != 1 || reqs[0].ExtFields["topic"] != "TopicA" {
		t.Fatalf("name server got %d requests: %v", len(reqs), reqs)
	}
	// The live name server keeps answering.
	for range 3 {
		if _, err := c.FetchRoute(context.Background(), "TopicA"); err != nil {
			t.Fatalf("FetchRoute again: %v", err)
		}
	}
}

func TestFetchRouteFailsOverSilentNameServer(t *testing.T) {
	silent := testutil.NewFakeServer(t) // never answers
	ns := testutil.NewFakeServer(t)
	ns.Handle(remoting.GetRouteInfoByTopic, remoting.Success, "", routeJSON(map[int64]string{0: "127.0.0.1:10911"}, 1))
	c := newTestClient(t, Config{NameServers: []string{silent.Addr(), ns.Addr()}, Timeout: 200 * time.Millisecond})
	if _, err := c.FetchRoute(context.Background(), "TopicA"); err != nil {
		t.Fatalf("FetchRoute: %v", err)
	}
	if len(silent.Requests(remoting.GetRouteInfoByTopic)) != 1 || len(ns.Requests(remoting.GetRouteInfoByTopic)) != 1 {
		t.Fatal("each name server should have been asked once")
	}
}

func TestFetchRouteTopicNotExistDoesNotFailOver(t *testing.T) {
	ns1 := testutil.NewFakeServer(t)
	ns1.Handle(remoting.GetRouteInfoByTopic, remoting.TopicNotExist, "No topic route info in name server for the topic: Nope", "")
	ns2 := testutil.NewFakeServer(t)
	ns2.Handle(remoting.GetRouteInfoByTopic, remoting.Success, "", routeJSON(map[int64]string{0: "127.0.0.1:10911"}, 1))
	c := newTestClient(t, Config{Name: "producer", NameServers: []string{ns1.Addr(), ns2.Addr()}})
	_, err := c.FetchRoute(context.Background(), "Nope")
	if !errors.Is(err, client.ErrTopicNotExist) {
		t.Fatalf("FetchRoute = %v, want ErrTopicNotExist", err)
	}
	if !strings.Contains(err.Error(), `"Nope"`) || !strings.Contains(err.Error(), ns1.Addr()) || !strings.HasPrefix(err.Error(), "producer: ") {
		t.Fatalf("error %q does not name the topic and name server", err)
	}
	if n := len(ns2.Requests(remoting.GetRouteInfoByTopic)); n != 0 {
		t.Fatalf("the second name server was asked %d times after TOPIC_NOT_EXIST", n)
	}
}

func TestFetchRouteOtherErrors(t *testing.T) {
	ns := testutil.NewFakeServer(t)
	ns.Handle(remoting.GetRouteInfoByTopic, remoting.SystemBusy, "busy", "")
	other := testutil.NewFakeServer(t)
	other.Handle(remoting.GetRouteInfoByTopic, remoting.Success, "", routeJSON(map[int64]string{0: "x:1"}, 1))
	c := newTestClient(t, Config{NameServers: []string{ns.Addr(), other.Addr()}})
	_, err := c.FetchRoute(context.Background(), "T")
	var be *client.BrokerError
	if !errors.As(err, &be) || be.Code != remoting.SystemBusy || be.Addr != ns.Addr() || be.RequestCode != remoting.GetRouteInfoByTopic {
		t.Fatalf("FetchRoute = %v, want a BrokerError with code 2 from %s", err, ns.Addr())
	}
	if !errors.Is(err, client.ErrBrokerBusy) || len(other.Requests(remoting.GetRouteInfoByTopic)) != 0 {
		t.Fatalf("busy answer: %v, other asked %d times", err, len(other.Requests(remoting.GetRouteInfoByTopic)))
	}

	bad := testutil.NewFakeServer(t)
	bad.Handle(remoting.GetRouteInfoByTopic, remoting.Success, "", "{not json")
	c = newTestClient(t, Config{NameServers: []string{bad.Addr()}})
	if _, err := c.FetchRoute(context.Background(), "T"); !errors.Is(err, client.ErrBadResponse) {
		t.Fatalf("undecodable route = %v, want ErrBadResponse", err)
	}

	c = newTestClient(t, Config{NameServers: []string{testutil.DeadAddr(t), testutil.DeadAddr(t)}})
	_, err = c.FetchRoute(context.Background(), "T")
	if !errors.Is(err, client.ErrConnect) || !IsTransport(err) {
		t.Fatalf("all name servers dead = %v, want ErrConnect", err)
	}
	for _, a := range c.NameServers() {
		if !strings.Contains(err.Error(), a) {
			t.Errorf("error %q does not name %s", err, a)
		}
	}
}

func TestFetchRouteFastjsonKeys(t *testing.T) {
	ns := testutil.NewFakeServer(t)
	ns.Handle(remoting.GetRouteInfoByTopic, remoting.Success, "",
		`{"brokerDatas":[{"brokerAddrs":{0:"127.0.0.1:10911",1:"127.0.0.1:10921"},"brokerName":"b1","cluster":"c"}],`+
			`"filterServerTable":{},"queueDatas":[{"brokerName":"b1","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}`)
	c := newTestClient(t, Config{NameServers: []string{ns.Addr()}})
	if _, err := c.UpdateRoute(context.Background(), "T"); err != nil {
		t.Fatal(err)
	}
	if a, slave := c.FindBrokerAddr("b1", 1); a != "127.0.0.1:10921" || !slave {
		t.Fatalf("FindBrokerAddr(b1, 1) = %q, %v", a, slave)
	}
}

func TestRouteCacheAndChangeNotification(t *testing.T) {
	var body atomic.Value
	body.Store(routeJSON(map[int64]string{0: "127.0.0.1:10911"}, 4))
	ns := testutil.NewFakeServer(t)
	ns.HandleFunc(remoting.GetRouteInfoByTopic, func(req *remoting.Command) *remoting.Command {
		r := remoting.NewResponse(req, remoting.Success, "")
		r.Body = []byte(body.Load().(string))
		return r
	})
	c := newTestClient(t, Config{NameServers: []string{ns.Addr()}})
	var mu sync.Mutex
	var calls []string
	c.OnRouteChange(func(topic string, r *TopicRoute) {
		mu.Lock()
		calls = append(calls, fmt.Sprintf("%s:%d", topic, len(r.PublishQueues(topic))))
		mu.Unlock()
	})
	got := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(calls)
	}
	ctx := context.Background()
	r1, err := c.Route(ctx, "T")
	if err != nil {
		t.Fatal(err)
	}
	r2, err := c.Route(ctx, "T")
	if err != nil || r2 != r1 {
		t.Fatalf("second Route: %v, same pointer %v", err, r2 == r1)
	}
	if n := len(ns.Requests(remoting.GetRouteInfoByTopic)); n != 1 {
		t.Fatalf("Route asked the name server %d times, want 1 (cached)", n)
	}
	if !slices.Equal(got(), []string{"T:4"}) {
		t.Fatalf("watcher calls after the first fetch: %v", got())
	}
	if _, err := c.UpdateRoute(ctx, "T"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateRoute(ctx, "T"); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got(), []string{"T:4"}) {
		t.Fatalf("watcher called for an unchanged route: %v", got())
	}
	body.Store(routeJSON(map[int64]string{0: "127.0.0.1:10911"}, 8))
	if _, err := c.UpdateRoute(ctx, "T"); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got(), []string{"T:4", "T:8"}) {
		t.Fatalf("watcher calls after a change: %v", got())
	}
	if r, _ := c.Route(ctx, "T"); len(r.PublishQueues("T")) != 8 {
		t.Fatal("Route does not return the updated route")
	}
	// A failed update keeps the cached route.
	ns.Handle(remoting.GetRouteInfoByTopic, remoting.SystemError, "boom", "")
	if _, err := c.UpdateRoute(ctx, "T"); err == nil {
		t.Fatal("UpdateRoute succeeded on an error answer")
	}
	if r, err := c.Route(ctx, "T"); err != nil || len(r.PublishQueues("T")) != 8 {
		t.Fatalf("cached route lost after a failed update: %v", err)
	}
	// ForgetRoute drops it: the next Route asks again (and now fails).
	c.ForgetRoute("T")
	before := len(ns.Requests(remoting.GetRouteInfoByTopic))
	if _, err := c.Route(ctx, "T"); err == nil || len(ns.Requests(remoting.GetRouteInfoByTopic)) != before+1 {
		t.Fatalf("Route after ForgetRoute did not ask again: %v", err)
	}
}

func TestRouteRefreshLoop(t *testing.T) {
	ns := testutil.NewFakeServer(t)
	ns.Handle(remoting.GetRouteInfoByTopic, remoting.Success, "", routeJSON(map[int64]string{0: "127.0.0.1:10911"}, 1))
	c := newTestClient(t, Config{NameServers: []string{ns.Addr()}, RouteInterval: 20 * time.Millisecond})
	if _, err := c.Route(context.Background(), "T"); err != nil {
		t.Fatal(err)
	}
	c.Start()
	c.Start() // idempotent
	testutil.WaitFor(t, 5*time.Second, func() bool { return len(ns.Requests(remoting.GetRouteInfoByTopic)) >= 3 }, "route refreshes")
	c.Shutdown()
	c.Shutdown() // idempotent
	if !c.Closed() {
		t.Fatal("Closed() = false after Shutdown")
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("Done not closed after Shutdown")
	}
	n := len(ns.Requests(remoting.GetRouteInfoByTopic))
	time.Sleep(100 * time.Millisecond)
	if m := len(ns.Requests(remoting.GetRouteInfoByTopic)); m != n {
		t.Fatalf("routes refreshed after Shutdown: %d -> %d", n, m)
	}
}

func setRoute(t *testing.T, c *Client, ns *testutil.FakeServer, topic, body string) {
	t.Helper()
	ns.Handle(remoting.GetRouteInfoByTopic, remoting.Success, "", body)
	if _, err := c.UpdateRoute(context.Background(), topic); err != nil {
		t.Fatalf("UpdateRoute(%s): %v", topic, err)
	}
}

func TestFindBrokerAddr(t *testing.T) {
	ns := testutil.NewFakeServer(t)
	c := newTestClient(t, Config{NameServers: []string{ns.Addr()}})
	setRoute(t, c, ns, "T", `{"queueDatas":[],"brokerDatas":[`+
		`{"cluster":"c","brokerName":"b1","brokerAddrs":{"0":"m1:1","1":"s1:1"}},`+
		`{"cluster":"c","brokerName":"b2","brokerAddrs":{"2":"s2:2","1":"s2:1"}},`+
		`{"cluster":"c","brokerName":"b3","brokerAddrs":{}}]}`)
	cases := []struct {
		name  string
		id    int64
		addr  string
		slave bool
	}{
		{"b1", 0, "m1:1", false},
		{"b1", 1, "s1:1", true},
		{"b1", 7, "m1:1", false}, // unknown id: the master
		{"b2", 0, "s2:1", true},  // no master: the lowest slave id
		{"b2", 2, "s2:2", true},
		{"b2", 9, "s2:1", true},
		{"b3", 0, "", false},
		{"unknown", 0, "", false},
	}
	for _, k := range cases {
		if a, s := c.FindBrokerAddr(k.name, k.id); a != k.addr || s != k.slave {
			t.Errorf("FindBrokerAddr(%s, %d) = %q, %v; want %q, %v", k.name, k.id, a, s, k.addr, k.slave)
		}
	}
	if c.MasterAddr("b1") != "m1:1" || c.MasterAddr("b2") != "" || c.BrokerAddr("b2", 2) != "s2:2" || c.BrokerAddr("x", 0) != "" {
		t.Error("MasterAddr / BrokerAddr")
	}
	if got := c.BrokerAddrs(true); !slices.Equal(got, []string{"m1:1"}) {
		t.Errorf("BrokerAddrs(masters) = %v", got)
	}
	if got := c.BrokerAddrs(false); !slices.Equal(got, []string{"m1:1", "s1:1", "s2:1", "s2:2"}) {
		t.Errorf("BrokerAddrs(all) = %v", got)
	}
	ctx := context.Background()
	if a, err := c.AnyBrokerAddr(ctx, "T"); err != nil || a != "m1:1" {
		t.Errorf("AnyBrokerAddr = %q, %v; want the master of b1", a, err)
	}
	// A newer route of another topic replaces what is known of a broker name.
	setRoute(t, c, ns, "U", `{"queueDatas":[],"brokerDatas":[{"cluster":"c","brokerName":"b1","brokerAddrs":{"1":"s1:1"}}]}`)
	if a, s := c.FindBrokerAddr("b1", 0); a != "s1:1" || !s {
		t.Errorf("b1 without its master: FindBrokerAddr = %q, %v", a, s)
	}
	if a, err := c.AnyBrokerAddr(ctx, "U"); err != nil || a != "s1:1" {
		t.Errorf("AnyBrokerAddr without masters = %q, %v; want the slave", a, err)
	}
	setRoute(t, c, ns, "V", `{"queueDatas":[],"brokerDatas":[{"cluster":"c","brokerName":"b3","brokerAddrs":{}}]}`)
	if _, err := c.AnyBrokerAddr(ctx, "V"); !errors.Is(err, client.ErrConnect) {
		t.Errorf("AnyBrokerAddr with no address = %v, want ErrConnect", err)
	}
}

func heartbeatRoute(master, slave string) string {
	return routeJSON(map[int64]string{0: master, 1: slave}, 1)
}

func TestSendHeartbeat(t *testing.T) {
	master := testutil.NewFakeServer(t)
	slave := testutil.NewFakeServer(t)
	for _, b := range []*testutil.FakeServer{master, slave} {
		b.Handle(remoting.HeartBeat, remoting.Success, "", "")
	}
	ns := testutil.NewFakeServer(t)
	c := newTestClient(t, Config{NameServers: []string{ns.Addr()}, InstanceName: "hb"})
	ctx := context.Background()
	if n := c.SendHeartbeat(ctx); n != 0 {
		t.Fatalf("SendHeartbeat without SetHeartbeat = %d", n)
	}
	setRoute(t, c, ns, "T", heartbeatRoute(master.Addr(), slave.Addr()))

	// Producers only: masters only.
	c.SetHeartbeat(func() *HeartbeatData {
		return &HeartbeatData{ClientID: "overwritten", ProducerDataSet: []ProducerData{{GroupName: "pg"}}}
	})
	if n := c.SendHeartbeat(ctx); n != 1 {
		t.Fatalf("producer heartbeat accepted by %d brokers, want 1", n)
	}
	if len(slave.Requests(remoting.HeartBeat)) != 0 {
		t.Fatal("a producer-only heartbeat went to a slave")
	}
	reqs := master.Requests(remoting.HeartBeat)
	if len(reqs) != 1 {
		t.Fatalf("master got %d heartbeats", len(reqs))
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(reqs[0].Body, &raw); err != nil {
		t.Fatalf("heartbeat body %q: %v", reqs[0].Body, err)
	}
	if string(raw["consumerDataSet"]) != "[]" {
		t.Fatalf("consumerDataSet = %s, want [] (Java brokers reject null)", raw["consumerDataSet"])
	}
	var hb HeartbeatData
	if err := json.Unmarshal(reqs[0].Body, &hb); err != nil {
		t.Fatal(err)
	}
	if hb.ClientID != c.ClientID() || len(hb.ProducerDataSet) != 1 || hb.ProducerDataSet[0].GroupName != "pg" {
		t.Fatalf("heartbeat = %+v, want clientID %q and group pg", hb, c.ClientID())
	}

	// With a consumer: slaves too.
	c.SetHeartbeat(func() *HeartbeatData {
		return &HeartbeatData{ConsumerDataSet: []ConsumerData{{GroupName: "cg", ConsumeType: "CONSUME_PASSIVELY",
			MessageModel: "CLUSTERING", ConsumeFromWhere: "CONSUME_FROM_LAST_OFFSET",
			SubscriptionDataSet: []SubscriptionData{{Topic: "T", SubString: "*", TagsSet: []string{}, CodeSet: []int64{}, ExpressionType: "TAG"}}}}}
	})
	if n := c.SendHeartbeat(ctx); n != 2 {
		t.Fatalf("consumer heartbeat accepted by %d brokers, want 2", n)
	}
	sreqs := slave.Requests(remoting.HeartBeat)
	if len(sreqs) != 1 {
		t.Fatalf("slave got %d heartbeats", len(sreqs))
	}
	hb = HeartbeatData{}
	if err := json.Unmarshal(sreqs[0].Body, &hb); err != nil {
		t.Fatal(err)
	}
	if hb.ClientID != c.ClientID() || len(hb.ConsumerDataSet) != 1 || hb.ConsumerDataSet[0].GroupName != "cg" ||
		hb.ProducerDataSet == nil || hb.ConsumerDataSet[0].SubscriptionDataSet[0].Topic != "T" {
		t.Fatalf("consumer heartbeat = %+v", hb)
	}

	// A broker answering an error does not count.
	slave.Handle(remoting.HeartBeat, remoting.SystemError, "no", "")
	if n := c.SendHeartbeat(ctx); n != 1 {
		t.Fatalf("heartbeat with one refusing broker accepted by %d, want 1", n)
	}
}

func TestKickHeartbeat(t *testing.T) {
	broker := testutil.NewFakeServer(t)
	broker.Handle(remoting.HeartBeat, remoting.Success, "", "")
	ns := testutil.NewFakeServer(t)
	c := newTestClient(t, Config{NameServers: []string{ns.Addr()}, HeartbeatInterval: time.Hour})
	setRoute(t, c, ns, "T", routeJSON(map[int64]string{0: broker.Addr()}, 1))
	c.SetHeartbeat(func() *HeartbeatData { return &HeartbeatData{ProducerDataSet: []ProducerData{{GroupName: "pg"}}} })
	c.Start()
	c.KickHeartbeat()
	c.KickHeartbeat() // coalesced or not, never blocks
	testutil.WaitFor(t, 5*time.Second, func() bool { return len(broker.Requests(remoting.HeartBeat)) >= 1 }, "a kicked heartbeat")
}

func TestUnregister(t *testing.T) {
	broker := testutil.NewFakeServer(t)
	broker.Handle(remoting.UnregisterClient, remoting.Success, "", "")
	ns := testutil.NewFakeServer(t)
	c := newTestClient(t, Config{NameServers: []string{ns.Addr()}})
	setRoute(t, c, ns, "T", routeJSON(map[int64]string{0: broker.Addr()}, 1))
	c.Unregister(context.Background(), "pg", "")
	reqs := broker.Requests(remoting.UnregisterClient)
	if len(reqs) != 1 {
		t.Fatalf("broker got %d unregister requests", len(reqs))
	}
	ext := reqs[0].ExtFields
	if ext["clientID"] != c.ClientID() || ext["producerGroup"] != "pg" {
		t.Fatalf("unregister ext = %v", ext)
	}
	if _, ok := ext["consumerGroup"]; ok {
		t.Fatalf("unregister named an empty consumer group: %v", ext)
	}
}

func TestInvokeTranslatesTransportErrors(t *testing.T) {
	silent := testutil.NewFakeServer(t)
	c := newTestClient(t, Config{Name: "consumer", NameServers: []string{"127.0.0.1:1"}, Timeout: 150 * time.Millisecond})
	ctx := context.Background()

	// The context has no deadline: only the 150 ms default can end the call (the watchdog is
	// generous; it only keeps a broken default from hanging the test).
	done := make(chan error, 1)
	go func() {
		_, err := c.Invoke(ctx, silent.Addr(), remoting.NewRequest(remoting.GetMaxOffset, nil, nil))
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Invoke without a context deadline to a silent server did not return: the default timeout was not applied")
	}
	if !errors.Is(err, client.ErrTimeout) || !IsTransport(err) {
		t.Fatalf("Invoke to a silent server = %v, want ErrTimeout", err)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "consumer: ") || !strings.Contains(msg, silent.Addr()) ||
		!strings.Contains(msg, fmt.Sprint(remoting.GetMaxOffset)) {
		t.Fatalf("timeout error %q does not name the address and request code", msg)
	}

	// A deadline in the context wins over the default.
	c2 := newTestClient(t, Config{NameServers: []string{"127.0.0.1:1"}, Timeout: time.Hour})
	dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := c2.Invoke(dctx, silent.Addr(), remoting.NewRequest(remoting.GetMaxOffset, nil, nil)); !errors.Is(err, client.ErrTimeout) {
		t.Fatalf("Invoke with a context deadline = %v, want ErrTimeout", err)
	}

	dead := testutil.DeadAddr(t)
	_, err = c.Invoke(ctx, dead, remoting.NewRequest(remoting.GetMaxOffset, nil, nil))
	if !errors.Is(err, client.ErrConnect) || !IsTransport(err) || !strings.Contains(err.Error(), dead) {
		t.Fatalf("Invoke to a dead address = %v, want ErrConnect naming %s", err, dead)
	}
	if err := c.InvokeOneway(ctx, dead, remoting.NewRequest(remoting.GetMaxOffset, nil, nil)); !errors.Is(err, client.ErrConnect) {
		t.Fatalf("InvokeOneway to a dead address = %v, want ErrConnect", err)
	}

	// An answer with an error code is not a transport error; Check turns it into a BrokerError.
	busy := testutil.NewFakeServer(t)
	busy.Handle(remoting.SendMessageV2, remoting.SystemBusy, "[PCBUSY] too many requests", "")
	resp, err := c.Invoke(ctx, busy.Addr(), remoting.NewRequest(remoting.SendMessageV2, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	err = Check(resp, busy.Addr(), remoting.SendMessageV2)
	var be *client.BrokerError
	if !errors.As(err, &be) || !errors.Is(err, client.ErrBrokerBusy) || IsTransport(err) || be.Remark != "[PCBUSY] too many requests" {
		t.Fatalf("Check = %v", err)
	}
	ok := remoting.NewResponse(remoting.NewRequest(1, nil, nil), remoting.Success, "")
	if err := Check(ok, "x", 1); err != nil {
		t.Fatalf("Check(success) = %v", err)
	}

	// After Shutdown the client refuses calls.
	c.Shutdown()
	_, err = c.Invoke(ctx, busy.Addr(), remoting.NewRequest(remoting.SendMessageV2, nil, nil))
	if !errors.Is(err, client.ErrClosed) || IsTransport(err) {
		t.Fatalf("Invoke after Shutdown = %v, want ErrClosed", err)
	}
}

func TestInvokeAsync(t *testing.T) {
	srv := testutil.NewFakeServer(t)
	srv.Handle(remoting.GetMaxOffset, remoting.Success, "", "")
	c := newTestClient(t, Config{NameServers: []string{"127.0.0.1:1"}, Timeout: 200 * time.Millisecond})
	type result struct {
		resp *remoting.Command
		err  error
	}
	call := func(addr string, code int32) result {
		ch := make(chan result, 2)
		err := c.InvokeAsync(context.Background(), addr, remoting.NewRequest(code, nil, nil), func(r *remoting.Command, err error) {
			ch <- result{r, err}
		})
		if err != nil {
			return result{nil, err}
		}
		select {
		case r := <-ch:
			return r
		case <-time.After(5 * time.Second):
			t.Fatal("InvokeAsync callback never called")
		}
		return result{}
	}
	if r := call(srv.Addr(), remoting.GetMaxOffset); r.err != nil || r.resp.Code != remoting.Success {
		t.Fatalf("InvokeAsync = %+v", r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	ch := make(chan error, 1)
	if err := c.InvokeAsync(ctx, srv.Addr(), remoting.NewRequest(remoting.GetMinOffset, nil, nil), func(_ *remoting.Command, err error) { ch <- err }); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-ch:
		if !errors.Is(err, client.ErrTimeout) {
			t.Fatalf("unanswered InvokeAsync = %v, want ErrTimeout", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("unanswered InvokeAsync never called back")
	}
	if r := call(testutil.DeadAddr(t), remoting.GetMaxOffset); !errors.Is(r.err, client.ErrConnect) {
		t.Fatalf("InvokeAsync to a dead address = %v, want ErrConnect", r.err)
	}
}
