package namesrv

import (
	"encoding/json"
	"hash/crc32"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/protocol"
	"github.com/skiffmq/skiff/namesrv/routeinfo"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// tLogHandler sends log lines to t.Log so a failing test shows its own logs.
type tLogWriter struct{ t testing.TB }

func (w tLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func newTestServer(t *testing.T, mutate func(*Config)) (*Server, *testClock) {
	t.Helper()
	clk := &testClock{t: time.UnixMilli(1_700_000_000_000)}
	cfg := DefaultConfig()
	cfg.KvConfigPath = filepath.Join(t.TempDir(), "kvConfig.json")
	cfg.ListenPort = 0
	cfg.BindAddress = "127.0.0.1"
	cfg.Now = clk.Now
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	return s, clk
}

func req(code int32, ext map[string]string, body []byte) *request {
	if ext == nil {
		ext = map[string]string{}
	}
	return &request{Code: code, Version: 317, ExtFields: ext, Body: body}
}

func registerBody(dv int64, topics ...string) []byte {
	table := map[string]routeinfo.TopicConfig{}
	for _, tp := range topics {
		table[tp] = routeinfo.TopicConfig{TopicName: tp, ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6, TopicFilterType: "SINGLE_TAG"}
	}
	return protocol.EncodeRegisterBody(routeinfo.RegisterBrokerBody{TopicConfigSerializeWrapper: routeinfo.TopicConfigSerializeWrapper{
		DataVersion: routeinfo.DataVersion{Counter: dv, Timestamp: 1}, TopicConfigTable: table}})
}

func registerReq(name, addr string, id int64, body []byte) *request {
	return req(protocol.RegisterBroker, map[string]string{
		"brokerName": name, "brokerAddr": addr, "clusterName": "DefaultCluster",
		"haServerAddr": addr + "2", "brokerId": strconv.FormatInt(id, 10),
		"bodyCrc32": strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)&0x7FFFFFFF), 10),
	}, body)
}

func mustCode(t *testing.T, resp *response, code int32) *response {
	t.Helper()
	if resp == nil {
		t.Fatal("nil response")
	}
	if resp.Code != code {
		t.Fatalf("code %d (remark %q), want %d", resp.Code, resp.Remark, code)
	}
	return resp
}

func TestNamesrvProcessRegisterAndRoute(t *testing.T) {
	s, _ := newTestServer(t, nil)
	r := registerReq("broker-a", "127.0.0.1:10911", 0, registerBody(1, "TopicTest"))
	resp := mustCode(t, s.process("c1", r), protocol.Success)
	if resp.ExtFields["masterAddr"] != "" {
		t.Fatalf("master response %+v", resp)
	}
	resp = mustCode(t, s.process("c2", registerReq("broker-a", "127.0.0.1:20911", 1, registerBody(1))), protocol.Success)
	if resp.ExtFields["masterAddr"] != "127.0.0.1:10911" || resp.ExtFields["haServerAddr"] != "127.0.0.1:109112" {
		t.Fatalf("slave response ext %v", resp.ExtFields)
	}

	resp = mustCode(t, s.process("", req(protocol.GetRouteInfoByTopic, map[string]string{"topic": "TopicTest"}, nil)), protocol.Success)
	want := `{"brokerDatas":[{"brokerAddrs":{0:"127.0.0.1:10911",1:"127.0.0.1:20911"},"brokerName":"broker-a","cluster":"DefaultCluster"}],` +
		`"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}`
	if string(resp.Body) != want {
		t.Fatalf("route body\n%s\nwant\n%s", resp.Body, want)
	}
	// V4_9_4 and later, or acceptStandardJsonOnly, get standard JSON.
	r = req(protocol.GetRouteInfoByTopic, map[string]string{"topic": "TopicTest"}, nil)
	r.Version = 409
	if resp = mustCode(t, s.process("", r), protocol.Success); !json.Valid(resp.Body) {
		t.Fatalf("version 409 got %s", resp.Body)
	}
	r = req(protocol.GetRouteInfoByTopic, map[string]string{"topic": "TopicTest", "acceptStandardJsonOnly": "true"}, nil)
	if resp = mustCode(t, s.process("", r), protocol.Success); !json.Valid(resp.Body) {
		t.Fatalf("acceptStandardJsonOnly got %s", resp.Body)
	}

	resp = mustCode(t, s.process("", req(protocol.GetRouteInfoByTopic, map[string]string{"topic": "Nope"}, nil)), protocol.TopicNotExist)
	if resp.Remark != "No topic route info in name server for the topic: Nope" {
		t.Fatalf("remark %q", resp.Remark)
	}
	mustCode(t, s.process("", req(protocol.GetRouteInfoByTopic, nil, nil)), protocol.SystemError)
}

func TestNamesrvProcessRegisterChecksCRCAndBody(t *testing.T) {
	s, _ := newTestServer(t, nil)
	r := registerReq("broker-a", "a:1", 0, registerBody(1, "T"))
	r.ExtFields["bodyCrc32"] = "12345"
	if resp := mustCode(t, s.process("", r), protocol.SystemError); resp.Remark != "crc32 not match" {
		t.Fatalf("remark %q", resp.Remark)
	}
	r = registerReq("broker-a", "a:1", 0, []byte("{garbage"))
	mustCode(t, s.process("", r), protocol.SystemError)
	r = registerReq("broker-a", "a:1", 0, registerBody(1, "T"))
	delete(r.ExtFields, "haServerAddr")
	if resp := mustCode(t, s.process("", r), protocol.SystemError); !strings.Contains(resp.Remark, "haServerAddr") {
		t.Fatalf("remark %q", resp.Remark)
	}
	// bodyCrc32 = 0 means "don't check"; fastjson and compressed bodies are accepted.
	body := []byte(`{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{"counter":1,"timestamp":2},"topicConfigTable":{"J":{"order":false,"perm":6,"readQueueNums":2,"topicFilterType":"SINGLE_TAG","topicName":"J","topicSysFlag":0,"writeQueueNums":2}}}}`)
	r = registerReq("broker-j", "j:1", 0, body)
	r.ExtFields["bodyCrc32"] = "0"
	mustCode(t, s.process("", r), protocol.Success)
	cbody := protocol.EncodeCompressedRegisterBody(routeinfo.RegisterBrokerBody{TopicConfigSerializeWrapper: routeinfo.TopicConfigSerializeWrapper{
		TopicConfigTable: map[string]routeinfo.TopicConfig{"Z": {TopicName: "Z", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6, TopicFilterType: "SINGLE_TAG"}}}})
	r = registerReq("broker-z", "z:1", 0, cbody)
	r.ExtFields["compressed"] = "true"
	mustCode(t, s.process("", r), protocol.Success)
	for _, topic := range []string{"J", "Z"} {
		mustCode(t, s.process("", req(protocol.GetRouteInfoByTopic, map[string]string{"topic": topic}, nil)), protocol.Success)
	}
}

func TestNamesrvProcessUnregisterAndConnClose(t *testing.T) {
	s, _ := newTestServer(t, nil)
	mustCode(t, s.process("conn-a", registerReq("broker-a", "a:1", 0, registerBody(1, "T"))), protocol.Success)
	mustCode(t, s.process("conn-b", registerReq("broker-b", "b:1", 0, registerBody(1, "T"))), protocol.Success)
	mustCode(t, s.process("", req(protocol.UnregisterBroker, map[string]string{
		"brokerName": "broker-a", "brokerAddr": "a:1", "clusterName": "DefaultCluster", "brokerId": "0"}, nil)), protocol.Success)
	route, ok := s.table.TopicRoute("T")
	if !ok || len(route.BrokerDatas) != 1 || route.BrokerDatas[0].BrokerName != "broker-b" {
		t.Fatalf("route after unregister %+v", route)
	}
	if removed := s.table.ConnClosed("conn-b"); len(removed) != 1 {
		t.Fatalf("conn close removed %+v", removed)
	}
	mustCode(t, s.process("", req(protocol.GetRouteInfoByTopic, map[string]string{"topic": "T"}, nil)), protocol.TopicNotExist)
}

func TestNamesrvProcessExpiryScan(t *testing.T) {
	s, clk := newTestServer(t, func(c *Config) { c.BrokerChannelExpiredTime = 1000 })
	mustCode(t, s.process("c", registerReq("broker-a", "a:1", 0, registerBody(1, "T"))), protocol.Success)
	clk.Advance(900 * time.Millisecond)
	s.scanNotActive()
	mustCode(t, s.process("", req(protocol.GetRouteInfoByTopic, map[string]string{"topic": "T"}, nil)), protocol.Success)
	clk.Advance(200 * time.Millisecond)
	s.scanNotActive()
	mustCode(t, s.process("", req(protocol.GetRouteInfoByTopic, map[string]string{"topic": "T"}, nil)), protocol.TopicNotExist)
}

func TestNamesrvProcessClusterAndTopicLists(t *testing.T) {
	s, _ := newTestServer(t, nil)
	mustCode(t, s.process("", registerReq("broker-a", "a:1", 0, registerBody(1, "T1", "T2"))), protocol.Success)
	resp := mustCode(t, s.process("", req(protocol.GetBrokerClusterInfo, nil, nil)), protocol.Success)
	want := `{"brokerAddrTable":{"broker-a":{"brokerAddrs":{0:"a:1"},"brokerName":"broker-a","cluster":"DefaultCluster"}},"clusterAddrTable":{"DefaultCluster":["broker-a"]}}`
	if string(resp.Body) != want {
		t.Fatalf("cluster info %s", resp.Body)
	}
	resp = mustCode(t, s.process("", req(protocol.GetAllTopicListFromNameServer, nil, nil)), protocol.Success)
	if string(resp.Body) != `{"topicList":["T1","T2"]}` {
		t.Fatalf("topic list %s", resp.Body)
	}
	resp = mustCode(t, s.process("", req(protocol.GetTopicsByCluster, map[string]string{"cluster": "DefaultCluster"}, nil)), protocol.Success)
	if string(resp.Body) != `{"topicList":["T1","T2"]}` {
		t.Fatalf("topics by cluster %s", resp.Body)
	}
	resp = mustCode(t, s.process("", req(protocol.GetTopicsByCluster, map[string]string{"cluster": "Other"}, nil)), protocol.Success)
	if string(resp.Body) != `{"topicList":[]}` {
		t.Fatalf("topics by unknown cluster %s", resp.Body)
	}
	resp = mustCode(t, s.process("", req(protocol.GetSystemTopicListFromNS, nil, nil)), protocol.Success)
	if string(resp.Body) != `{"brokerAddr":"a:1","topicList":["DefaultCluster","broker-a"]}` {
		t.Fatalf("system topics %s", resp.Body)
	}

	mustCode(t, s.process("", req(protocol.DeleteTopicInNamesrv, map[string]string{"topic": "T1", "clusterName": "DefaultCluster"}, nil)), protocol.Success)
	mustCode(t, s.process("", req(protocol.DeleteTopicInNamesrv, map[string]string{"topic": "T2"}, nil)), protocol.Success)
	resp = mustCode(t, s.process("", req(protocol.GetAllTopicListFromNameServer, nil, nil)), protocol.Success)
	if string(resp.Body) != `{"topicList":[]}` {
		t.Fatalf("after delete %s", resp.Body)
	}
}

func TestNamesrvProcessWritePerm(t *testing.T) {
	s, _ := newTestServer(t, nil)
	mustCode(t, s.process("", registerReq("broker-a", "a:1", 0, registerBody(1, "T1", "T2"))), protocol.Success)
	resp := mustCode(t, s.process("", req(protocol.WipeWritePermOfBroker, map[string]string{"brokerName": "broker-a"}, nil)), protocol.Success)
	if resp.ExtFields["wipeTopicCount"] != "2" {
		t.Fatalf("ext %v", resp.ExtFields)
	}
	route, _ := s.table.TopicRoute("T1")
	if route.QueueDatas[0].Perm != routeinfo.PermRead {
		t.Fatalf("perm %d", route.QueueDatas[0].Perm)
	}
	resp = mustCode(t, s.process("", req(protocol.AddWritePermOfBroker, map[string]string{"brokerName": "broker-a"}, nil)), protocol.Success)
	if resp.ExtFields["addTopicCount"] != "2" {
		t.Fatalf("ext %v", resp.ExtFields)
	}
	route, _ = s.table.TopicRoute("T1")
	if route.QueueDatas[0].Perm != 6 {
		t.Fatalf("perm %d", route.QueueDatas[0].Perm)
	}
}

func TestNamesrvProcessKVConfig(t *testing.T) {
	s, _ := newTestServer(t, func(c *Config) { c.OrderMessageEnable = true })
	ns := NamespaceOrderTopicConfig
	mustCode(t, s.process("", req(protocol.GetKVConfig, map[string]string{"namespace": ns, "key": "T"}, nil)), protocol.QueryNotFound)
	mustCode(t, s.process("", req(protocol.GetKVListByNamespace, map[string]string{"namespace": ns}, nil)), protocol.QueryNotFound)
	mustCode(t, s.process("", req(protocol.PutKVConfig, map[string]string{"namespace": ns, "key": "T"}, nil)), protocol.SystemError)
	mustCode(t, s.process("", req(protocol.PutKVConfig, map[string]string{"namespace": ns, "key": "T", "value": "broker-a:4"}, nil)), protocol.Success)
	resp := mustCode(t, s.process("", req(protocol.GetKVConfig, map[string]string{"namespace": ns, "key": "T"}, nil)), protocol.Success)
	if resp.ExtFields["value"] != "broker-a:4" {
		t.Fatalf("value %v", resp.ExtFields)
	}
	resp = mustCode(t, s.process("", req(protocol.GetKVListByNamespace, map[string]string{"namespace": ns}, nil)), protocol.Success)
	if string(resp.Body) != `{"table":{"T":"broker-a:4"}}` {
		t.Fatalf("kv list %s", resp.Body)
	}
	// orderMessageEnable puts the order config into the route, and registration returns the table.
	resp = mustCode(t, s.process("", registerReq("broker-a", "a:1", 0, registerBody(1, "T"))), protocol.Success)
	if string(resp.Body) != `{"table":{"T":"broker-a:4"}}` {
		t.Fatalf("register body %s", resp.Body)
	}
	resp = mustCode(t, s.process("", req(protocol.GetRouteInfoByTopic, map[string]string{"topic": "T"}, nil)), protocol.Success)
	if !strings.Contains(string(resp.Body), `"orderTopicConf":"broker-a:4"`) {
		t.Fatalf("route %s", resp.Body)
	}
	// Persisted: a new server over the same file sees it.
	s2, err := New(s.cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustCode(t, s2.process("", req(protocol.GetKVConfig, map[string]string{"namespace": ns, "key": "T"}, nil)), protocol.Success)
	mustCode(t, s.process("", req(protocol.DeleteKVConfig, map[string]string{"namespace": ns, "key": "T"}, nil)), protocol.Success)
	mustCode(t, s.process("", req(protocol.GetKVConfig, map[string]string{"namespace": ns, "key": "T"}, nil)), protocol.QueryNotFound)
}

func TestNamesrvProcessQueryDataVersion(t *testing.T) {
	s, _ := newTestServer(t, nil)
	q := func(counter int64) *request {
		body, _ := json.Marshal(routeinfo.DataVersion{Counter: counter, Timestamp: 1})
		return req(protocol.QueryDataVersion, map[string]string{"brokerName": "broker-a", "brokerAddr": "a:1", "clusterName": "DefaultCluster", "brokerId": "0"}, body)
	}
	resp := mustCode(t, s.process("", q(1)), protocol.Success)
	if resp.ExtFields["changed"] != "true" || len(resp.Body) != 0 {
		t.Fatalf("unknown broker %v %s", resp.ExtFields, resp.Body)
	}
	mustCode(t, s.process("", registerReq("broker-a", "a:1", 0, registerBody(1, "T"))), protocol.Success)
	resp = mustCode(t, s.process("", q(1)), protocol.Success)
	if resp.ExtFields["changed"] != "false" || string(resp.Body) != `{"counter":1,"timestamp":1}` {
		t.Fatalf("same version %v %s", resp.ExtFields, resp.Body)
	}
	if resp = mustCode(t, s.process("", q(2)), protocol.Success); resp.ExtFields["changed"] != "true" {
		t.Fatalf("new version %v", resp.ExtFields)
	}
}

func TestNamesrvProcessConfigUpdate(t *testing.T) {
	s, _ := newTestServer(t, nil)
	resp := mustCode(t, s.process("", req(protocol.GetNamesrvConfig, nil, nil)), protocol.Success)
	if !strings.Contains(string(resp.Body), "orderMessageEnable=false\n") || !strings.Contains(string(resp.Body), "listenPort=0\n") {
		t.Fatalf("config %s", resp.Body)
	}
	mustCode(t, s.process("", req(protocol.UpdateNamesrvConfig, nil, []byte("orderMessageEnable=true\nbrokerChannelExpiredTime=5000\n"))), protocol.Success)
	if !s.orderMessageEnable.Load() || s.expiredTime.Load() != 5000 {
		t.Fatal("update not applied")
	}
	mustCode(t, s.process("", req(protocol.UpdateNamesrvConfig, nil, []byte("kvConfigPath=/tmp/x\n"))), protocol.NoPermission)
	resp = mustCode(t, s.process("", req(protocol.UpdateNamesrvConfig, nil, []byte("orderMessageEnable=false\nlistenPort=1\n"))), protocol.SystemError)
	if !strings.Contains(resp.Remark, "listenPort") || !s.orderMessageEnable.Load() {
		t.Fatalf("partial update applied or remark %q", resp.Remark)
	}
	resp = mustCode(t, s.process("", req(protocol.UpdateNamesrvConfig, nil, []byte("noSuchKey=1\n"))), protocol.SystemError)
	if !strings.Contains(resp.Remark, "noSuchKey") {
		t.Fatalf("remark %q", resp.Remark)
	}
}
